#!/usr/bin/env bash
# bench-server.sh: measure a fresh kmipd over mutual TLS with `kmipd bench`,
# and, when HSMLIMIT names the hsmlimit tool's directory, the raw SoftHSM
# limit in the same session, so the two can be read side by side.
#
#   scripts/bench-server.sh                      # kmipd only
#   HSMLIMIT=../shared/bench/hsmlimit scripts/bench-server.sh
#   DURATION=10s CONNS=1,4,16 OPS=get,encrypt-4k REPS=5 scripts/bench-server.sh
#   HSMLIMIT=../shared/bench/hsmlimit PAIRS=5 OPS=none scripts/bench-server.sh   # pairs only
#
# Each figure is the median of REPS runs (default 3), as hsmlimit reports
# the median of its windows, so that the two are read alike. Locate
# searches a store of at least LOCATE_KEYS named keys (default 10,000, the
# size the managed-objects goal names).
#
# With HSMLIMIT and PAIRS=N (default 3), the Encrypt goals are then measured
# in N interleaved pairs: one hsmlimit window of SoftHSM alone (one session,
# session-object key), then kmipd's Encrypt at 4 and 16 connections, each
# window DURATION long; every pair gives a ratio and the median is printed.
# Each pair then measures the same at bareserver (scripts/bareserver): a
# mutual-TLS server that only runs hsmlimit's encryption per request, with
# kmipd's message sizes, the most any server could reach here with the
# client on the same cores; kmipd's share of it is printed too.
# The VM's speed drifts by a third within minutes (hsmlimit's own figure for
# 64-byte AES-GCM went from 52,000 to 87,000/s between two runs of this
# script), so a ratio of windows taken minutes apart says little; windows
# taken seconds apart share the drift. PAIRS=0 skips them.
#
# The server runs `kmipd dev` in a temporary directory on a free loopback
# port and is stopped at the end; nothing outside that directory changes.
set -euo pipefail

DURATION=${DURATION:-3s}
REPS=${REPS:-3}
PAIRS=${PAIRS:-3}
LOCATE_KEYS=${LOCATE_KEYS:-10000}
CONNS=${CONNS:-1,4,16}
OPS=${OPS:-create,get,locate,encrypt-64,encrypt-4k,decrypt-64,decrypt-4k,sign-p256}
PORT=${PORT:-15696}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
# shellcheck source=scripts/devserver.sh
. "$root/scripts/devserver.sh"
cleanup() {
	stop_dev_server
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/kmipd" ./cmd/kmipd && go build -o "$work/bareserver" ./scripts/bareserver)

if [ -n "${HSMLIMIT:-}" ]; then
	echo "== hsmlimit (raw SoftHSM, no server): $HSMLIMIT"
	cp -r "$HSMLIMIT" "$work/hsmlimit"
	(cd "$work/hsmlimit" && go run . -d 2s -reps 3)
	echo
fi

start_dev_server "$work/kmipd" "$work/kmipd" "$work/dev" "$PORT"
bench() { dev_bench "$@"; }

if [ "$OPS" != none ]; then
	echo "== kmipd bench ($(nproc) cores, client and server on this machine)"
	bench --duration "$DURATION" --reps "$REPS" --locate-keys "$LOCATE_KEYS" --connections "$CONNS" --ops "$OPS"
fi

# bare_pair OUT: bareserver's Encrypt at 4 and 16 connections, 64 B and
# 4 KiB, one DURATION window each, on the dev server's token, into OUT.
bare_pair() {
	local addr="127.0.0.1:$((PORT + 2))" pid
	SOFTHSM2_CONF="$work/dev/softhsm/softhsm2.conf" "$work/bareserver" -serve -addr "$addr" \
		-certs "$work/dev/certs" -pin-file "$work/dev/softhsm/user.pin" 2>"$1.log" &
	pid=$!
	local ready=
	for _ in $(seq 1 50); do
		"$work/bareserver" -addr "$addr" -certs "$work/dev/certs" -duration 10ms >/dev/null 2>&1 && ready=1 && break
		sleep 0.1
	done
	if [ -z "$ready" ]; then
		echo "$(basename "$0"): bareserver did not answer within 5 s:" >&2
		cat "$1.log" >&2
		exit 1
	fi
	: >"$1"
	for size in 64 4096; do
		for conns in 4 16; do
			"$work/bareserver" -addr "$addr" -certs "$work/dev/certs" -size "$size" -connections "$conns" \
				-duration "$DURATION" >>"$1"
		done
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

if [ -n "${HSMLIMIT:-}" ] && [ "$PAIRS" -gt 0 ]; then
	echo
	echo "== Encrypt against SoftHSM alone, $PAIRS interleaved pairs of $DURATION windows"
	for i in $(seq 1 "$PAIRS"); do
		(cd "$work/hsmlimit" && go run . -d "$DURATION" -reps 1 -conc 1 \
			-ops encrypt-gcm-64-sesskey,encrypt-gcm-4k-sesskey -json "$work/pair-$i-hsm.json" >"$work/pair-$i-hsm.log" 2>&1)
		bench --duration "$DURATION" --reps 1 --connections 4,16 --ops encrypt-64,encrypt-4k --json \
			>"$work/pair-$i-kmipd.json" 2>/dev/null
		bare_pair "$work/pair-$i-bare.txt"
	done
	python3 - "$work" "$PAIRS" <<'PY'
import json, statistics, sys
work, pairs = sys.argv[1], int(sys.argv[2])
cases = {"encrypt-64": ("encrypt-gcm-64-sesskey", 64), "encrypt-4k": ("encrypt-gcm-4k-sesskey", 4096)}
ratios = {}
print(f"{'pair':>4}  {'operation':<11}{'hsmlimit/s':>11}  {'conns':>5}{'kmipd/s':>9}{'share':>7}{'bare/s':>9}{'share':>7}{'kmipd/bare':>11}")
for i in range(1, pairs + 1):
    hsm = {r["case"]: r["median_ops_per_s"] for r in json.load(open(f"{work}/pair-{i}-hsm.json"))["results"]}
    kmipd = {(r["op"], r["connections"]): r["ops_per_sec"] for r in json.load(open(f"{work}/pair-{i}-kmipd.json"))["results"]}
    bare = {}
    for line in open(f"{work}/pair-{i}-bare.txt"):
        _, size, conns, ops = line.split()
        bare[(int(size), int(conns))] = float(ops)
    for op, (case, size) in cases.items():
        for conns in (4, 16):
            k, b, h = kmipd[(op, conns)], bare[(size, conns)], hsm[case]
            for what, r in (("kmipd", k / h), ("bare", b / h), ("kmipd/bare", k / b)):
                ratios.setdefault((op, conns, what), []).append(r)
            print(f"{i:>4}  {op:<11}{h:>11,.0f}  {conns:>5}{k:>9,.0f}{k / h:>7.1%}{b:>9,.0f}{b / h:>7.1%}{k / b:>11.1%}")
names = {"kmipd": "kmipd's share of SoftHSM alone", "bare": "bareserver's share of SoftHSM alone", "kmipd/bare": "kmipd's share of bareserver"}
for what in ("kmipd", "bare", "kmipd/bare"):
    for op in cases:
        for conns in (4, 16):
            rs = ratios[(op, conns, what)]
            print(f"median {names[what]}, {op} at {conns} connections: {statistics.median(rs):.1%} (pairs: {', '.join(f'{r:.1%}' for r in rs)})")
PY
fi
