#!/usr/bin/env bash
# soak.sh — is kvharness's memory flat over a long run? Runs one open-loop
# workload at a fixed rate against a spawned nats-server (so the harness's
# RSS is its own, not the server's), samples the harness's RSS every 10 s,
# and prints the series and its least-squares slope. `make soak` runs it.
#
# Env: MINUTES (10) RATE (2000) CLIENTS (8) KEYS (1000)
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-10} RATE=${RATE:-2000} CLIENTS=${CLIENTS:-8} KEYS=${KEYS:-1000}
SERVER=.tools/bin/nats-server-v2.15.2
KVH=bin/kvharness
out=$(mktemp -d /tmp/kvharness-soak.XXXXXX)
trap 'rm -rf "$out"' EXIT

"$KVH" run single --server-bin "$SERVER" --rate "$RATE" --clients "$CLIENTS" --keys "$KEYS" \
  --history 1 --duration "${MINUTES}m" --quiet --out "$out/run" >"$out/stdout" 2>&1 &
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
python3 - "$samples" "$RATE" <<'PY'
import sys
pts = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
pts = [p for p in pts if p[0] >= 30]  # after warm-up: histograms and buffers allocated
print(f"soak: open loop {sys.argv[2]} ops/s, harness RSS every 10 s (after 30 s warm-up)")
for t, kb in pts:
    print(f"  {t:6.0f} s  {kb/1024:8.1f} MB")
n = len(pts)
if n >= 2:
    mt = sum(t for t, _ in pts) / n
    mk = sum(k for _, k in pts) / n
    slope = sum((t - mt) * (k - mk) for t, k in pts) / sum((t - mt) ** 2 for t, _ in pts)
    print(f"slope: {slope * 60 / 1024:+.2f} MB/min over {pts[-1][0] - pts[0][0]:.0f} s ({n} samples)")
PY
tail -3 "$out/stdout"
