#!/usr/bin/env bash
# bench.sh — kvharness vs `nats bench kv put`, side by side on one nats-server
# process: same clients, value size, keys and bucket settings, closed loop.
# Rounds alternate between the tools so drift on a busy machine hits both; the
# median of each is compared. Run by `make bench` (which builds the tools).
#
# Env: CLIENTS (8) MSGS (80000) SIZE (128) KEYS (16) ROUNDS (5)
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-8} MSGS=${MSGS:-80000} SIZE=${SIZE:-128} KEYS=${KEYS:-16} ROUNDS=${ROUNDS:-5}
TOOLS=.tools/bin
SERVER=$TOOLS/nats-server-v2.15.2
NATS=$TOOLS/nats
KVH=bin/kvharness
for b in "$SERVER" "$NATS" "$KVH"; do
  [ -x "$b" ] || { echo "bench: $b missing; run 'make bench'" >&2; exit 2; }
done

DIR=$(mktemp -d /tmp/kvharness-bench.XXXXXX)
rmdir "$DIR"
cleanup() { scripts/nats-cluster.sh stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR.out"; }
trap cleanup EXIT
URL=$(scripts/nats-cluster.sh start "$SERVER" "$DIR" 1 2>/dev/null | tail -1)
mkdir -p "$DIR.out"

# Both tools write to an R1 file bucket keeping one revision per key.
"$NATS" -s "$URL" kv add benchkv --history 1 --storage file --replicas 1 >/dev/null

nats_put() {
  "$NATS" -s "$URL" bench kv put --bucket benchkv --clients "$CLIENTS" --msgs "$MSGS" \
    --size "${SIZE}B" --randomize "$KEYS" --no-progress 2>&1 |
    sed -n 's/.*aggregated stats: \([0-9,]*\) msgs\/sec.*/\1/p' | tr -d ,
}
kvh_put() { # $1: extra flags
  local out="$DIR.out/run$RANDOM"
  "$KVH" run single --server "$URL" --mix put=1 --clients "$CLIENTS" --ops "$MSGS" \
    --value-size "$SIZE" --keys "$KEYS" --history 1 --quiet --out "$out" $1 >/dev/null
  python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["throughput_ops_per_sec"]))' "$out/summary.json"
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -a NB KW KN
for r in $(seq "$ROUNDS"); do
  NB+=("$(nats_put)")
  KN+=("$(kvh_put --no-watcher)")
  KW+=("$(kvh_put "")")
done
nb=$(echo "${NB[*]}" | median); kn=$(echo "${KN[*]}" | median); kw=$(echo "${KW[*]}" | median)

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo
echo "put throughput, 1 nats-server $("$SERVER" --version | awk '{print $NF}'), R1 file bucket (history 1), $CLIENTS clients, $SIZE B values, $KEYS keys, $MSGS ops per run, median of $ROUNDS"
printf '%-58s %10s  %s\n' "tool" "ops/s" "runs"
printf '%-58s %10s  %s\n' "nats bench kv put (natscli v0.5.0)" "$nb" "${NB[*]}"
printf '%-58s %10s  %s\n' "kvharness --mix put=1, history+histograms, no watcher" "$kn" "${KN[*]}"
printf '%-58s %10s  %s\n' "kvharness --mix put=1, history+histograms+rec. watcher" "$kw" "${KW[*]}"
echo
echo "ratio kvharness/nats bench (same clients, no watcher):   $(ratio "$kn" "$nb")"
echo "ratio kvharness/nats bench (with the recording watcher): $(ratio "$kw" "$nb")"
