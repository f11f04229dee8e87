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

# Coordinated omission, shown: an open-loop run at a fixed rate on a spawned
# server that is frozen (SIGSTOP) for 1 s in the middle. Latency measured
# from each op's intended start shows the stall in p99; the service time
# (from when the op was finally sent), what closed-loop tools report, hides
# it: only the few ops in flight when the server froze waited.
CO_RATE=${CO_RATE:-2000}
co="$DIR.out/co"
"$KVH" run single --server-bin "$SERVER" --mix put=1,get=1 --clients "$CLIENTS" --rate "$CO_RATE" --duration 10s \
  --faults pause --fault-start 4s --fault-interval 30s --fault-duration 1s --quiet --out "$co" >/dev/null || true
echo
echo "coordinated omission: open loop at $CO_RATE ops/s for 10 s, the spawned server paused (SIGSTOP) for 1 s at 4 s"
python3 - "$co/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{'op':<6} {'p99 from intended start (corrected)':>38} {'p99 service time (uncorrected)':>32}")
for op in ("put", "get"):
    o = s["ops"].get(op)
    if o:
        print(f"{op:<6} {o['latency_us']['p99']/1000:>35.1f} ms {o['service_latency_us']['p99']/1000:>29.1f} ms")
print(f"late ops (started >1 ms behind schedule): {s.get('late_ops', 0)}")
PY

# Checker scale: simulated histories of a linearizable bucket over 1,000
# keys with 5 % unknown outcomes (checker/bench_test.go), checked by
# `kvharness check` alone: wall time and peak RSS, 100k to 1M operations.
hdir="$DIR.out/histories"
mkdir -p "$hdir"
KVHARNESS_BENCH_HISTORY="$hdir" go test -run '^$' -bench CheckScale -benchtime 1x ./checker >/dev/null
echo
echo "checker: kvharness check on simulated histories, 1,000 keys, 5 % unknown outcomes"
printf '%-10s %10s %14s\n' "ops" "seconds" "peak RSS MB"
measure() { # command...: prints wall seconds and the child's peak RSS in KB
  python3 -c 'import resource, subprocess, sys, time
t = time.time(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(f"{time.time() - t:.1f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")' "$@"
}
for n in 100000 300000 1000000; do
  read -r secs kb < <(measure "$KVH" check "$hdir/$n.jsonl")
  printf '%-10s %10s %14s\n' "$n" "$secs" "$((kb / 1024))"
done
