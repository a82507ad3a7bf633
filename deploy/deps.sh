#!/bin/sh
# Installs the Debian packages that building and testing cpm-store need,
# only those that are missing. Called by `make`, `make run` and `make test`.
set -e
PKGS="build-essential pkg-config libuv1-dev libssl-dev openssl liblmdb-dev lmdb-utils \
libnanomsg-dev libprotobuf-c-dev protobuf-c-compiler libinih-dev libcmocka-dev \
zlib1g-dev libgsasl-dev libunistring-dev python3 ca-certificates curl \
isync libmail-imapclient-perl libio-socket-ssl-perl offlineimap3 dovecot-imapd interimap"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
