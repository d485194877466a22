#!/usr/bin/env bash
# ab-server.sh: compare two versions of kmipd on one operation, in
# interleaved pairs of fresh servers, so that both sides of each pair see
# the same state of the VM (whose speed drifts by a third within minutes;
# see bench-server.sh).
#
#   scripts/ab-server.sh BASE [NEW]          # git refs; NEW defaults to the working tree
#   OP=create CONNS=16 PAIRS=5 DURATION=3s scripts/ab-server.sh 8060071
#
# Each pair starts a fresh `kmipd dev` of BASE, measures OP at CONNS
# connections for DURATION, stops it, and does the same with NEW; the
# client is NEW's `kmipd bench` for both. It prints every pair's rates and
# ratio, how many pairs NEW won, and the median ratio.
set -euo pipefail

BASE=${1:?usage: ab-server.sh BASE [NEW]}
NEW=${2:-}
OP=${OP:-create}
CONNS=${CONNS:-16}
PAIRS=${PAIRS:-5}
DURATION=${DURATION:-3s}
PORT=${PORT:-15697}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
# shellcheck source=scripts/devserver.sh
. "$root/scripts/devserver.sh"
cleanup() {
	stop_dev_server
	git -C "$root" worktree remove --force "$work/src-base" 2>/dev/null || true
	git -C "$root" worktree remove --force "$work/src-new" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# build REF OUT: build kmipd at git ref REF (the working tree if REF is
# empty) into OUT.
build() {
	if [ -z "$1" ]; then
		(cd "$root" && go build -o "$2" ./cmd/kmipd)
		return
	fi
	local src="$work/src-$(basename "$2")"
	git -C "$root" worktree add --quiet --detach "$src" "$1"
	(cd "$src" && go build -o "$2" ./cmd/kmipd)
}
build "$BASE" "$work/base"
build "$NEW" "$work/new"

# measure BIN: ops/s of OP against a fresh server of BIN.
measure() {
	local dir="$work/dev-$RANDOM"
	start_dev_server "$1" "$work/new" "$dir" "$PORT"
	dev_bench --ops "$OP" --connections "$CONNS" --duration "$DURATION" 2>/dev/null | awk -v op="$OP" '$1 == op { print $3 }'
	stop_dev_server
	rm -rf "$dir" "$dir.log"
}

echo "== $OP at $CONNS connections, $PAIRS pairs of $DURATION windows: ${BASE} against ${NEW:-the working tree}"
ratios=()
for i in $(seq 1 "$PAIRS"); do
	a=$(measure "$work/base")
	b=$(measure "$work/new")
	r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')
	ratios+=("$r")
	printf 'pair %d: base %s/s, new %s/s, ratio %s\n' "$i" "$a" "$b" "$r"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '
	{ r[NR] = $1; if ($1 > 1) won++ }
	END {
		m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
		printf "new won %d of %d pairs; median ratio %.3f (range %.3f..%.3f)\n", won, NR, m, r[1], r[NR]
	}'
