# SPDX-License-Identifier: MIT
"""The trust chain: signatures checked from the key to the installed byte.

Keys are made at test time (gpg with a private home; signify-openbsd), the
files are served by nginx. For every vendor that signs, the fixture mirror
(tests/integration/vendors/) carries real signatures by a test key, and the
cases are: a good signature; a compromised mirror (image and checksum file
replaced, the signature left); the signature removed (refused by default,
accepted with --verify checksum); another key; an expired key; a signature
over another file; unsigned lines around a clearsigned file; armoured and
binary forms.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import check, eq, listing
from vendor_mirror import AUTOINDEX, VendorMirror

SIGNING_VENDORS = ["ubuntu", "fedora", "freebsd", "almalinux", "arch", "opensuse"]


class Key:
    """An OpenPGP key in its own gpg home (ed25519). created/expire: gpg
    times, so that a key can be made in the past and have expired since."""

    def __init__(self, uid: str, created: str | None = None, expire: str = "never"):
        self.home = Path(tempfile.mkdtemp(prefix="iftk-", dir="/tmp"))
        self.created = created
        self._gpg("--quick-gen-key", uid, "ed25519", "sign", expire)
        out = subprocess.run(["gpg", "--homedir", str(self.home), "--with-colons", "--list-keys"],
                             capture_output=True, text=True, check=True).stdout
        self.fpr = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")][0]

    def _gpg(self, *args: str) -> None:
        faked = ["--faked-system-time", self.created + "!"] if self.created else []
        subprocess.run(["gpg", "--homedir", str(self.home), "--batch", "--yes", "--quiet", "--pinentry-mode",
                        "loopback", "--passphrase", "", *faked, *args], check=True, capture_output=True)

    def export(self, dest: Path) -> Path:
        self._gpg("--armor", "--export", "--output", str(dest))
        return dest

    def detach(self, path: Path, out: Path, armor: bool) -> Path:
        self._gpg(*(["--armor"] if armor else []), "--detach-sign", "--output", str(out), str(path))
        return out

    def clearsign(self, path: Path, out: Path) -> Path:
        self._gpg("--clearsign", "--output", str(out), str(path))
        return out

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


def _site(t):
    """A served directory with an image, its SHA256SUMS and a key."""
    www = t.dir("www")
    data = t.make_file(www / "disk.img", 3 << 20)
    sums = www / "SHA256SUMS"
    sums.write_text("%s  disk.img\n%s  other.img\n" % (hashlib.sha256(data).hexdigest(), "1" * 64))
    ng = t.nginx(www)
    return www, data, sums, ng


def _key(t, name="good", **kw) -> tuple[Key, Path]:
    k = Key("imgfetch test %s <%s@example.invalid>" % (name, name), **kw)
    t._cleanups.append(k.close)
    return k, k.export(t.dir("keys") / ("%s.asc" % name))


def test_get_detached_armoured_and_binary(t):
    www, data, sums, ng = _site(t)
    k, ring = _key(t)
    try:
        for armor, ext in ((True, ".asc"), (False, ".sig")):
            k.detach(sums, Path(str(sums) + ext), armor)
            out = t.dir("out" + ext)
            j = t.run("get", ng.url("/disk.img"), "-o", out / "disk.img", "--sums", ng.url("/SHA256SUMS"),
                      "--signature", ng.url("/SHA256SUMS" + ext), "--keyring", ring, "--json").ok().json()
            ev = j["evidence"]
            eq(ev["level"], "signature", "evidence level (%s)" % ext)
            eq(ev["signature"]["fingerprint"], k.fpr, "the signing key's fingerprint")
            eq(ev["signature"]["uid"], "imgfetch test good <good@example.invalid>", "its user ID")
            eq(ev["signature"]["signed_url"], ng.url("/SHA256SUMS"), "the signed file")
            eq(ev["signature"]["signed_sha256"], hashlib.sha256(sums.read_bytes()).hexdigest(), "its digest")
            eq(ev["signature"]["signature_url"], ng.url("/SHA256SUMS" + ext), "where the signature came from")
            eq(ev["image_sha256"], hashlib.sha256(data).hexdigest(), "the image digest it vouches for")
            eq(ev["digest_source"], ng.url("/SHA256SUMS"), "digest source")
            eq((out / "disk.img").read_bytes(), data, "the bytes")
    finally:
        k.close()


def test_get_compromised_mirror(t):
    """Image and SHA256SUMS both replaced, the vendor's signature left: exit 3, nothing written."""
    www, data, sums, ng = _site(t)
    k, ring = _key(t)
    try:
        k.detach(sums, www / "SHA256SUMS.asc", True)
        evil = t.make_file(www / "disk.img", 3 << 20)
        sums.write_text("%s  disk.img\n" % hashlib.sha256(evil).hexdigest())
        out = t.dir("out")
        r = t.run("get", ng.url("/disk.img"), "-o", out / "disk.img", "--sums", ng.url("/SHA256SUMS"),
                  "--signature", ng.url("/SHA256SUMS.asc"), "--keyring", ring).expect_rc(3)
        check("BAD signature" in r.stderr and k.fpr in r.stderr, "names the bad signature and key: %r" % r.stderr)
        eq(listing(out), set(), "nothing written")
        # The same with --verify checksum: the checksum file alone vouches (the attacker's), so it passes —
        # which is why it is not the default.
        t.run("get", ng.url("/disk.img"), "-o", out / "disk.img", "--sums", ng.url("/SHA256SUMS"),
              "--signature", ng.url("/SHA256SUMS.asc"), "--verify", "checksum").ok()
    finally:
        k.close()


def test_get_signature_removed_wrong_key_other_file(t):
    www, data, sums, ng = _site(t)
    k, ring = _key(t)
    other, other_ring = _key(t, "other")
    try:
        base = ["get", ng.url("/disk.img"), "--sums", ng.url("/SHA256SUMS"), "--signature", ng.url("/SHA256SUMS.asc")]
        r = t.run(*base, "-o", t.dir("o1") / "d", "--keyring", ring).expect_rc(3)
        check("not found" in r.stderr and "--verify checksum" in r.stderr, "signature missing: %r" % r.stderr)
        j = t.run(*base, "-o", t.dir("o2") / "d", "--keyring", ring, "--verify", "checksum", "--json").ok().json()
        eq(j["evidence"]["level"], "checksum", "--verify checksum: the checksum file alone")
        # Signed by another key.
        other.detach(sums, www / "SHA256SUMS.asc", True)
        r = t.run(*base, "-o", t.dir("o3") / "d", "--keyring", ring).expect_rc(3)
        check(other.fpr in r.stderr and "not among the trusted keys" in r.stderr and "--keyring" in r.stderr,
              "names the unknown key and how to add one: %r" % r.stderr)
        # A good signature, but over another file.
        (www / "NOTES").write_text("release notes\n")
        k.detach(www / "NOTES", www / "SHA256SUMS.asc", True)
        r = t.run(*base, "-o", t.dir("o4") / "d", "--keyring", ring).expect_rc(3)
        check("BAD signature" in r.stderr, "a signature over another file is bad: %r" % r.stderr)
        # --verify signature with nothing signing the sums file.
        r = t.run("get", ng.url("/disk.img"), "--sums", ng.url("/SHA256SUMS"), "--verify", "signature",
                  "-o", t.dir("o5") / "d").expect_rc(3)
        check("nothing signs" in r.stderr, "says nothing signs it: %r" % r.stderr)
    finally:
        k.close()
        other.close()


def test_get_expired_key(t):
    """A key that was valid when it signed but has expired since: refused, naming the key and the date."""
    www, data, sums, ng = _site(t)
    k, ring = _key(t, "old", created="20200101T000000", expire="1d")
    try:
        k.detach(sums, www / "SHA256SUMS.asc", True)
        r = t.run("get", ng.url("/disk.img"), "-o", t.dir("o") / "d", "--sums", ng.url("/SHA256SUMS"),
                  "--signature", ng.url("/SHA256SUMS.asc"), "--keyring", ring).expect_rc(3)
        check(k.fpr in r.stderr and "expired on 2020-01-02" in r.stderr, "names key and expiry: %r" % r.stderr)
    finally:
        k.close()


def test_get_clearsigned_sums(t):
    """Only the signed part of a clearsigned file is read: a line appended after the signature, or put
    before it, never yields a digest — with or without the signature checked."""
    www, data, sums, ng = _site(t)
    k, ring = _key(t)
    try:
        signed = k.clearsign(sums, www / "SUMS.asc")
        text = signed.read_text()
        j = t.run("get", ng.url("/disk.img"), "-o", t.dir("o1") / "d", "--sums", ng.url("/SUMS.asc"),
                  "--keyring", ring, "--json").ok().json()
        eq(j["evidence"]["level"], "signature", "clearsigned: signature evidence without --signature")
        eq(j["evidence"]["signature"]["signature_url"], ng.url("/SUMS.asc"), "the file is its own signature")
        evil = t.make_file(www / "evil.img", 1 << 20)
        signed.write_text(text + "%s  evil.img\n" % hashlib.sha256(evil).hexdigest())
        for policy in ("auto", "checksum"):
            r = t.run("get", ng.url("/evil.img"), "-o", t.dir("e-" + policy) / "d", "--sums", ng.url("/SUMS.asc"),
                      "--keyring", ring, "--verify", policy).expect_rc(3)
            check("has no entry" in r.stderr, "appended line not used (%s): %r" % (policy, r.stderr))
        signed.write_text("%s  evil.img\n" % hashlib.sha256(evil).hexdigest() + text)
        for policy in ("auto", "checksum"):
            t.run("get", ng.url("/evil.img"), "-o", t.dir("p-" + policy) / "d", "--sums", ng.url("/SUMS.asc"),
                  "--keyring", ring, "--verify", policy).expect_rc(3)
        # A digest changed inside the signed part.
        signed.write_text(text.replace(hashlib.sha256(data).hexdigest(), "2" * 64))
        r = t.run("get", ng.url("/disk.img"), "-o", t.dir("o3") / "d", "--sums", ng.url("/SUMS.asc"),
                  "--keyring", ring).expect_rc(3)
        check("BAD signature" in r.stderr, "tampered clearsigned file: %r" % r.stderr)
    finally:
        k.close()


def test_get_signature_over_the_file(t):
    """--signature without --sums: the signature covers the image itself, checked over the downloaded
    bytes before anything is installed; a cached copy is checked again."""
    www, data, sums, ng = _site(t)
    k, ring = _key(t)
    try:
        k.detach(www / "disk.img", www / "disk.img.sig", False)
        out, cache = t.dir("out"), t.dir("cache")
        args = ["get", ng.url("/disk.img"), "--signature", ng.url("/disk.img.sig"), "--keyring", ring, "--json"]
        j = t.run(*args, "-o", out / "disk.img").ok().json()
        eq((j["verifier"], j["evidence"]["level"]), ("signature", "signature"), "verified by the signature")
        eq(j["evidence"]["signature"]["signed_url"], ng.url("/disk.img"), "the image is the signed file")
        j = t.run(*args, "--cache-dir", cache).ok().json()
        j = t.run(*args, "--cache-dir", cache).ok().json()
        check(j["from_cache"] and j["evidence"]["level"] == "signature", "cached copy re-verified: %r" % j)
        t.make_file(www / "disk.img", 3 << 20)
        out2 = t.dir("out2")
        r = t.run(*args, "-o", out2 / "disk.img").expect_rc(3)
        check("BAD signature" in r.stderr, "tampered image refused: %r" % r.stderr)
        eq(listing(out2), set(), "nothing written")
    finally:
        k.close()


def test_get_signify(t):
    """OpenBSD's form: SHA256.sig is a signify signature embedding the checksum list."""
    www, data, sums, ng = _site(t)
    kd = t.dir("signify")
    subprocess.run(["signify-openbsd", "-G", "-n", "-p", str(kd / "test.pub"), "-s", str(kd / "test.sec")],
                   check=True, capture_output=True)
    subprocess.run(["signify-openbsd", "-S", "-e", "-s", str(kd / "test.sec"), "-m", str(sums),
                    "-x", str(www / "SHA256.sig")], check=True, capture_output=True)
    j = t.run("get", ng.url("/disk.img"), "-o", t.dir("o1") / "d", "--signature", ng.url("/SHA256.sig"),
              "--keyring", kd / "test.pub", "--json").ok().json()
    eq((j["evidence"]["level"], j["evidence"]["signature"]["scheme"]), ("signature", "signify"), "signify evidence")
    # The detached form over a --sums file.
    subprocess.run(["signify-openbsd", "-S", "-s", str(kd / "test.sec"), "-m", str(sums),
                    "-x", str(www / "SHA256SUMS.sig")], check=True, capture_output=True)
    t.run("get", ng.url("/disk.img"), "-o", t.dir("o2") / "d", "--sums", ng.url("/SHA256SUMS"), "--signature",
          ng.url("/SHA256SUMS.sig"), "--keyring", kd / "test.pub").ok()
    # The shipped OpenBSD keys do not know this key: refused, naming its key number.
    r = t.run("get", ng.url("/disk.img"), "-o", t.dir("o3") / "d", "--signature", ng.url("/SHA256.sig")).expect_rc(3)
    check("signify signature" in r.stderr and "not among the trusted keys" in r.stderr, "unknown key: %r" % r.stderr)
    # A changed list inside the embedded message.
    sig = (www / "SHA256.sig").read_text()
    (www / "SHA256.sig").write_text(sig.replace(hashlib.sha256(data).hexdigest(), "3" * 64))
    r = t.run("get", ng.url("/disk.img"), "-o", t.dir("o4") / "d", "--signature", ng.url("/SHA256.sig"),
              "--keyring", kd / "test.pub").expect_rc(3)
    check("BAD signify signature" in r.stderr, "tampered: %r" % r.stderr)


def test_key_directories(t):
    """Shipped keys (IMGFETCH_KEYS_DIR stands for the install directory), the site's under
    $XDG_CONFIG_HOME/imgfetch/keys; for a vendor only the files named for it count."""
    m = VendorMirror(t.tmp / "mirror", ["ubuntu"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    mirror = ["--mirror", "ubuntu=%s" % ng.url("/ubuntu/")]
    key = m.keyring()
    shipped = t.dir("shipped")
    (shipped / "fedora.asc").write_bytes(key.read_bytes())
    env = {"IMGFETCH_KEYS_DIR": str(shipped), "XDG_CONFIG_HOME": str(t.dir("config"))}
    r = t.run("fetch", "ubuntu", "-o", t.dir("o1"), "--cache-dir", t.dir("c1"), *mirror, env=env,
              timeout=60).expect_rc(3)
    check(("not among the trusted keys" in r.stderr or "no OpenPGP keys" in r.stderr) and "ubuntu*" in r.stderr,
          "a key named for another vendor does not count: %r" % r.stderr)
    site = t.dir("config") / "imgfetch" / "keys"
    site.mkdir(parents=True)
    (site / "ubuntu-local.asc").write_bytes(key.read_bytes())
    t.run("fetch", "ubuntu", "-o", t.dir("o2"), "--cache-dir", t.dir("c2"), *mirror, env=env, timeout=60).ok()
    (site / "ubuntu-local.asc").unlink()
    (shipped / "ubuntu.asc").write_bytes(key.read_bytes())
    t.run("fetch", "ubuntu", "-o", t.dir("o3"), "--cache-dir", t.dir("c3"), *mirror, env=env, timeout=60).ok()


def _path_of(m, ng, url: str) -> Path:
    return m.root / url[len(ng.url("/")):]


def test_vendor_matrix(t):
    """For each vendor that signs: good; compromised mirror; signature removed (default refuses,
    --verify checksum accepts); the dry run and resolve say what is required."""
    for v in SIGNING_VENDORS:
        m = VendorMirror(t.tmp / ("mirror-" + v), [v])
        ng = t.nginx(m.root, extra_conf=AUTOINDEX)
        args = m.mirror_args(ng)
        rj = t.run("resolve", v, "--json", *args).ok().json()
        eq(rj["evidence"], "signature", "%s: resolve shows signature evidence" % v)
        plan = t.run("fetch", v, "--dry-run", *args).ok().stdout
        check("requires: signature" in plan, "%s: dry run says a signature is required: %r" % (v, plan))
        j = t.run("fetch", v, "-o", t.dir(v + "-ok"), "--cache-dir", t.dir(v + "-c0"), "--json", *args,
                  timeout=120).ok().json()
        eq((j["verify"], j["evidence_chain"]["level"]), ("signature", "signature"), v + ": verified by signature")
        check(j["evidence_chain"]["signature"]["fingerprint"], v + ": fingerprint recorded")

        # Signature removed (a detached one deleted; a clearsigned file replaced by its bare text).
        sums = _path_of(m, ng, rj["sums_url"]) if rj["sums_url"] else _path_of(m, ng, rj["url"] + ".sha256")
        saved_sums = sums.read_bytes()
        if rj["signature_url"]:
            sig = _path_of(m, ng, rj["signature_url"])
            saved_sig = sig.read_bytes()
            sig.unlink()
        else:
            text = sums.read_text()
            body = text.split("\n\n", 1)[1].split("-----BEGIN PGP SIGNATURE-----")[0]
            sums.write_text(body)
        r = t.run("fetch", v, "-o", t.dir(v + "-nosig"), "--cache-dir", t.dir(v + "-c1"), *args,
                  timeout=60).expect_rc(3)
        eq(listing(t.dir(v + "-nosig")), set(), v + ": nothing written without the signature")
        j = t.run("fetch", v, "-o", t.dir(v + "-cks"), "--cache-dir", t.dir(v + "-c2"), "--verify", "checksum",
                  "--json", *args, timeout=60).ok().json()
        eq(j["evidence_chain"]["level"], "checksum", v + ": --verify checksum accepts the checksum alone")
        sums.write_bytes(saved_sums)
        if rj["signature_url"]:
            sig.write_bytes(saved_sig)

        # Compromised mirror: image and checksum file replaced, the signature left.
        img = _path_of(m, ng, rj["url"])
        evil = os.urandom(img.stat().st_size)
        img.write_bytes(evil)
        evil_sha = hashlib.sha256(evil).hexdigest()
        text = sums.read_text()
        good_sha = hashlib.sha256(m.images.__dict__[{"qcow2": "qcow2", "raw.xz": "raw_xz"}[rj["format"]]]
                                  .read_bytes()).hexdigest()
        sums.write_text(text.replace(good_sha, evil_sha))
        r = t.run("fetch", v, "-o", t.dir(v + "-evil"), "--cache-dir", t.dir(v + "-c3"), *args,
                  timeout=60).expect_rc(3)
        check("BAD signature" in r.stderr, "%s: compromised mirror refused: %r" % (v, r.stderr))
        eq(listing(t.dir(v + "-evil")), set(), v + ": nothing written for a compromised mirror")


def test_verify_signature_on_unsigned_vendor(t):
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    r = t.run("fetch", "alpine", "--verify", "signature", "-o", t.dir("o"), *m.mirror_args(ng)).expect_rc(3)
    check("signs nothing" in r.stderr and "checksum file" in r.stderr, "names what it publishes: %r" % r.stderr)
    out = t.run("vendors").ok().stdout
    check("evidence: signature, SHA256SUMS.gpg by D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81" in out,
          "vendors shows evidence and key: %r" % out[:400])
    vj = {v["name"]: v for v in t.run("vendors", "--json").ok().json()["vendors"]}
    eq((vj["alpine"]["evidence"], vj["fedora"]["evidence"]), ("checksum", "signature"), "vendors --json evidence")


def test_clearsigned_vendor_appended_line(t):
    """Fedora's CHECKSUM with a line appended after its signature naming the image with another digest:
    the signed line is the one used, under either policy."""
    m = VendorMirror(t.tmp / "mirror", ["fedora"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    args = m.mirror_args(ng)
    rj = t.run("resolve", "fedora", "--json", *args).ok().json()
    sums = _path_of(m, ng, rj["sums_url"])
    sums.write_text(sums.read_text() + "SHA256 (%s) = %s\n" % (rj["file_name"], "4" * 64))
    for policy in ("auto", "checksum"):
        t.run("fetch", "fedora", "-o", t.dir("o-" + policy), "--cache-dir", t.dir("c-" + policy), "--verify",
              policy, *args, timeout=60).ok()


def _resign(m, ng, rj, key: Key, path_of_signed: Path | None = None) -> None:
    """Re-signs the vendor's signed checksum file (or `path_of_signed`'s
    bytes in its place) with `key`, in the vendor's own form."""
    sums = _path_of(m, ng, rj["sums_url"]) if rj["sums_url"] else _path_of(m, ng, rj["url"] + ".sha256")
    if rj["signature_url"]:
        sig = _path_of(m, ng, rj["signature_url"])
        armored = sig.read_bytes().startswith(b"-----BEGIN")
        key.detach(path_of_signed or sums, sig, armored)
    else:
        text = sums.read_text()
        body = text.split("\n\n", 1)[1].split("-----BEGIN PGP SIGNATURE-----")[0]
        plain = sums.parent / (sums.name + ".plain")
        plain.write_text(path_of_signed.read_text() if path_of_signed else body)
        key.clearsign(plain, sums)
        plain.unlink()


def test_vendor_matrix_keys(t):
    """For each vendor that signs: the same files signed by another key, by a key that has expired
    since, and a good signature over another file — all exit 3, nothing written."""
    other, _ = _key(t, "other")
    old, _ = _key(t, "old", created="20200101T000000", expire="1d")
    try:
        for v in SIGNING_VENDORS:
            m = VendorMirror(t.tmp / ("mirror-" + v), [v])
            ng = t.nginx(m.root, extra_conf=AUTOINDEX)
            args = m.mirror_args(ng)
            rj = t.run("resolve", v, "--json", *args).ok().json()
            notes = t.dir(v + "-notes") / "NOTES"
            notes.write_text("%s release notes\n" % v)
            for name, key, signed, expect in ((v + "-other", other, None, other.fpr),
                                              (v + "-old", old, None, "expired on 2020-01-02"),
                                              (v + "-elsewhere", m.images.signer, notes,
                                               "BAD signature" if rj["signature_url"]
                                               else "no entry for it in its signed part")):
                if isinstance(key, Key):
                    _resign(m, ng, rj, key, signed)
                else:
                    good = Key.__new__(Key)  # the fixture's own signer, in Key's form
                    good.home, good.created = key.home, None
                    _resign(m, ng, rj, good, signed)
                run_args = list(args)
                if key is old:
                    # The expired key is trusted (in the keyring with the fixture's): refused all the same.
                    both = t.dir(name + "-keys") / "both.asc"
                    both.write_bytes(m.keyring().read_bytes() + old.export(t.dir(name + "-keys") / "old.asc")
                                     .read_bytes())
                    run_args[run_args.index("--keyring") + 1] = str(both)
                out = t.dir(name)
                r = t.run("fetch", v, "-o", out, "--cache-dir", t.dir(name + "-c"), *run_args,
                          timeout=60).expect_rc(3)
                check(expect in r.stderr, "%s: %r in %r" % (name, expect, r.stderr))
                eq(listing(out), set(), name + ": nothing written")
    finally:
        other.close()
        old.close()


def test_cache_swap_race(t):
    """While fetch runs, another process keeps replacing the cache entry with another valid image:
    every output that appears is the genuine image (the verified descriptor is what is converted),
    never the swapped one with a verified stamp."""
    import threading
    m = VendorMirror(t.tmp / "mirror", ["alpine"])
    ng = t.nginx(m.root, extra_conf=AUTOINDEX)
    args = m.mirror_args(ng)
    cache = t.dir("cache")
    j = t.run("fetch", "alpine", "-o", t.dir("o0"), "--cache-dir", cache, "--json", *args, timeout=60).ok().json()
    genuine = open(j["path"], "rb").read()
    entry = Path(j["source_path"])
    evil_raw = t.dir("evil") / "evil.raw"
    t.make_file(evil_raw, len(m.images.raw.read_bytes()))
    evil = t.dir("evil") / "evil.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(evil_raw), str(evil)], check=True, capture_output=True)
    evil_bytes = evil.read_bytes()
    stop = threading.Event()

    def swapper():
        n = 0
        while not stop.is_set():
            tmp = entry.parent / (".swap-%d" % n)
            tmp.write_bytes(evil_bytes)
            os.replace(tmp, entry)
            n += 1

    th = threading.Thread(target=swapper)
    th.start()
    ok = 0
    try:
        for i in range(12):
            out = t.dir("o%d" % (i + 1))
            r = t.run("fetch", "alpine", "-o", out, "--cache-dir", cache, "--json", *args, timeout=60)
            if r.rc == 0:
                ok += 1
                eq(open(r.json()["path"], "rb").read(), genuine, "run %d: the output is the genuine image" % i)
            else:
                eq(listing(out), set(), "run %d: a failed run leaves nothing" % i)
    finally:
        stop.set()
        th.join()
    check(ok > 0, "some runs succeeded under the race (%d of 12)" % ok)


def test_get_revoked_key(t):
    """A key revoked since it signed (its revocation certificate imported): refused, naming the key."""
    www, data, sums, ng = _site(t)
    k, _ = _key(t, "revoked")
    try:
        k.detach(sums, www / "SHA256SUMS.asc", True)
        # gpg writes a revocation certificate at key creation, its armour
        # defused with a leading ':'.
        rev = (k.home / "openpgp-revocs.d" / ("%s.rev" % k.fpr)).read_text().replace(":-----BEGIN", "-----BEGIN")
        (k.home / "rev.asc").write_text(rev)
        k._gpg("--import", str(k.home / "rev.asc"))
        ring = k.export(t.dir("keys") / "revoked-now.asc")
        r = t.run("get", ng.url("/disk.img"), "-o", t.dir("o") / "d", "--sums", ng.url("/SHA256SUMS"),
                  "--signature", ng.url("/SHA256SUMS.asc"), "--keyring", ring).expect_rc(3)
        check(k.fpr in r.stderr and "revoked" in r.stderr, "names the key and the revocation: %r" % r.stderr)
    finally:
        k.close()
