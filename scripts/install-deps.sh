#!/bin/sh
# Installs the Debian packages imgfetch needs to build, test and demo,
# skipping the ones already present. Needs root only when something is missing.
set -eu

PACKAGES="
gcc
clang
libclang-rt-14-dev
meson
ninja-build
pkg-config
libcurl4-openssl-dev
libssl-dev
libjansson-dev
liblzma-dev
zlib1g-dev
libdeflate-dev
libzstd-dev
libbz2-dev
librnp-dev
qemu-utils
xz-utils
zstd
bzip2
gzip
nginx-light
openssl
curl
python3
time
gpg
signify-openbsd
debian-archive-keyring
docker-registry
skopeo
apache2-utils
zfs-fuse
pigz
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: not root; run as root or install these packages yourself:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# docker-registry's postinst may start a system registry on *:5000; the tests
# start their own on 127.0.0.1 and must not find one there.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
	systemctl stop docker-registry || true
	systemctl disable docker-registry 2>/dev/null || true
elif [ -x /etc/init.d/docker-registry ]; then
	/etc/init.d/docker-registry stop >/dev/null 2>&1 || true
fi
