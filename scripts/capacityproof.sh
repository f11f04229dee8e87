#!/usr/bin/env bash
# capacityproof.sh — does the rate `kvharness capacity` finds hold? Runs a
# capacity search (SCENARIO, SLO) against spawned servers, then plain
# open-loop runs of the same scenario at the rate found and at 1.5 times
# it, RUNS times each, alternating: at the rate found every run should
# meet the SLO; at 1.5 times it, runs should break it. `make
# capacity-proof` runs it.
#
# Env: SCENARIO (single) SLO (put.p99<5ms,error_rate<0.1%) STEP (10s)
#      WARMUP (2s) RUNS (3) OUT (results/capacity-proof)
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${SCENARIO:-single} SLO=${SLO:-put.p99<5ms,error_rate<0.1%} STEP=${STEP:-10s} WARMUP=${WARMUP:-2s}
RUNS=${RUNS:-3} OUT=${OUT:-results/capacity-proof}
SERVER=.tools/bin/nats-server-v2.15.2
KVH=bin/kvharness
rm -rf "$OUT" && mkdir -p "$OUT"
"$KVH" capacity "$SCENARIO" --server-bin "$SERVER" --slo "$SLO" --step "$STEP" --step-warmup "$WARMUP" --quiet --out "$OUT/search" | tail -6
rate=$(jq -r .max_rate "$OUT/search/capacity.json")
if [ "$rate" = "0" ]; then
  echo "no rate found: nothing to re-run"; exit 1
fi
above=$(python3 -c "print(round(1.5 * $rate))")
thresholds=()
IFS=, read -ra terms <<<"$SLO"
for t in "${terms[@]}"; do thresholds+=(--threshold "$t"); done
echo
printf '%-10s %-4s %10s %10s %-8s %s\n' "rate" "run" "achieved" "put p99 ms" "SLO" "terms"
met=0 broke=0
for i in $(seq "$RUNS"); do
  for r in "$rate" "$above"; do
    dir="$OUT/rerun-$r-$i"
    "$KVH" run "$SCENARIO" --server-bin "$SERVER" --rate "$r" --duration "$STEP" --warmup-time "$WARMUP" "${thresholds[@]}" \
      --quiet --out "$dir" >/dev/null 2>&1 || true
    read -r achieved p99 held crossed < <(jq -r '[(.throughput_ops_per_sec|floor), (.ops.put.latency_us.p99/1000), ([.thresholds[]|select(.pass|not)]|length==0), ([.thresholds[]|select(.pass|not)|.name]|join(","))] | @tsv' "$dir/summary.json")
    verdict=$([ "$held" = "true" ] && echo meets || echo breaks)
    printf '%-10s %-4s %10s %10.2f %-8s %s\n' "$r" "$i" "$achieved" "$p99" "$verdict" "$crossed"
    if [ "$r" = "$rate" ] && [ "$held" = "true" ]; then met=$((met + 1)); fi
    if [ "$r" = "$above" ] && [ "$held" != "true" ]; then broke=$((broke + 1)); fi
  done
done
echo
echo "at the rate found ($rate ops/s): the SLO met in $met of $RUNS runs; at 1.5x ($above ops/s): broken in $broke of $RUNS"
