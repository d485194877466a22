#!/usr/bin/env bash
# bench-server.sh: measure a fresh kmipd over mutual TLS with `kmipd bench`,
# and, when HSMLIMIT names the hsmlimit tool's directory, the raw SoftHSM
# limit in the same session, so the two can be read side by side.
#
#   scripts/bench-server.sh                      # kmipd only
#   HSMLIMIT=../shared/bench/hsmlimit scripts/bench-server.sh
#   DURATION=10s CONNS=1,4,16 OPS=get,encrypt-4k REPS=5 scripts/bench-server.sh
#
# Each figure is the median of REPS runs (default 3), as hsmlimit reports
# the median of its windows, so that the two are read alike. Locate
# searches a store of at least LOCATE_KEYS named keys (default 10,000, the
# size the managed-objects goal names).
#
# The server runs `kmipd dev` in a temporary directory on a free loopback
# port and is stopped at the end; nothing outside that directory changes.
set -euo pipefail

DURATION=${DURATION:-3s}
REPS=${REPS:-3}
LOCATE_KEYS=${LOCATE_KEYS:-10000}
CONNS=${CONNS:-1,4,16}
OPS=${OPS:-create,get,locate,encrypt-64,encrypt-4k,decrypt-64,decrypt-4k,sign-p256}
PORT=${PORT:-15696}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/kmipd" ./cmd/kmipd)

if [ -n "${HSMLIMIT:-}" ]; then
	echo "== hsmlimit (raw SoftHSM, no server): $HSMLIMIT"
	cp -r "$HSMLIMIT" "$work/hsmlimit"
	(cd "$work/hsmlimit" && go run . -d 2s -reps 3)
	echo
fi

"$work/kmipd" dev --data-dir "$work/dev" --listen "127.0.0.1:$PORT" --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
certs="$work/dev/certs"
bench() {
	"$work/kmipd" bench --addr "127.0.0.1:$PORT" --ca "$certs/ca.pem" --cert "$certs/client.pem" \
		--key "$certs/client-key.pem" --server-name localhost "$@"
}
for _ in $(seq 1 100); do
	if [ -f "$certs/client-key.pem" ] && bench --ops get --connections 1 --duration 100ms >/dev/null 2>&1; then
		break
	fi
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "bench-server: kmipd dev did not start:" >&2
		cat "$work/server.log" >&2
		exit 1
	fi
	sleep 0.2
done

echo "== kmipd bench ($(nproc) cores, client and server on this machine)"
bench --duration "$DURATION" --reps "$REPS" --locate-keys "$LOCATE_KEYS" --connections "$CONNS" --ops "$OPS"
