#!/usr/bin/env bash
# whatif.sh — what durability costs: `kvharness capacity` of one workload
# on this machine for each replica count and storage, one table. Five
# spawned nodes throughout (R5 needs them), so only the bucket differs.
# `make whatif` runs it; each cell is a whole capacity search.
#
# Env: SCENARIO (single) SLO (put.p99<10ms,error_rate<0.1%) STEP (5s)
#      WARMUP (1s) REPLICAS ("1 3 5") STORAGES ("file memory")
#      OUT (results/whatif)
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${SCENARIO:-single} SLO=${SLO:-put.p99<10ms,error_rate<0.1%} STEP=${STEP:-5s} WARMUP=${WARMUP:-1s}
REPLICAS=${REPLICAS:-1 3 5} STORAGES=${STORAGES:-file memory} OUT=${OUT:-results/whatif}
SERVER=.tools/bin/nats-server-v2.15.2
KVH=bin/kvharness
rm -rf "$OUT" && mkdir -p "$OUT"
rows=()
for storage in $STORAGES; do
  for r in $REPLICAS; do
    dir="$OUT/R$r-$storage"
    "$KVH" capacity "$SCENARIO" --server-bin "$SERVER" --nodes 5 --replicas "$r" --storage "$storage" \
      --slo "$SLO" --step "$STEP" --step-warmup "$WARMUP" --quiet --out "$dir" >/dev/null 2>&1 || true
    rows+=("$(jq -r --arg r "R$r" --arg s "$storage" '[$r, $s, (.max_rate|floor), (.broke_at|floor), ((.broken_by // [])|join(",")), (.closed_loop_max|floor), .verdict] | @tsv' "$dir/capacity.json")")
    echo "whatif: R$r $storage done" >&2
  done
done
echo "capacity at $SLO, $SCENARIO on 5 spawned nodes ($("$SERVER" --version | awk '{print $NF}')), steps of $STEP"
printf '%-4s %-7s %10s %10s %-14s %16s  %s\n' "R" "storage" "max ops/s" "broke at" "by" "closed loop ops/s" "verdict"
for row in "${rows[@]}"; do
  IFS=$'\t' read -r r s m b by cl v <<<"$row"
  printf '%-4s %-7s %10s %10s %-14s %16s  %s\n' "$r" "$s" "$m" "$b" "$by" "$cl" "$v"
done
