/* SPDX-License-Identifier: MIT */
#include "oci/authfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

static void wipe_free(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		free(s);
	}
}

void oci_credentials_clear(oci_credentials *c)
{
	if (!c)
		return;
	wipe_free(c->username);
	wipe_free(c->password);
	c->username = c->password = NULL;
}

static int set_err(char *err, size_t errlen, int rc, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return rc;
}

/* ----------------------------------------------------------------- parsing */

/* The host[:port] a key names: "host[:port]" as is; "http(s)://host[:port][/...]"
 * without scheme and path. Keys naming a namespace ("host/ns") are not matched
 * (NULL). *out points into a static-sized buffer owned by the caller. */
static bool key_host(const char *key, char *out, size_t outlen)
{
	const char *p = key;
	bool scheme = false;
	if (strncasecmp(p, "https://", 8) == 0) {
		p += 8;
		scheme = true;
	} else if (strncasecmp(p, "http://", 7) == 0) {
		p += 7;
		scheme = true;
	}
	size_t n = strcspn(p, "/");
	if (p[n] == '/' && !scheme)
		return false;
	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static bool is_docker_hub(const char *h)
{
	return strcasecmp(h, "docker.io") == 0 || strcasecmp(h, "index.docker.io") == 0 ||
	       strcasecmp(h, "registry-1.docker.io") == 0;
}

static bool host_matches(const char *key, const char *registry)
{
	char h[512];
	if (!key_host(key, h, sizeof(h)))
		return false;
	if (strcasecmp(h, registry) == 0)
		return true;
	return is_docker_hub(registry) && is_docker_hub(h);
}

/* The member of obj for registry: the exact key first, else a key that names the same host. */
static json_t *lookup_host(json_t *obj, const char *registry)
{
	json_t *v = json_object_get(obj, registry);
	if (v)
		return v;
	const char *key;
	json_object_foreach (obj, key, v) {
		if (host_matches(key, registry))
			return v;
	}
	return NULL;
}

/* A JSON string without NUL bytes, or NULL. */
static const char *plain_string(json_t *v)
{
	if (!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	return strlen(s) == json_string_length(v) ? s : NULL;
}

static bool valid_helper_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > OCI_HELPER_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 (padding optional). NULL on error (*bad set) or OOM. */
static char *b64_decode(const char *in, size_t len, size_t *outlen, bool *bad)
{
	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1) {
		*bad = true;
		return NULL;
	}
	char *out = malloc(len / 4 * 3 + 3);
	if (!out)
		return NULL;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64val((unsigned char)in[i]);
		if (v < 0) {
			wipe(out, o);
			free(out);
			*bad = true;
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*outlen = o;
	acc = 0;
	return out;
}

static bool valid_username(const char *u)
{
	if (!u[0])
		return false;
	for (; *u; u++)
		if ((unsigned char)*u < 0x20 || *u == 0x7f || *u == ':')
			return false;
	return true;
}

static int set_creds(oci_credentials *creds, const char *user, size_t ulen, const char *pass, size_t plen)
{
	creds->username = strndup(user, ulen);
	creds->password = strndup(pass, plen);
	if (!creds->username || !creds->password) {
		oci_credentials_clear(creds);
		return -ENOMEM;
	}
	return OCI_AUTHFILE_CREDS;
}

/* One entry of `auths`. */
static int parse_auth_entry(json_t *e, oci_credentials *creds, char *err, size_t errlen)
{
	if (!json_is_object(e))
		return set_err(err, errlen, -EINVAL, "an 'auths' entry is not an object");
	json_t *a = json_object_get(e, "auth");
	json_t *u = json_object_get(e, "username");
	json_t *p = json_object_get(e, "password");
	if (a && !json_is_null(a)) {
		const char *s = plain_string(a);
		if (!s)
			return set_err(err, errlen, -EINVAL, "an 'auth' value is not a string");
		if (s[0]) {
			bool bad = false;
			size_t n = 0;
			char *plain = b64_decode(s, strlen(s), &n, &bad);
			if (!plain)
				return bad ? set_err(err, errlen, -EINVAL, "an 'auth' value is not valid base64")
				           : -ENOMEM;
			char *colon = memchr(plain, ':', n);
			int rc;
			if (!colon || colon == plain || (size_t)(colon - plain) + 1 == n || memchr(plain, '\0', n)) {
				rc = set_err(err, errlen, -EINVAL, "an 'auth' value is not base64 of user:password");
			} else {
				*colon = '\0';
				rc = valid_username(plain)
				             ? set_creds(creds, plain, (size_t)(colon - plain), colon + 1,
				                         n - (size_t)(colon - plain) - 1)
				             : set_err(err, errlen, -EINVAL, "an 'auth' value holds an invalid user name");
			}
			wipe(plain, n);
			free(plain);
			return rc;
		}
	}
	if ((u && !json_is_null(u)) || (p && !json_is_null(p))) {
		const char *us = plain_string(u), *ps = plain_string(p);
		if (!us || !ps)
			return set_err(err, errlen, -EINVAL, "'username' and 'password' must both be strings");
		if (!us[0] && !ps[0])
			return OCI_AUTHFILE_NONE;
		if (!valid_username(us) || !ps[0])
			return set_err(err, errlen, -EINVAL, "an entry has an invalid user name or an empty password");
		return set_creds(creds, us, strlen(us), ps, strlen(ps));
	}
	return OCI_AUTHFILE_NONE; /* e.g. only an identitytoken: not supported, anonymous */
}

static int helper_result(json_t *v, char **helper, char *err, size_t errlen)
{
	const char *name = plain_string(v);
	if (!name || !valid_helper_name(name))
		return set_err(err, errlen, -EINVAL, "a credential helper name is not a plain name ([A-Za-z0-9._-])");
	*helper = strdup(name);
	return *helper ? OCI_AUTHFILE_HELPER : -ENOMEM;
}

/* Wipes every string value in the tree (jansson's copies of secrets) before it is freed. */
void oci_json_wipe(json_t *v, int depth)
{
	if (depth > 64)
		return;
	if (json_is_string(v)) {
		wipe((char *)json_string_value(v), json_string_length(v));
	} else if (json_is_object(v)) {
		const char *k;
		json_t *m;
		json_object_foreach (v, k, m)
			oci_json_wipe(m, depth + 1);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;
		json_array_foreach (v, i, m)
			oci_json_wipe(m, depth + 1);
	}
}

int oci_authfile_parse(const char *text, size_t len, const char *registry, oci_credentials *creds, char **helper,
                       char *err, size_t errlen)
{
	*creds = (oci_credentials){ 0 };
	*helper = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > OCI_AUTHFILE_MAX_BYTES)
		return set_err(err, errlen, -EINVAL, "larger than 1 MiB");
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (!root) {
		if (err && errlen)
			snprintf(err, errlen, "not valid JSON (line %d, column %d)", jerr.line, jerr.column);
		return -EINVAL;
	}
	int rc = OCI_AUTHFILE_NONE;
	if (!json_is_object(root)) {
		rc = set_err(err, errlen, -EINVAL, "not a JSON object");
		goto out;
	}
	json_t *helpers = json_object_get(root, "credHelpers");
	json_t *store = json_object_get(root, "credsStore");
	json_t *auths = json_object_get(root, "auths");
	if (helpers && !json_is_null(helpers) && !json_is_object(helpers)) {
		rc = set_err(err, errlen, -EINVAL, "'credHelpers' is not an object");
		goto out;
	}
	if (auths && !json_is_null(auths) && !json_is_object(auths)) {
		rc = set_err(err, errlen, -EINVAL, "'auths' is not an object");
		goto out;
	}
	if (store && !json_is_null(store) && !json_is_string(store)) {
		rc = set_err(err, errlen, -EINVAL, "'credsStore' is not a string");
		goto out;
	}
	json_t *h = json_is_object(helpers) ? lookup_host(helpers, registry) : NULL;
	if (h) {
		rc = helper_result(h, helper, err, errlen);
	} else if (json_is_string(store) && json_string_length(store) > 0) {
		rc = helper_result(store, helper, err, errlen);
	} else if (json_is_object(auths)) {
		json_t *e = lookup_host(auths, registry);
		if (e)
			rc = parse_auth_entry(e, creds, err, errlen);
	}
out:
	oci_json_wipe(root, 0);
	json_decref(root);
	return rc;
}

int oci_authfile_parse_helper_output(const char *text, size_t len, oci_credentials *creds, char *err,
                                     size_t errlen)
{
	*creds = (oci_credentials){ 0 };
	if (err && errlen)
		err[0] = '\0';
	if (len > OCI_HELPER_OUTPUT_MAX)
		return set_err(err, errlen, -EINVAL, "the helper's output is too long");
	/* docker-credential-helpers print this (and exit 1) for an unknown server */
	static const char nf[] = "credentials not found";
	for (size_t i = 0; i + sizeof(nf) - 1 <= len; i++)
		if (strncasecmp(text + i, nf, sizeof(nf) - 1) == 0)
			return 0;
	json_t *root = json_loadb(text, len, 0, NULL);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return set_err(err, errlen, -EINVAL, "the helper's output is not a JSON object");
	}
	const char *u = plain_string(json_object_get(root, "Username"));
	const char *s = plain_string(json_object_get(root, "Secret"));
	int rc;
	if (!u || !s)
		rc = set_err(err, errlen, -EINVAL, "the helper's output lacks 'Username' or 'Secret'");
	else if (!s[0])
		rc = 0;
	else if (!valid_username(u))
		rc = set_err(err, errlen, -EINVAL, "the helper gave an invalid user name");
	else
		rc = set_creds(creds, u, strlen(u), s, strlen(s)) < 0 ? -ENOMEM : 1;
	/* jansson's copies of the secret: wipe them before freeing */
	json_t *sv = json_object_get(root, "Secret");
	if (json_is_string(sv))
		wipe((char *)json_string_value(sv), json_string_length(sv));
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------- files */

static char *path_join(const char *a, const char *b)
{
	char *p;
	return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

static bool file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* The file to use (malloc'ed) or NULL with *oom telling why. */
static char *pick_file(bool *oom)
{
	*oom = false;
	const char *e = getenv("REGISTRY_AUTH_FILE");
	if (e && *e) {
		char *p = strdup(e);
		*oom = !p;
		return p;
	}
	e = getenv("XDG_RUNTIME_DIR");
	if (e && *e) {
		char *p = path_join(e, "containers/auth.json");
		if (!p) {
			*oom = true;
			return NULL;
		}
		if (file_exists(p))
			return p;
		free(p);
	}
	char *p = NULL;
	e = getenv("DOCKER_CONFIG");
	if (e && *e) {
		p = path_join(e, "config.json");
	} else {
		e = getenv("HOME");
		if (!e || !*e)
			return NULL;
		p = path_join(e, ".docker/config.json");
	}
	if (!p) {
		*oom = true;
		return NULL;
	}
	return p;
}

/* Reads at most OCI_AUTHFILE_MAX_BYTES + 1 bytes. 0, -ENOENT, -EFBIG, or -errno. */
static int read_capped(const char *path, char **out, size_t *outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	size_t cap = OCI_AUTHFILE_MAX_BYTES + 1, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			wipe(buf, n);
			free(buf);
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap)
			break;
	}
	close(fd);
	if (n > OCI_AUTHFILE_MAX_BYTES) {
		wipe(buf, n);
		free(buf);
		return -EFBIG;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* ----------------------------------------------------------------- helpers */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs `docker-credential-<name> get` with server on stdin. IMGFETCH_OK with
 * *creds filled or empty; failures are warnings (no credentials). Only
 * IMGFETCH_E_FAILED (out of memory) and IMGFETCH_E_CANCELLED are returned. */
static imgfetch_status run_helper(imgfetch_ctx *ctx, const char *name, const char *server, oci_credentials *creds)
{
	char prog[16 + OCI_HELPER_NAME_MAX + 1];
	snprintf(prog, sizeof(prog), "docker-credential-%s", name);
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_ok = false, attr_ok = false;
	pid_t pid = -1;
	char *buf = NULL;
	size_t n = 0;
	imgfetch_status st = IMGFETCH_OK;
	const char *why = NULL;

	/* a socket for stdin, so that a helper that exits early cannot SIGPIPE us */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		why = "cannot create pipes";
		goto done;
	}
	buf = malloc(OCI_HELPER_OUTPUT_MAX + 1);
	if (!buf || posix_spawn_file_actions_init(&fa) != 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto done;
	}
	fa_ok = true;
	/* its own process group, so that a timeout kills what it started too */
	if (posix_spawnattr_init(&attr) != 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto done;
	}
	attr_ok = true;
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (posix_spawn_file_actions_adddup2(&fa, in[1], STDIN_FILENO) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO) != 0 ||
	    (devnull >= 0 && posix_spawn_file_actions_adddup2(&fa, devnull, STDERR_FILENO) != 0)) {
		if (devnull >= 0)
			close(devnull);
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
		goto done;
	}
	char *const argv[] = { prog, (char *)"get", NULL };
	int e = posix_spawnp(&pid, prog, &fa, &attr, argv, environ);
	if (devnull >= 0)
		close(devnull);
	if (e != 0) {
		pid = -1;
		why = e == ENOENT ? "not found in PATH" : "cannot be started";
		goto done;
	}
	close(in[1]);
	close(out[1]);
	in[1] = out[1] = -1;

	size_t slen = strlen(server);
	if (send(in[0], server, slen, MSG_NOSIGNAL) != (ssize_t)slen || send(in[0], "\n", 1, MSG_NOSIGNAL) != 1)
		ifx_log(ctx, IMGFETCH_LOG_DEBUG, "%s did not read the server name", prog);
	shutdown(in[0], SHUT_WR);

	int64_t deadline = now_ms() + OCI_HELPER_TIMEOUT_MS;
	bool eof = false, timed_out = false, too_long = false;
	while (!eof) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (ifx_cancelled(ctx)) {
			st = ifx_fail(ctx, IMGFETCH_E_CANCELLED, "cancelled");
			break;
		}
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		int r = poll(&p, 1, left > 200 ? 200 : (int)left);
		if (r < 0 && errno != EINTR) {
			why = "cannot be read";
			break;
		}
		if (r <= 0)
			continue;
		ssize_t got = read(out[0], buf + n, OCI_HELPER_OUTPUT_MAX + 1 - n);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			why = "cannot be read";
			break;
		}
		if (got == 0)
			eof = true;
		n += (size_t)got;
		if (n > OCI_HELPER_OUTPUT_MAX) {
			too_long = true;
			break;
		}
	}
	int status = 0;
	bool reaped = false;
	if (eof && st == IMGFETCH_OK && !why) {
		/* give it the rest of the deadline to exit */
		while (now_ms() < deadline) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				reaped = true;
				break;
			}
			if (w < 0 && errno != EINTR)
				break;
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (!reaped)
			timed_out = true;
	}
	if (!reaped) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	pid = -1;
	if (st != IMGFETCH_OK || why)
		goto done;
	if (timed_out) {
		why = "timed out";
		goto done;
	}
	if (too_long) {
		why = "printed too much";
		goto done;
	}
	char err[160];
	int rc = oci_authfile_parse_helper_output(buf, n, creds, err, sizeof(err));
	if (rc == -ENOMEM) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	} else if (rc == 0) {
		ifx_log(ctx, IMGFETCH_LOG_INFO, "%s has no credentials for %s", prog, server);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		oci_credentials_clear(creds);
		why = "failed";
	} else if (rc < 0) {
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "credential helper %s: %s; continuing without credentials", prog,
		        err);
	} else {
		ifx_log(ctx, IMGFETCH_LOG_INFO, "using credentials for %s from %s", server, prog);
	}
done:
	if (why)
		ifx_log(ctx, IMGFETCH_LOG_WARNING, "credential helper %s %s; continuing without credentials", prog, why);
	if (pid > 0) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	if (buf) {
		wipe(buf, n);
		free(buf);
	}
	return st;
}

/* ------------------------------------------------------------------ lookup */

imgfetch_status oci_authfile_lookup(imgfetch_ctx *ctx, const char *authfile, const oci_ref *ref,
                                    oci_credentials *creds)
{
	*creds = (oci_credentials){ 0 };
	char registry[300];
	if (ref->port)
		snprintf(registry, sizeof(registry), "%s:%u", ref->host, ref->port);
	else
		snprintf(registry, sizeof(registry), "%s", ref->host);

	char *path = NULL;
	bool explicit = authfile && *authfile;
	if (explicit) {
		path = strdup(authfile);
		if (!path)
			return ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	} else {
		bool oom;
		path = pick_file(&oom);
		if (!path)
			return oom ? ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory") : IMGFETCH_OK;
	}

	char *text = NULL;
	size_t len = 0;
	imgfetch_status st = IMGFETCH_OK;
	int r = read_capped(path, &text, &len);
	if (r == -ENOENT && !explicit) {
		ifx_log(ctx, IMGFETCH_LOG_DEBUG, "no auth file %s", path);
		goto out;
	}
	if (r == -ENOENT) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "auth file %s does not exist", path);
		goto out;
	}
	if (r == -EFBIG) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "auth file %s: larger than 1 MiB", path);
		goto out;
	}
	if (r < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "cannot read the auth file %s: %s", path, strerror(-r));
		goto out;
	}

	char err[160];
	char *helper = NULL;
	r = oci_authfile_parse(text, len, registry, creds, &helper, err, sizeof(err));
	if (r == -ENOMEM) {
		st = ifx_fail(ctx, IMGFETCH_E_FAILED, "out of memory");
	} else if (r < 0) {
		st = ifx_fail(ctx, IMGFETCH_E_INVALID, "malformed auth file %s: %s", path, err);
	} else if (r == OCI_AUTHFILE_CREDS) {
		ifx_log(ctx, IMGFETCH_LOG_INFO, "using credentials for %s from %s", registry, path);
	} else if (r == OCI_AUTHFILE_HELPER) {
		/* Docker sends Docker Hub's legacy server URL to helpers */
		const char *server = strcmp(ref->host, "docker.io") == 0 ? "https://index.docker.io/v1/" : registry;
		st = run_helper(ctx, helper, server, creds);
	} else {
		ifx_log(ctx, IMGFETCH_LOG_DEBUG, "no credentials for %s in %s", registry, path);
	}
	free(helper);
	if (st < 0)
		oci_credentials_clear(creds);
out:
	if (text) {
		wipe(text, len);
		free(text);
	}
	free(path);
	return st;
}
