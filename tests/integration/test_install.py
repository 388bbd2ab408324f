# SPDX-License-Identifier: MIT
"""`meson install` honours DESTDIR, and a program builds against the installed
header, library and pkg-config file alone."""

import json
import os
import subprocess
from pathlib import Path

from harness import check, eq

PROGRAM = r'''
#include <imgfetch/imgfetch.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	static const char sums[] = "# demo\nSHA256 (disk.img) = "
		"5c3ddb00f60bc455dac0862fabe9d8bacec46c33ac1751143c5c3683404b110d\n";
	imgfetch_checksum c;
	const char *why = NULL;
	if (imgfetch_sums_lookup(sums, strlen(sums), "disk.img", &c, &why) != IMGFETCH_OK)
		return 2;
	imgfetch_ctx *ctx = imgfetch_ctx_new();
	if (!ctx)
		return 3;
	imgfetch_ctx_free(ctx);
	printf("%s %s %s\n", imgfetch_version(), imgfetch_hash_name(c.hash), c.hex);
	return 0;
}
'''


def _compiler(build: Path) -> list[str]:
    """The C compiler the build used (meson 1.0 cannot introspect it)."""
    lines = (build / "build.ninja").read_text().splitlines()
    for i, line in enumerate(lines):
        if line == "rule c_COMPILER":
            return lines[i + 1].split("=", 1)[1].split()[:1]
    return ["cc"]


def _sanitized(build: Path) -> bool:
    opts = json.loads(subprocess.run(["meson", "introspect", "--buildoptions", str(build)],
                                     capture_output=True, text=True, check=True).stdout)
    return any(o["name"] == "b_sanitize" and o["value"] not in ("none", "") for o in opts)


def test_install_destdir_and_pkgconfig(t):
    build = Path(t.bin).parent.parent
    # A sanitizer build's library needs the sanitizer runtime in every program
    # linked against it: build the test program the same way.
    cc = _compiler(build) + (["-fsanitize=address,undefined"] if _sanitized(build) else [])
    stage = t.dir("stage")
    r = subprocess.run(["meson", "install", "-C", str(build), "--destdir", str(stage), "--no-rebuild", "--quiet"],
                       capture_output=True, text=True)
    eq(r.returncode, 0, "meson install exit code (stderr: %s)" % r.stderr[-2000:])
    files = {str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file() or p.is_symlink()}
    check(any(f.endswith("include/imgfetch/imgfetch.h") for f in files), "header installed: %s" % files)
    check(any(f.endswith("bin/imgfetch") for f in files), "CLI installed")
    check(any("libimgfetch.so" in f for f in files), "shared library installed")
    check(any(f.endswith("libimgfetch.a") for f in files), "static library installed")
    pcs = [stage / f for f in files if f.endswith("pkgconfig/imgfetch.pc")]
    eq(len(pcs), 1, "pkg-config files")
    check(not any(str(stage) in f for f in files), "nothing installed outside DESTDIR")

    env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent), PKG_CONFIG_SYSROOT_DIR=str(stage))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "imgfetch"], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    src = t.tmp / "prog.c"
    src.write_text(PROGRAM)
    exe = t.tmp / "prog"
    r = subprocess.run(cc + ["-std=c17", "-Wall", "-Werror", str(src), "-o", str(exe)] + flags,
                       capture_output=True, text=True)
    eq(r.returncode, 0, "compiling against the installed library (stderr: %s)" % r.stderr[-2000:])
    libdir = [f[2:] for f in flags if f.startswith("-L")][0]
    r = subprocess.run([str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=libdir), capture_output=True, text=True)
    eq(r.returncode, 0, "program exit code (stderr: %s)" % r.stderr)
    ver = subprocess.run([t.bin, "--version"], capture_output=True, text=True).stdout.split()[-1]
    eq(r.stdout.split(), [ver, "sha256", "5c3ddb00f60bc455dac0862fabe9d8bacec46c33ac1751143c5c3683404b110d"],
       "program output")
