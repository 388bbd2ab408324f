/* SPDX-License-Identifier: MIT */
#include "smartos/command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/dynbuf.h"

#define DEFAULT_MAX_STDOUT (1u << 20)
#define READ_CHUNK (128u * 1024)
#define POLL_MS 100             /* how often cancellation is looked at while a command runs */
#define TERM_GRACE_MS 5000      /* after SIGTERM, before SIGKILL */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Keeps every descriptor of ours above 2: the child's dup2() onto 0..2 must
 * never overwrite one of the others (possible when the embedding program
 * runs with a standard descriptor closed). */
static int above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int saved = errno;
	close(fd);
	errno = saved;
	return moved;
}

static int cloexec_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	p[0] = above_stdio(p[0]);
	p[1] = above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		int e = errno;
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		return -e;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static bool shell_plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%", *s))
			return false;
	return true;
}

/* Appends s to buf[*n..len); false once it does not fit. */
static bool put(char *buf, size_t len, size_t *n, const char *s, size_t slen)
{
	if (slen >= len - *n)
		return false;
	memcpy(buf + *n, s, slen);
	*n += slen;
	buf[*n] = '\0';
	return true;
}

void command_format(const char *const *argv, char *buf, size_t len)
{
	if (!len)
		return;
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; argv[i]; i++) {
		bool ok = !i || put(buf, len, &n, " ", 1);
		if (shell_plain(argv[i])) {
			ok = ok && put(buf, len, &n, argv[i], strlen(argv[i]));
		} else {
			ok = ok && put(buf, len, &n, "'", 1);
			for (const char *p = argv[i]; ok && *p; p++)
				ok = *p == '\'' ? put(buf, len, &n, "'\\''", 4) : put(buf, len, &n, p, 1);
			ok = ok && put(buf, len, &n, "'", 1);
		}
		if (!ok) {
			if (len >= 4)
				memcpy(buf + (n + 4 <= len ? n : len - 4), "...", 4);
			return;
		}
	}
}

bool command_on_path(const char *name)
{
	if (!name || !*name || strchr(name, '/'))
		return false;
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	size_t nlen = strlen(name);
	for (const char *p = path;;) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		/* An empty PATH entry means the current directory, as execvp reads it. */
		char *full = malloc(dlen + nlen + 3);
		if (!full)
			return false;
		if (dlen)
			memcpy(full, p, dlen);
		else
			full[dlen++] = '.';
		full[dlen] = '/';
		memcpy(full + dlen + 1, name, nlen + 1);
		struct stat st;
		bool found = stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0;
		free(full);
		if (found)
			return true;
		if (!end)
			return false;
		p = end + 1;
	}
}

/* In the child, between fork and exec: async-signal-safe calls only (the
 * parent may have other threads holding malloc or stdio locks). */
__attribute__((noreturn)) static void child_exec(const char *const *argv, int in_fd, int out_fd, int err_fd,
                                                 int report_fd)
{
	setpgid(0, 0);
	/* A command must not inherit the CLI's ignored SIGPIPE or the signal
	 * handlers' mask: it would survive a closed pipe or our SIGTERM. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	const int sigs[] = { SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		goto fail;
#ifdef CLOSE_RANGE_CLOEXEC
	/* Descriptors other threads opened without O_CLOEXEC stay out of the
	 * command too. Best effort: older kernels lack close_range. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
	execvp(argv[0], (char *const *)argv);
fail:;
	int e = errno;
	ssize_t w = write(report_fd, &e, sizeof(e));
	(void)w;
	_exit(127);
}

/* Waits for pid; when `cancellable`, gives up waiting once ctx is cancelled
 * (returns 1, the child still running). 0 with *status, or -errno. */
static int wait_child(imgfetch_ctx *ctx, pid_t pid, bool cancellable, int *status)
{
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (cancellable && ifx_cancelled(ctx))
			return 1;
		sleep_ms(20);
	}
}

/* SIGTERM to the command's process group, SIGKILL after the grace period,
 * and the child reaped: nothing of it is left running when this returns. */
static void terminate(pid_t pid, int *status)
{
	kill(-pid, SIGTERM);
	uint64_t deadline = now_ms() + TERM_GRACE_MS;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		sleep_ms(20);
	}
	/* Whatever else it started and left in its group. The group's ID cannot
	 * have been reused while the group still has members. */
	kill(-pid, SIGKILL);
}

static void keep_tail(command_result *r, size_t *len, const char *p, size_t n)
{
	const size_t cap = sizeof(r->err) - 1;
	size_t start = *len;
	if (n >= cap) {
		memcpy(r->err, p + n - cap, cap);
		*len = cap;
	} else {
		if (*len + n > cap) {
			size_t drop = *len + n - cap;
			memmove(r->err, r->err + drop, *len - drop);
			*len -= drop;
		}
		start = *len;
		memcpy(r->err + *len, p, n);
		*len += n;
	}
	if (n >= cap)
		start = 0;
	/* A NUL would end the message early. */
	for (size_t i = start; i < *len; i++)
		if (r->err[i] == '\0')
			r->err[i] = '?';
	r->err[*len] = '\0';
}

static void trim_tail(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/* stderr as one line for a message: newlines become "; ". */
static void one_line(const char *in, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = in; *p && o + 3 < len; p++) {
		if (*p == '\n') {
			if (p[1] == '\0' || p[1] == '\n')
				continue;
			out[o++] = ';';
			out[o++] = ' ';
		} else if (*p != '\r') {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

typedef struct run_state {
	int out_fd, err_fd;
	dynbuf captured;
	size_t err_len;
	int sink_error;            /* negative errno from the sink */
	int io_error;              /* negative errno from poll/read */
	bool cancelled;
} run_state;

/* Reads stdout and stderr until both end, the sink fails, or ctx is
 * cancelled. */
static void pump(imgfetch_ctx *ctx, const command_opts *o, command_result *r, run_state *s, char *buf)
{
	while (s->out_fd >= 0 || s->err_fd >= 0) {
		if (!o->uncancellable && ifx_cancelled(ctx)) {
			s->cancelled = true;
			return;
		}
		struct pollfd pfd[2] = { { .fd = s->out_fd, .events = POLLIN }, { .fd = s->err_fd, .events = POLLIN } };
		int n = poll(pfd, 2, POLL_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			s->io_error = -errno;
			return;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int *fd = i == 0 ? &s->out_fd : &s->err_fd;
			ssize_t got = read(*fd, buf, READ_CHUNK);
			if (got < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				s->io_error = -errno;
				return;
			}
			if (got == 0) {
				close_fd(fd);
				continue;
			}
			if (i == 1) {
				keep_tail(r, &s->err_len, buf, (size_t)got);
			} else if (o->sink) {
				int e = o->sink(o->sink_u, buf, (size_t)got);
				if (e < 0) {
					s->sink_error = e;
					return;
				}
			} else if (!r->stdout_truncated) {
				size_t room = s->captured.max - s->captured.len;
				size_t take = (size_t)got < room ? (size_t)got : room;
				if (take && dynbuf_append(&s->captured, buf, take) < 0) {
					s->io_error = -ENOMEM;
					return;
				}
				if (take < (size_t)got)
					r->stdout_truncated = true;
			}
		}
	}
}

imgfetch_status command_run(imgfetch_ctx *ctx, const char *const *argv, const command_opts *opts,
                            command_result *r)
{
	static const command_opts defaults = { 0 };
	const command_opts *o = opts ? opts : &defaults;
	*r = (command_result){ .exit_code = -1 };
	char cmdline[512];
	command_format(argv, cmdline, sizeof(cmdline));

	if (!o->uncancellable && ifx_cancelled(ctx))
		return ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled before running %s", cmdline);
	ifx_log(ctx, IMGFETCH_LOG_DEBUG, "running: %s", cmdline);

	int out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, rep_p[2] = { -1, -1 };
	int devnull = -1;
	char *buf = NULL;
	imgfetch_status st = IMGFETCH_OK;
	run_state s = { .out_fd = -1, .err_fd = -1 };
	dynbuf_init(&s.captured, o->max_stdout ? o->max_stdout : DEFAULT_MAX_STDOUT);

	int e = cloexec_pipe(out_p);
	if (!e)
		e = cloexec_pipe(err_p);
	if (!e)
		e = cloexec_pipe(rep_p);
	if (!e) {
		devnull = above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
		if (devnull < 0)
			e = -errno;
	}
	if (!e && !(buf = malloc(READ_CHUNK)))
		e = -ENOMEM;
	if (e) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot run %s: %s", cmdline, strerror(-e));
		goto out;
	}

	pid_t pid = fork();
	if (pid < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot run %s: fork: %s", cmdline, strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, devnull, out_p[1], err_p[1], rep_p[1]);
	/* Also here, so that a kill(-pid) right after fork() already finds the
	 * group; fails harmlessly once the child has exec'd. */
	setpgid(pid, pid);
	close_fd(&out_p[1]);
	close_fd(&err_p[1]);
	close_fd(&rep_p[1]);
	close_fd(&devnull);

	/* The report pipe closes on a successful exec (O_CLOEXEC), or carries
	 * execvp's errno. */
	int exec_errno = 0;
	ssize_t got;
	while ((got = read(rep_p[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
		;
	close_fd(&rep_p[0]);
	int status = 0;
	if (got == (ssize_t)sizeof(exec_errno)) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		st = ifx_fail(ctx, exec_errno == ENOENT || exec_errno == EACCES ? IMGFETCH_E_NOT_FOUND : IMGFETCH_E_FAILED,
		              "cannot run %s: %s%s", argv[0], strerror(exec_errno),
		              exec_errno == ENOENT ? " (not found on PATH)" : "");
		goto out;
	}

	s.out_fd = TAKE_FD(out_p[0]);
	s.err_fd = TAKE_FD(err_p[0]);
	pump(ctx, o, r, &s, buf);
	bool stop = s.cancelled || s.sink_error || s.io_error;
	if (!stop) {
		int w = wait_child(ctx, pid, !o->uncancellable, &status);
		if (w == 1)
			s.cancelled = stop = true;
		else if (w < 0)
			s.io_error = w;
	}
	/* Closed first, so that a command blocked writing to us gets EPIPE
	 * rather than waiting out the grace period. */
	close_fd(&s.out_fd);
	close_fd(&s.err_fd);
	if (stop)
		terminate(pid, &status);

	if (WIFEXITED(status))
		r->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		r->term_signal = WTERMSIG(status);
	trim_tail(r->err);
	char err1[1024];
	one_line(r->err, err1, sizeof(err1));

	if (s.cancelled) {
		st = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled while running %s (stopped it)", cmdline);
	} else if (s.sink_error) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "the output of %s could not be stored (%s); stopped it", cmdline,
		              strerror(-s.sink_error));
	} else if (s.io_error) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "lost track of %s: %s; stopped it", cmdline, strerror(-s.io_error));
	} else if (r->term_signal) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "%s was killed by signal %d (%s)%s%s", cmdline, r->term_signal,
		              strsignal(r->term_signal), *err1 ? ": " : "", err1);
	} else if (r->exit_code != 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "%s failed (exit status %d)%s%s", cmdline, r->exit_code,
		              *err1 ? ": " : "", *err1 ? err1 : " without saying why");
	}
	ifx_log(ctx, IMGFETCH_LOG_DEBUG, "%s: %s", cmdline,
	        st == IMGFETCH_OK ? "done" : imgfetch_ctx_error(ctx));

out:
	close_fd(&out_p[0]);
	close_fd(&out_p[1]);
	close_fd(&err_p[0]);
	close_fd(&err_p[1]);
	close_fd(&rep_p[0]);
	close_fd(&rep_p[1]);
	close_fd(&devnull);
	free(buf);
	r->out = dynbuf_take(&s.captured, &r->out_len);
	if (!r->out) {
		r->out = strdup("");
		r->out_len = 0;
		if (!r->out && st == IMGFETCH_OK)
			st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	}
	return st;
}

void command_result_free(command_result *r)
{
	if (!r)
		return;
	free(r->out);
	r->out = NULL;
	r->out_len = 0;
}
