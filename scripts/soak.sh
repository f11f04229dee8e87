#!/usr/bin/env bash
# soak.sh — does kvharness hold up over a long run? Runs one workload
# against a spawned nats-server (so the harness's RSS is its own, not the
# server's), samples the harness's RSS every 10 s during the workload and
# prints the series and its least-squares slope; then the history's size
# per operation, and the time and peak RSS of checking it again offline
# (`kvharness check`, the same work the run did at its end). `make soak`
# runs it.
#
# Two modes:
#   open loop (default): RATE ops/s on KEYS keys, history 1 per key;
#   full speed (FULL=1): closed loop on 64 keys with the bucket's default
#     history, the shape of a nightly run — e.g. `make soak FULL=1 MINUTES=60`.
# COMPRESS=1 writes the history compressed (--compress-history).
#
# KEEP=dir keeps the run's results folder (history included) in dir, to check
# it again later.
#
# Env: MINUTES (10) RATE (2000) CLIENTS (8) KEYS (1000; 64 with FULL=1) FULL COMPRESS KEEP
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-10} RATE=${RATE:-2000} CLIENTS=${CLIENTS:-8} FULL=${FULL:-} COMPRESS=${COMPRESS:-}
SERVER=.tools/bin/nats-server-v2.15.2
KVH=bin/kvharness
out=$(mktemp -d /tmp/kvharness-soak.XXXXXX)
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  trap 'mv "$out/run" "$KEEP/" 2>/dev/null; rm -rf "$out"; echo "kept: $KEEP/run"' EXIT
else
  trap 'rm -rf "$out"' EXIT
fi

args=(run single --server-bin "$SERVER" --clients "$CLIENTS" --duration "${MINUTES}m" --quiet --out "$out/run")
if [ -n "$FULL" ]; then
  KEYS=${KEYS:-64}
  mode="closed loop (full speed), $KEYS keys"
  args+=(--keys "$KEYS")
else
  KEYS=${KEYS:-1000}
  mode="open loop $RATE ops/s, $KEYS keys"
  args+=(--rate "$RATE" --keys "$KEYS" --history 1)
fi
[ -n "$COMPRESS" ] && args+=(--compress-history)

# peak_rss PID: the process's peak RSS (kB) as last seen before it exits.
peak_rss() {
  local hwm=0 v
  while kill -0 "$1" 2>/dev/null; do
    v=$(awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
    [ -n "$v" ] && hwm=$v
    sleep 0.5
  done
  echo "$hwm"
}

"$KVH" "${args[@]}" >"$out/stdout" 2>&1 &
pid=$!
samples="$out/rss"
: >"$samples"
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  t=$(( $(date +%s) - start ))
  # Only the workload phase: the final reads and the check come after it.
  if [ -n "$rss" ] && [ "$t" -le $((MINUTES * 60)) ]; then
    echo "$t $rss" >>"$samples"
  fi
  sleep 10
done
wait "$pid" || true

history=$(ls "$out"/run/history.jsonl* | head -1)
check_start=$(date +%s%N)
"$KVH" check "$history" >"$out/check" 2>&1 &
cpid=$!
check_peak=$(peak_rss "$cpid")
wait "$cpid" || true
check_ms=$(( ($(date +%s%N) - check_start) / 1000000 ))

python3 - "$samples" "$mode" "$out/run/summary.json" "$history" "$check_ms" "$check_peak" "$out/check" <<'PY'
import csv, json, os, sys
samples, mode, summary, history, check_ms, check_peak, check_out = sys.argv[1:]
check_secs = int(check_ms) / 1000
pts = [tuple(map(float, l.split())) for l in open(samples) if l.strip()]
pts = [p for p in pts if p[0] >= 30]  # after warm-up: histograms and buffers allocated
print(f"soak: {mode}, harness RSS every 10 s (after 30 s warm-up)")
for t, kb in pts:
    print(f"  {t:6.0f} s  {kb/1024:8.1f} MB")
def slope(pts):
    """least-squares slope of (t, v) points, per minute"""
    n = len(pts)
    if n < 2:
        return None
    mt, mv = sum(t for t, _ in pts) / n, sum(v for _, v in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts)
    return sum((t - mt) * (v - mv) for t, v in pts) / den * 60 if den else None

def report(name, pts):
    """slope over the whole series and over its last 30 minutes (its last half if 30 minutes or shorter)"""
    whole = slope(pts)
    if whole is None:
        return
    span = pts[-1][0] - pts[0][0]
    tail_from = pts[-1][0] - (1800 if span > 1800 else span / 2)
    tail = slope([p for p in pts if p[0] >= tail_from])
    tail = f"{tail:+.2f} MB/min" if tail is not None else "too few samples"
    print(f"{name}: {pts[0][1]:.1f} -> {pts[-1][1]:.1f} MB, slope {whole:+.2f} MB/min over {span:.0f} s, "
          f"{tail} over the last {pts[-1][0] - tail_from:.0f} s")

report("harness RSS", [(t, kb / 1024) for t, kb in pts])
# The Go runtime's own figures, sampled each second by the run (resources.csv):
# a leak grows the live heap; RSS that creeps while the live heap is flat is
# the runtime touching pages of memory it has already mapped.
try:
    rows = list(csv.DictReader(open(os.path.join(os.path.dirname(summary), "resources.csv"))))
    rows = [r for r in rows if float(r["t_sec"]) >= 30]
    report("harness live heap", [(float(r["t_sec"]), float(r["harness_heap_live_mb"])) for r in rows])
    report("harness Go total", [(float(r["t_sec"]), float(r["harness_go_total_mb"])) for r in rows])
except (OSError, ValueError, KeyError) as e:
    print(f"no Go runtime figures: {e}")
try:
    s = json.load(open(summary))
    ops = sum(o["ok"] + o["fail"] + o["unknown"] for name, o in s["ops"].items() if name != "watch")
    size = os.path.getsize(history)
    print(f"run: {ops} ops in {s['duration_sec']:.0f} s ({s['throughput_ops_per_sec']:.0f} ops/s), verdict {s['verdict']}")
    print(f"history: {os.path.basename(history)} {size / 1e6:.1f} MB, {size / max(ops, 1):.1f} bytes per op")
    print(f"check: {float(check_secs):.1f} s, peak RSS {int(check_peak) / 1024:.0f} MB, "
          f"{ops / max(float(check_secs), 0.001):.0f} ops/s checked")
except (OSError, ValueError, KeyError) as e:
    print(f"no summary: {e}")
for line in open(check_out).read().splitlines()[-2:]:
    print("  " + line)
PY
