#!/usr/bin/env bash
# run-cluster.sh: the example cluster on one host, in the foreground (`make cluster`).
#
# Two back-end shards (s1, s2; LMDB in var/cluster/s1 and var/cluster/s2) and
# two front-ends: fe1 on 127.0.0.1:1143 (STARTTLS) / 1993 (IMAPS) and fe2 on
# 127.0.0.1:2143 / 2993. Both front-ends route every user to the same shard,
# so any user can log in through either. Configs are written from
# deploy/cluster.conf into var/cluster/fe1.conf and var/cluster/fe2.conf
# (same secret and shard list, different [frontend] ports).
# Creates demo users (their passwords in var/cluster/demo-passwords) with at
# least one on each shard. Ctrl-C stops everything; data persists.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$BUILD/bin
VAR=var
DIR=$VAR/cluster
FE1=$DIR/fe1.conf
FE2=$DIR/fe2.conf

PROG=run-cluster
# shellcheck source=deploy/lib.sh
. deploy/lib.sh

for b in cpm-backend cpm-frontend cpm-admin; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make' first"
done

mkdir -p "$DIR"
chmod 700 "$VAR"
if [ ! -s "$VAR/secret" ]; then
	(umask 077 && openssl rand -hex 32 > "$VAR/secret.tmp" && mv "$VAR/secret.tmp" "$VAR/secret")
fi
secret=$(cat "$VAR/secret")
deploy/gen-cert.sh "$VAR/tls"
(
	umask 077
	sed "s|@SECRET@|$secret|" deploy/cluster.conf > "$FE1"
	sed -e "s|@SECRET@|$secret|" \
		-e "s|^imap_listen *=.*|imap_listen = 127.0.0.1:2143|" \
		-e "s|^imaps_listen *=.*|imaps_listen = 127.0.0.1:2993|" deploy/cluster.conf > "$FE2"
)

for p in 1143 1993 2143 2993 7101 7102 7201 7202; do
	port_busy "$p" && die "port $p on 127.0.0.1 is in use (another cpm-store running? 'make run'?)"
done

pids=()
names=()
stopping=0


stop_all() {
	[ "$stopping" = 1 ] && return 0
	stopping=1
	echo
	echo "run-cluster: stopping (front-ends first, then back-ends) ..."
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_proc "${pids[$i]}" "${names[$i]}"
	done
	echo "run-cluster: stopped. Data is kept in $DIR/."
}

trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

start() { # name command...
	local name=$1
	shift
	"$@" &
	pids+=($!)
	names+=("$name")
}

start backend-s1 "$BIN/cpm-backend" -c "$FE1" -s s1
start backend-s2 "$BIN/cpm-backend" -c "$FE1" -s s2
ready=0
for _ in $(seq 150); do
	for j in 0 1; do alive "${pids[$j]}" || die "${names[$j]} exited during start-up (see its log above)"; done
	if "$BIN/cpm-admin" -c "$FE1" ping >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.2
done
[ "$ready" = 1 ] || die "the back-ends did not answer within 30 s"

start frontend-1 "$BIN/cpm-frontend" -c "$FE1"
start frontend-2 "$BIN/cpm-frontend" -c "$FE2"
ready=0
for _ in $(seq 150); do
	for j in 2 3; do alive "${pids[$j]}" || die "${names[$j]} exited during start-up (see its log above)"; done
	if port_busy 1143 && port_busy 1993 && port_busy 2143 && port_busy 2993; then
		ready=1
		break
	fi
	sleep 0.2
done
[ "$ready" = 1 ] || die "the front-ends did not listen within 30 s"

# Demo users: demo1, demo2, ... until both shards hold one. "name password" lines.
PWFILE=$DIR/demo-passwords
touch "$PWFILE"
chmod 600 "$PWFILE"
existing=$("$BIN/cpm-admin" -c "$FE1" user list 2>/dev/null || true)
declare -A covered=()
for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	user=demo$n
	shard=$("$BIN/cpm-admin" -c "$FE1" user where "$user")
	[ -n "${covered[$shard]:-}" ] && continue
	pw=$(awk -v u="$user" '$1 == u { print $2 }' "$PWFILE")
	if ! grep -qx "$user" <<<"$existing"; then
		[ -n "$pw" ] || pw=$(random_password)
		printf '%s\n' "$pw" | "$BIN/cpm-admin" -c "$FE1" user add "$user" || die "could not create $user"
		grep -v "^$user " "$PWFILE" > "$PWFILE.tmp" || true
		echo "$user $pw" >> "$PWFILE.tmp"
		mv "$PWFILE.tmp" "$PWFILE"
	fi
	covered[$shard]=$user
	[ "${#covered[@]}" -ge 2 ] && break
done

echo
echo "=================================================================="
echo " cpm-store example cluster (Ctrl-C stops it)"
echo "   back-ends   s1 (rpc 7101), s2 (rpc 7102)"
echo "   front-end 1 IMAP/STARTTLS 127.0.0.1:1143, IMAPS 127.0.0.1:1993"
echo "   front-end 2 IMAP/STARTTLS 127.0.0.1:2143, IMAPS 127.0.0.1:2993"
echo
echo " demo users (passwords also in $PWFILE):"
for shard in $(printf "%s\n" "${!covered[@]}" | sort); do
	user=${covered[$shard]}
	pw=$(awk -v u="$user" '$1 == u { print $2 }' "$PWFILE")
	echo "   $user  password $pw  (lives on shard $shard)"
	echo "     curl --insecure --user '$user:$pw' imaps://127.0.0.1:1993/INBOX"
	echo "     curl --insecure --user '$user:$pw' imaps://127.0.0.1:2993/INBOX"
done
echo
echo " openssl s_client -connect 127.0.0.1:2993 -quiet -crlf     (then: a LOGIN user password)"
echo " admin: $BIN/cpm-admin -c $FE1 user list | ping | user where NAME"
echo "=================================================================="
echo

while :; do
	wait -n "${pids[@]}" 2>/dev/null || true
	[ "$stopping" = 1 ] && break
	for j in "${!pids[@]}"; do
		if ! alive "${pids[$j]}"; then
			echo "run-cluster: ${names[$j]} exited unexpectedly" >&2
			stop_all
			exit 1
		fi
	done
done
