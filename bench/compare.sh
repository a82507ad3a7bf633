#!/usr/bin/env bash
# compare.sh: the same cpm-bench scenario against cpm-store and Dovecot on
# this machine, side by side.
#
#   bench/compare.sh SCENARIO|all [-c CONNS] [-d SECONDS] [-m MESSAGES] [-k CHANGES]
#                    [--idle-rate R] [--tls] [--keep] [--only cpm-store|dovecot]
#
# SCENARIO is one of login append fetch search store mixed idle resync, or
# "all" (each in turn, on the same two servers). Everything lives in one
# temp dir (removed at the end unless --keep) and listens on free
# unprivileged loopback ports.
#
# cpm-store: one back-end (LMDB, synced commits: an APPEND is acknowledged
# after its transaction is fsync'ed; group commit), one front-end with one
# worker process per core (SO_REUSEPORT). Dovecot (installed with apt-get if
# missing): maildir, high-performance login processes (service_count = 0,
# one per core), imap processes reused (service_count = 0, spares kept),
# auth cache on, SCRAM-SHA-256 passwords with the same 4096 PBKDF2 rounds as
# ours, mail_fsync = optimized (the default: a saved mail is fsync'ed
# before the OK), maildir_very_dirty_syncs (safe while only Dovecot touches
# the maildir). Both get the same user, password, folder and messages
# (cpm-bench's deterministic generator, same seed).
#
# CPM_BENCH_CLUSTER_CONF (environment): extra lines for cpm-store's
# [cluster] section, e.g. "blob_file_threshold_kb = 1048576" to A/B a setting.
#
# Prints both rows, then the ratios (ops/s ours / theirs; p99 latency ours /
# theirs). Requires a build (make build-all). Run as root (Dovecot then runs
# mail as "nobody") or as an ordinary user (Dovecot runs as that user).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
BUILD=${BUILD:-build}
BIN=$REPO/$BUILD/bin
PROG=compare
# shellcheck source=deploy/lib.sh
. deploy/lib.sh

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
SCEN=$1
shift
CONNS=20 DUR=20 MSGS=10000 CHANGES=10 RATE=20 TLS=0 KEEP=0 ONLY=
while [ $# -gt 0 ]; do
	case $1 in
	-c) CONNS=$2; shift 2 ;;
	-d) DUR=$2; shift 2 ;;
	-m) MSGS=$2; shift 2 ;;
	-k) CHANGES=$2; shift 2 ;;
	--idle-rate) RATE=$2; shift 2 ;;
	--tls) TLS=1; shift ;;
	--keep) KEEP=1; shift ;;
	--only) ONLY=$2; shift 2 ;;
	*) usage ;;
	esac
done
ALL="login append fetch search store mixed idle resync"
if [ "$SCEN" = all ]; then
	SCENARIOS=$ALL
else
	case " $ALL " in *" $SCEN "*) SCENARIOS=$SCEN ;; *) die "unknown scenario $SCEN" ;; esac
fi
for b in cpm-backend cpm-frontend cpm-admin cpm-bench; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make build-all' first"
done

if ! [ -x /usr/sbin/dovecot ] || ! [ -x /usr/lib/dovecot/imap ]; then
	echo "$PROG: installing dovecot-imapd" >&2
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null
fi

CORES=$(nproc)
T=$(mktemp -d /tmp/cpm-compare.XXXXXX)
chmod 755 "$T"
PW=bench-$(random_password)
USER_NAME=bench
cpm_pids=()
dc_pid=""

cleanup() {
	local i
	for ((i = ${#cpm_pids[@]} - 1; i >= 0; i--)); do
		stop_proc "${cpm_pids[$i]}" cpm
	done
	if [ -n "$dc_pid" ] && alive "$dc_pid"; then
		/usr/sbin/dovecot -c "$T/dovecot/dovecot.conf" stop 2>/dev/null || kill "$dc_pid" 2>/dev/null || true
		for _ in $(seq 100); do alive "$dc_pid" || break; sleep 0.1; done
		alive "$dc_pid" && kill -KILL "$dc_pid" 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ]; then
		echo "$PROG: files kept in $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports: bound by the kernel, then released.
read -r P_IMAP P_IMAPS P_RPC P_FEED D_IMAP D_IMAPS < <(python3 -c '
import socket
s=[socket.socket() for _ in range(6)]
for x in s: x.bind(("127.0.0.1",0))
print(" ".join(str(x.getsockname()[1]) for x in s))')

deploy/gen-cert.sh "$T/tls" >/dev/null
chmod 755 "$T/tls"
chmod 644 "$T/tls/cert.pem" "$T/tls/key.pem"

# ---- cpm-store --------------------------------------------------------------
mkdir -p "$T/cpm"
cat > "$T/cpm/cpm.conf" <<EOF
[cluster]
secret = $(openssl rand -hex 32)
rpc_timeout_ms = 10000
default_folders = INBOX, Default
scram_iterations = 4096
log_level = warn
${CPM_BENCH_CLUSTER_CONF:-}

[shard.s1]
rpc = tcp://127.0.0.1:$P_RPC
feed = tcp://127.0.0.1:$P_FEED
data_dir = $T/cpm/s1
map_size_mb = 16384

[frontend]
workers = $CORES
hostname = localhost
imap_listen = 127.0.0.1:$P_IMAP
imap_proxy = off
imaps_listen = 127.0.0.1:$P_IMAPS
imaps_proxy = off
allow_plaintext_auth = yes
tls_cert = $T/tls/cert.pem
tls_key = $T/tls/key.pem
max_line = 65536
max_literal = 67108864
login_fail_delay_ms = 1000
EOF
"$BIN/cpm-backend" -c "$T/cpm/cpm.conf" -s s1 > "$T/cpm/backend.log" 2>&1 &
cpm_pids+=($!)
be_pid=$!
for _ in $(seq 150); do
	alive "$be_pid" || die "cpm-backend exited: $(tail -5 "$T/cpm/backend.log")"
	"$BIN/cpm-admin" -c "$T/cpm/cpm.conf" ping >/dev/null 2>&1 && break
	sleep 0.2
done
"$BIN/cpm-frontend" -c "$T/cpm/cpm.conf" > "$T/cpm/frontend.log" 2>&1 &
cpm_pids+=($!)
fe_pid=$!
for _ in $(seq 150); do
	alive "$fe_pid" || die "cpm-frontend exited: $(tail -5 "$T/cpm/frontend.log")"
	port_busy "$P_IMAP" && port_busy "$P_IMAPS" && break
	sleep 0.2
done
printf '%s\n' "$PW" | "$BIN/cpm-admin" -c "$T/cpm/cpm.conf" user add "$USER_NAME" >/dev/null \
	|| die "cpm-admin user add failed"

# ---- Dovecot -------------------------------------------------------------------
D=$T/dovecot
mkdir -p "$D/run" "$D/home/$USER_NAME"
if [ "$(id -u)" = 0 ]; then
	MAIL_USER=nobody MAIL_GROUP=nogroup
	INTERNAL="default_internal_user = dovecot
default_login_user = dovenull"
else
	MAIL_USER=$(id -un) MAIL_GROUP=$(id -gn)
	INTERNAL="default_internal_user = $MAIL_USER
default_login_user = $MAIL_USER"
fi
chown -R "$MAIL_USER:$MAIL_GROUP" "$D/home"
scram=$(/usr/bin/doveadm pw -s SCRAM-SHA-256 -p "$PW")
printf '%s:%s\n' "$USER_NAME" "$scram" > "$D/passwd"
chmod 644 "$D/passwd"
cat > "$D/dovecot.conf" <<EOF
# Written by bench/compare.sh: Dovecot tuned for speed without losing mail.
base_dir = $D/run
state_dir = $D/state
instance_name = cpm-compare-$$
log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
$INTERNAL
ssl = yes
ssl_cert = <$T/tls/cert.pem
ssl_key = <$T/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain
auth_cache_size = 10M
auth_cache_ttl = 1 hour
passdb {
  driver = passwd-file
  args = $D/passwd
}
userdb {
  driver = static
  args = uid=$MAIL_USER gid=$MAIL_GROUP home=$D/home/%u
}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = optimized
maildir_very_dirty_syncs = yes
mail_max_userip_connections = 1000000
namespace inbox {
  inbox = yes
  separator = /
}
default_process_limit = 100000
default_client_limit = 200000
default_vsz_limit = 1G
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $D_IMAP
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $D_IMAPS
    ssl = yes
  }
  service_count = 0
  process_min_avail = $CORES
  client_limit = 100000
}
service imap {
  service_count = 0
  process_min_avail = $CORES
  process_limit = 100000
}
service auth {
  client_limit = 200000
}
service anvil {
  client_limit = 200000
}
EOF
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
/usr/sbin/dovecot -F -c "$D/dovecot.conf" > "$D/stdout.log" 2>&1 &
dc_pid=$!
for _ in $(seq 150); do
	alive "$dc_pid" || die "dovecot exited: $(tail -5 "$D/stdout.log" "$D/dovecot.log" 2>/dev/null)"
	port_busy "$D_IMAP" && port_busy "$D_IMAPS" && break
	sleep 0.2
done

# ---- runs -----------------------------------------------------------------------
echo "$PROG: $CORES cores; cpm-store: 1 back-end + front-end with $CORES workers (pids $be_pid $fe_pid);" \
	"dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1) (pid $dc_pid); $CONNS connections, ${DUR}s per run," \
	"$MSGS messages; files in $T" >&2
results=$T/results.jsonl
: > "$results"
run() { # label port scenario pid...
	local label=$1 port=$2 scen=$3
	shift 3
	local extra=()
	if [ "$TLS" = 1 ]; then
		extra+=(--tls --ca "$T/tls/cert.pem")
	fi
	for p in "$@"; do
		extra+=(--pid "$p")
	done
	"$BIN/cpm-bench" -s "$scen" -H 127.0.0.1 -p "$port" -u "$USER_NAME" -w "$PW" -f bench \
		-c "$CONNS" -d "$DUR" -m "$MSGS" -k "$CHANGES" --idle-rate "$RATE" -l "$label" --json "${extra[@]}" \
		>> "$results" || echo "$PROG: cpm-bench $scen against $label failed (exit $?)" >&2
}
for s in $SCENARIOS; do
	echo "$PROG: $s ..." >&2
	if [ "$TLS" = 1 ]; then cp=$P_IMAPS dp=$D_IMAPS; else cp=$P_IMAP dp=$D_IMAP; fi
	# Each pid brings its descendants: the front-end's workers, Dovecot's children.
	[ "$ONLY" = dovecot ] || run cpm-store "$cp" "$s" "$be_pid" "$fe_pid"
	[ "$ONLY" = cpm-store ] || run dovecot "$dp" "$s" "$dc_pid"
done

python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hdr = "%-7s %-9s %6s %9s %9s %8s %8s %8s %9s %6s %8s %9s %9s %s" % (
    "scen", "server", "conns", "ops", "ops/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
    "cpu s", "rss MB", "anon MB", "status")
print(hdr)
by = {}
for r in rows:
    cpu = sum(g["cpu_s"] for g in r["process_groups"])
    rss = sum(g["peak_rss_kb_sum"] for g in r["process_groups"]) / 1024.0
    anon = sum(g.get("peak_anon_kb_sum", 0) for g in r["process_groups"]) / 1024.0
    l = r["latency_ms"]
    print("%-7s %-9s %6d %9d %9.1f %8.2f %8.2f %8.2f %9.2f %6d %8.2f %9.1f %9.1f %s" % (
        r["scenario"], r["label"], r["connections"], r["ops"], r["ops_per_s"], l["p50"], l["p95"], l["p99"],
        l["max"], r["errors"], cpu, rss, anon, r["status"]))
    if r.get("idle"):
        print("        %s: %.1f KB server memory per idle session (PSS), pushes %d/%d" % (
            r["label"], r["idle"]["server_kb_per_session"], r["idle"]["pushes_seen"],
            r["idle"]["pushes_expected"]))
    if r["first_error"]:
        print("        %s: %s" % (r["label"], r["first_error"]))
    by.setdefault(r["scenario"], {})[r["label"]] = r
print()
print("%-7s %18s %22s" % ("scen", "ops/s ours/theirs", "p99 latency ours/theirs"))
for s, d in by.items():
    a, b = d.get("cpm-store"), d.get("dovecot")
    if not a or not b or a["status"] != "ok" or b["status"] != "ok" or not b["ops_per_s"]:
        print("%-7s %18s %22s" % (s, "n/a", "n/a"))
        continue
    p = b["latency_ms"]["p99"]
    print("%-7s %18.2f %22s" % (s, a["ops_per_s"] / b["ops_per_s"],
                                "%.2f" % (a["latency_ms"]["p99"] / p) if p else "n/a"))
EOF
