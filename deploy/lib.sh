# deploy/lib.sh: helpers shared by run-single.sh and run-cluster.sh (sourced).
# The sourcing script sets PROG (its name, for messages) first.

die() { echo "$PROG: $*" >&2; exit 1; }

# Whether something accepts connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# stop_proc PID NAME: SIGTERM, wait up to 10 s, then SIGKILL.
stop_proc() {
	local pid=$1 name=$2
	alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		echo "$PROG: $name did not stop in 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# A random password of 16 characters.
random_password() { openssl rand -base64 18 | tr -d '/+=\n' | cut -c1-16; }
