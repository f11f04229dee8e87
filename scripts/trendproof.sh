#!/usr/bin/env bash
# trendproof.sh — does `kvharness trend` flag a slowdown that lands and
# stays, and only that? Runs NIGHTS runs of one scenario (three spawned
# nodes, scripts/abproof/base.yaml) as a nightly job would, one after
# another; from night SLOW_FROM on, every run carries a slowdown (every
# cluster route delayed 1 ms each way for the whole run: replication slower,
# as a server regression would make it) — then runs `kvharness trend`. Expect: no
# night before SLOW_FROM+RECENT-1 flagged, that night and the last flagged,
# exit 1. `make trend-proof` runs it.
#
# Env: NIGHTS (14) SLOW_FROM (12) OUT (results/trend-proof)
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTS=${NIGHTS:-14} SLOW_FROM=${SLOW_FROM:-12} OUT=${OUT:-results/trend-proof}
SERVER=.tools/bin/nats-server-v2.15.2
KVH=bin/kvharness
rm -rf "$OUT" && mkdir -p "$OUT/nights"
slow=(--faults latency --fault-target all --fault-latency 1ms --fault-start 1ms --fault-duration 3s --fault-interval 10s)
for n in $(seq 1 "$NIGHTS"); do
  args=(run scripts/abproof/base.yaml --server-bin "$SERVER" --quiet --out "$OUT/nights/night-$(printf %02d "$n")")
  what="as usual"
  if [ "$n" -ge "$SLOW_FROM" ]; then
    args+=("${slow[@]}")
    what="slowed"
  fi
  "$KVH" "${args[@]}" >/dev/null 2>&1 || true
  echo "night $n ($what): $(jq -r '"\(.verdict), \(.throughput_ops_per_sec|floor) ops/s, put p99 \(.ops.put.latency_us.p99/1000) ms"' "$OUT/nights/night-$(printf %02d "$n")/summary.json")"
done
set +e
"$KVH" trend "$OUT/nights" --out "$OUT/trend"
code=$?
echo "trend exit $code; page: $OUT/trend/trend.html"
