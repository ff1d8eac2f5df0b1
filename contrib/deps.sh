#!/bin/sh
# Installs the Debian packages patchq builds and tests with, when missing.
# Used by contrib/demo.sh and contrib/check.sh; safe to run again.
set -eu

pkgs="meson ninja-build pkg-config gcc clang clang-format libclang-rt-14-dev git python3 zstd time
libgit2-dev libetpan-dev libsqlite3-dev libssl-dev libevent-dev sqlite3
dovecot-imapd openssl python3-aiosmtpd
chromium chromium-driver python3-selenium w3m apache2-utils
rustfmt bubblewrap linux-source"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	sudo=
elif command -v sudo >/dev/null; then
	sudo=sudo
else
	echo "patchq: need root (or sudo) to install:$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
