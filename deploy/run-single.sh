#!/usr/bin/env bash
# run-single.sh: start a one-node cpm-store in the foreground (what `make run` does).
#
#   deploy/run-single.sh            (after `make`; BUILD=dir to use another build)
#
# One back-end (shard s1, LMDB in var/s1) and one front-end (IMAP+STARTTLS on
# 127.0.0.1:1143, IMAPS on 127.0.0.1:1993), both logging to this terminal.
# First start: makes var/, a random cluster secret (var/secret), a self-signed
# certificate (var/tls/), and the account `demo` with a random password
# (var/demo-password). Later starts reuse all of it: data persists.
# Ctrl-C (or SIGTERM) stops both processes cleanly.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$BUILD/bin
VAR=var
CONF=$VAR/single-node.conf
IMAP_PORT=1143
IMAPS_PORT=1993

PROG=run-single
# shellcheck source=deploy/lib.sh
. deploy/lib.sh

for b in cpm-backend cpm-frontend cpm-admin; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make' first"
done

mkdir -p "$VAR"
chmod 700 "$VAR"
if [ ! -s "$VAR/secret" ]; then
	(umask 077 && openssl rand -hex 32 > "$VAR/secret.tmp" && mv "$VAR/secret.tmp" "$VAR/secret")
fi
secret=$(cat "$VAR/secret")
deploy/gen-cert.sh "$VAR/tls"
# The config is rebuilt from the template on every start, so edits to
# deploy/single-node.conf take effect; the secret stays the same.
(umask 077 && sed "s|@SECRET@|$secret|" deploy/single-node.conf > "$CONF.tmp" && mv "$CONF.tmp" "$CONF")

for p in $IMAP_PORT $IMAPS_PORT 7101 7201; do
	port_busy "$p" && die "port $p on 127.0.0.1 is in use (another cpm-store running? 'make cluster'?)"
done

be_pid=""
fe_pid=""
stopping=0



stop_all() {
	[ "$stopping" = 1 ] && return 0
	stopping=1
	echo
	echo "run-single: stopping (front-end first, then back-end) ..."
	stop_proc "$fe_pid" cpm-frontend
	stop_proc "$be_pid" cpm-backend
	echo "run-single: stopped. Data is kept in $VAR/; 'make run' starts it again."
}

trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

"$BIN/cpm-backend" -c "$CONF" -s s1 &
be_pid=$!

# Ready when the back-end answers an authenticated RPC.
ready=0
for _ in $(seq 150); do
	alive "$be_pid" || die "cpm-backend exited during start-up (see its log above)"
	if "$BIN/cpm-admin" -c "$CONF" ping >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.2
done
[ "$ready" = 1 ] || die "cpm-backend did not answer within 30 s"

"$BIN/cpm-frontend" -c "$CONF" &
fe_pid=$!
ready=0
for _ in $(seq 150); do
	alive "$fe_pid" || die "cpm-frontend exited during start-up (see its log above)"
	if port_busy $IMAP_PORT && port_busy $IMAPS_PORT; then
		ready=1
		break
	fi
	sleep 0.2
done
[ "$ready" = 1 ] || die "cpm-frontend did not listen within 30 s"

# The demo account: created once, its password kept in var/demo-password.
if [ -s "$VAR/demo-password" ]; then
	demo_pw=$(cat "$VAR/demo-password")
else
	demo_pw=$(random_password)
fi
if ! "$BIN/cpm-admin" -c "$CONF" user list 2>/dev/null | grep -qx demo; then
	printf '%s\n' "$demo_pw" | "$BIN/cpm-admin" -c "$CONF" user add demo \
		|| die "could not create the demo account"
	(umask 077 && printf '%s\n' "$demo_pw" > "$VAR/demo-password")
fi

cat <<EOF

==================================================================
 cpm-store is running on 127.0.0.1 (Ctrl-C stops it)

   user      demo
   password  $demo_pw          (kept in $VAR/demo-password)

 IMAPS (implicit TLS):
   openssl s_client -connect 127.0.0.1:$IMAPS_PORT -quiet -crlf
     then type:  a LOGIN demo $demo_pw
   curl --insecure --user 'demo:$demo_pw' imaps://127.0.0.1:$IMAPS_PORT/INBOX
 IMAP with STARTTLS:
   openssl s_client -connect 127.0.0.1:$IMAP_PORT -starttls imap -quiet -crlf
   curl --insecure --ssl-reqd --user 'demo:$demo_pw' imap://127.0.0.1:$IMAP_PORT/INBOX

 Mail client (Thunderbird, K-9, ...), account settings:
   incoming server  IMAP, 127.0.0.1, port $IMAPS_PORT, SSL/TLS
                    (or port $IMAP_PORT with STARTTLS)
   authentication   normal password (or SCRAM-SHA-256)
   user name        demo
   certificate      self-signed ($VAR/tls/cert.pem): accept the exception

 More users:
   echo 'a password' | $BIN/cpm-admin -c $CONF user add alice
   $BIN/cpm-admin -c $CONF user list
==================================================================

EOF

# Run until Ctrl-C, or until one of the two exits on its own.
while :; do
	wait -n "$be_pid" "$fe_pid" 2>/dev/null || true
	[ "$stopping" = 1 ] && break
	if ! alive "$be_pid" || ! alive "$fe_pid"; then
		alive "$be_pid" || echo "run-single: cpm-backend exited unexpectedly" >&2
		alive "$fe_pid" || echo "run-single: cpm-frontend exited unexpectedly" >&2
		stop_all
		exit 1
	fi
done
