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

(cd "$root" && go build -o "$work/kmipd" ./cmd/kmipd)

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

if [ -n "${HSMLIMIT:-}" ] && [ "$PAIRS" -gt 0 ]; then
	echo
	echo "== Encrypt against SoftHSM alone, $PAIRS interleaved pairs of $DURATION windows"
	for i in $(seq 1 "$PAIRS"); do
		(cd "$work/hsmlimit" && go run . -d "$DURATION" -reps 1 -conc 1 \
			-ops encrypt-gcm-64-sesskey,encrypt-gcm-4k-sesskey -json "$work/pair-$i-hsm.json" >"$work/pair-$i-hsm.log" 2>&1)
		bench --duration "$DURATION" --reps 1 --connections 4,16 --ops encrypt-64,encrypt-4k --json \
			>"$work/pair-$i-kmipd.json" 2>/dev/null
	done
	python3 - "$work" "$PAIRS" <<'PY'
import json, statistics, sys
work, pairs = sys.argv[1], int(sys.argv[2])
cases = {"encrypt-64": "encrypt-gcm-64-sesskey", "encrypt-4k": "encrypt-gcm-4k-sesskey"}
ratios = {}
print(f"{'pair':>4}  {'operation':<11}{'hsmlimit/s':>11}{'4 conns/s':>11}{'ratio':>7}{'16 conns/s':>12}{'ratio':>7}")
for i in range(1, pairs + 1):
    hsm = {r["case"]: r["median_ops_per_s"] for r in json.load(open(f"{work}/pair-{i}-hsm.json"))["results"]}
    kmipd = {(r["op"], r["connections"]): r["ops_per_sec"] for r in json.load(open(f"{work}/pair-{i}-kmipd.json"))["results"]}
    for op, case in cases.items():
        line = f"{i:>4}  {op:<11}{hsm[case]:>11,.0f}"
        for conns in (4, 16):
            r = kmipd[(op, conns)] / hsm[case]
            ratios.setdefault((op, conns), []).append(r)
            line += f"{kmipd[(op, conns)]:>11,.0f}{r:>7.1%}" if conns == 4 else f"{kmipd[(op, conns)]:>12,.0f}{r:>7.1%}"
        print(line)
for (op, conns), rs in sorted(ratios.items()):
    print(f"median share of SoftHSM alone, {op} at {conns} connections: {statistics.median(rs):.1%} (pairs: {', '.join(f'{r:.1%}' for r in rs)})")
PY
fi
