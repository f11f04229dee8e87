#!/usr/bin/env bash
# bench.sh — kvharness vs `nats bench kv put` and `kv get`, side by side on
# one nats-server process: same clients, value size, keys and bucket
# settings, closed loop; kvharness's throughput mode (--inflight) and its
# recording on vs off; then the coordinated-omission demonstration and the
# checker's scale. Rounds alternate between the tools so drift on a busy
# machine hits both; the median of each is compared. Run by `make bench`
# (which builds the tools).
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
nats_get() { # the keys exist: nats_put wrote them
  "$NATS" -s "$URL" bench kv get --bucket benchkv --clients "$CLIENTS" --msgs "$MSGS" \
    --randomize "$KEYS" --no-progress 2>&1 |
    sed -n 's/.*aggregated stats: \([0-9,]*\) msgs\/sec.*/\1/p' | tr -d ,
}
kvh() { # $1: mix, $2: extra flags; prints ops/s
  local out="$DIR.out/run$RANDOM"
  "$KVH" run single --server "$URL" --mix "$1" --clients "$CLIENTS" --ops "$MSGS" \
    --value-size "$SIZE" --keys "$KEYS" --history 1 --quiet --out "$out" $2 >"$out.txt"
  if grep -q '^recording off' "$out.txt"; then
    sed -n 's/.*: \([0-9]*\) ops\/s.*/\1/p' "$out.txt"
  else
    python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["throughput_ops_per_sec"]))' "$out/summary.json"
  fi
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -a NB NG KN KW KG KT KR
for r in $(seq "$ROUNDS"); do
  NB+=("$(nats_put)")
  NG+=("$(nats_get)")
  KN+=("$(kvh put=1 --no-watcher)")
  KW+=("$(kvh put=1 "")")
  KG+=("$(kvh get=1 "--no-watcher --preload")")
  KT+=("$(kvh put=1 "--no-watcher --inflight 64")")
  KR+=("$(kvh put=1 "--no-watcher --no-record")")
done
nb=$(echo "${NB[*]}" | median); ng=$(echo "${NG[*]}" | median)
kn=$(echo "${KN[*]}" | median); kw=$(echo "${KW[*]}" | median); kg=$(echo "${KG[*]}" | median)
kt=$(echo "${KT[*]}" | median); kr=$(echo "${KR[*]}" | median)

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo
echo "1 nats-server $("$SERVER" --version | awk '{print $NF}'), R1 file bucket (history 1), $CLIENTS clients, $SIZE B values, $KEYS keys, $MSGS ops per run, median of $ROUNDS rounds"
printf '%-62s %10s  %s\n' "tool" "ops/s" "runs"
printf '%-62s %10s  %s\n' "nats bench kv put (natscli v0.5.0)" "$nb" "${NB[*]}"
printf '%-62s %10s  %s\n' "nats bench kv get" "$ng" "${NG[*]}"
printf '%-62s %10s  %s\n' "kvharness --mix put=1, recording, no watcher" "$kn" "${KN[*]}"
printf '%-62s %10s  %s\n' "kvharness --mix put=1, recording + recording watcher" "$kw" "${KW[*]}"
printf '%-62s %10s  %s\n' "kvharness --mix get=1 --preload, recording, no watcher" "$kg" "${KG[*]}"
printf '%-62s %10s  %s\n' "kvharness --mix put=1 --inflight 64 (throughput mode)" "$kt" "${KT[*]}"
printf '%-62s %10s  %s\n' "kvharness --mix put=1 --no-record (recording off)" "$kr" "${KR[*]}"
echo
printf '%-62s %6s\n' "ratio" "x"
printf '%-62s %6s\n' "put: kvharness / nats bench kv put (closed loop)" "$(ratio "$kn" "$nb")"
printf '%-62s %6s\n' "put with the recording watcher / nats bench kv put" "$(ratio "$kw" "$nb")"
printf '%-62s %6s\n' "get: kvharness / nats bench kv get" "$(ratio "$kg" "$ng")"
printf '%-62s %6s\n' "throughput mode: kvharness --inflight 64 / nats bench kv put" "$(ratio "$kt" "$nb")"
printf '%-62s %6s\n' "recording on / recording off (1 - this = its cost)" "$(ratio "$kn" "$kr")"

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

# Capacity at an SLO against the closed-loop figure: the highest open-loop
# put rate whose p99 stays under 5 ms on the same server, beside what the
# closed loops reached. A closed loop says how fast the server can go with
# CLIENTS callers waiting on it; the SLO says how much of that a service
# may offer while its callers still get 5 ms.
SLO=${SLO:-put.p99<5ms}
cap="$DIR.out/capacity"
"$KVH" capacity single --server "$URL" --mix put=1 --clients "$CLIENTS" --value-size "$SIZE" --keys "$KEYS" --history 1 \
  --slo "$SLO" --step 5s --step-warmup 1s --quiet --out "$cap" >/dev/null || true
echo
echo "capacity: the highest open-loop put rate meeting $SLO (steps of 5 s, the boundary run 3 times) on the same server"
python3 - "$cap/capacity.json" "$nb" <<'PY'
import json, sys
c, nb = json.load(open(sys.argv[1])), float(sys.argv[2])
print(f"{'':<52} {'ops/s':>8}")
print(f"{'nats bench kv put, closed loop (median above)':<52} {nb:>8.0f}")
print(f"{'kvharness closed-loop step of the search':<52} {c['closed_loop_max']:>8.0f}")
print(f"{'kvharness capacity at the SLO (' + c['verdict'] + ')':<52} {c['max_rate']:>8.0f}")
if c["max_rate"] > 0:
    print(f"the closed-loop figure overstates what the SLO allows {nb / c['max_rate']:.1f}x (nats bench) and {c['closed_loop_max'] / c['max_rate']:.1f}x (kvharness's own)")
for n in c.get("notes") or []:
    print("note:", n)
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

# Checker on real recorded histories: `run single` (the default mix: puts,
# CAS updates, creates, gets, deletes) on 64 keys for a fixed op count,
# recorded compressed, then `kvharness check` alone on the history: wall
# time, peak RSS and operations checked per second — the whole command
# (reading the file is most of it), and the linearizability checks alone
# (their own time, in each check's detail).
echo
echo "checker: kvharness check on recorded histories (run single, 64 keys, default mix)"
printf '%-10s %10s %14s %12s %12s %16s\n' "ops" "seconds" "peak RSS MB" "ops/s" "bytes/op" "lin. ops/s"
for n in 300000 1000000; do
  "$KVH" run single --keys 64 --ops "$n" --compress-history --quiet --out "$hdir/real-$n" >/dev/null 2>&1 || true
  h="$hdir/real-$n/history.jsonl.zst"
  read -r secs kb < <(measure "$KVH" check "$h")
  "$KVH" check --json "$h" >"$hdir/real-$n.json" 2>/dev/null || true
  lin=$(python3 - "$hdir/real-$n.json" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1]))
ops, secs = 0, 0.0
for c in s["checks"]:
    m = re.match(r"(\d+) operations over .*; ([0-9.]+)(ms|s)\)", c["detail"])
    if c["name"].startswith("linearizable") and m:
        ops += int(m.group(1))
        secs += float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
print(f"{ops / secs:.0f}" if secs else "-")
PY
)
  printf '%-10s %10s %14s %12.0f %12.1f %16s\n' "$n" "$secs" "$((kb / 1024))" \
    "$(python3 -c "print($n / max($secs, 0.001))")" "$(python3 -c "import os; print(os.path.getsize('$h') / $n)")" "$lin"
done

# The same 1M-operation history with every key checked a stretch of time at
# a time (spans of 4k operations, as an hour-long run's keys are, in spans of
# 32k): what the spans cost against checking each key whole.
echo
echo "checker: the 1M-op recorded history, each key whole vs in spans (--check-span-ops)"
printf '%-22s %10s %14s\n' "keys" "seconds" "peak RSS MB"
h="$hdir/real-1000000/history.jsonl.zst"
for round in 1 2; do
  read -r secs kb < <(measure "$KVH" check --check-span-ops -1 "$h")
  printf '%-22s %10s %14s\n' "whole" "$secs" "$((kb / 1024))"
  read -r secs kb < <(measure "$KVH" check --check-span-ops 4096 "$h")
  printf '%-22s %10s %14s\n' "in spans of 4096 ops" "$secs" "$((kb / 1024))"
done
