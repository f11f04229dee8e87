#!/bin/sh
# make fleet-proof: what spreading a run's clients over worker processes
# costs. The same run (the default scenario's 3 embedded nodes, CLIENTS
# clients, closed loop, DUR) three ways: every client in the coordinator
# (local), all of them on one worker, and spread over three workers. The
# configurations alternate round by round (this machine's noise drifts);
# the table gives each one's median throughput and its spread.
#
# On one 2-core machine every process shares the same CPUs as the servers:
# this measures the design's overhead (control plane, history streaming,
# merge), not what more machines would add.
set -eu
BIN=${BIN:-bin/kvharness}
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-10s}
CLIENTS=${CLIENTS:-6}
OUT=${OUT:-results/fleet-proof}
export KVHARNESS_FLEET_SECRET="fleet-proof-$$"
rm -rf "$OUT" && mkdir -p "$OUT"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P1=$(port); P3=$(port)
pids=""
trap 'kill $pids 2>/dev/null || true' EXIT INT TERM
worker() { GOMAXPROCS=${WORKER_PROCS:-} "$BIN" worker --control "nats://127.0.0.1:$1" --name "$2" >"$OUT/worker-$2.log" 2>&1 & pids="$pids $!"; }
worker "$P1" solo
for w in a b c; do worker "$P3" "$w"; done

run() { # config round
  case $1 in
    local) set -- "$1" "$2" ;;
    one) set -- "$1" "$2" --workers 1 --control-listen "127.0.0.1:$P1" ;;
    three) set -- "$1" "$2" --workers 3 --control-listen "127.0.0.1:$P3" ;;
  esac
  cfg=$1 round=$2
  shift 2
  "$BIN" run default --duration "$DUR" --clients "$CLIENTS" --faults "" --quiet --out "$OUT/$cfg-$round" "$@" >"$OUT/$cfg-$round.log" 2>&1 || true
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(round(s["throughput_ops_per_sec"]), s["verdict"])' "$OUT/$cfg-$round/summary.json" >>"$OUT/$cfg.tsv"
  echo "round $round $cfg: $(tail -1 "$OUT/$cfg.tsv")"
}
for r in $(seq 1 "$ROUNDS"); do
  for cfg in local one three; do run "$cfg" "$r"; done
done
python3 - "$OUT" <<'PY'
import statistics, sys
out = sys.argv[1]
rows = {}
for cfg in ("local", "one", "three"):
    vals = [line.split() for line in open(f"{out}/{cfg}.tsv")]
    rows[cfg] = ([int(v[0]) for v in vals], [v[1] for v in vals])
base = statistics.median(rows["one"][0])
print(f"\n{'clients in':<12} {'median ops/s':>12} {'min':>7} {'max':>7} {'vs 1 worker':>12}  verdicts")
for cfg, label in (("local", "coordinator"), ("one", "1 worker"), ("three", "3 workers")):
    t, v = rows[cfg]
    m = statistics.median(t)
    print(f"{label:<12} {m:>12.0f} {min(t):>7} {max(t):>7} {100*(m/base-1):>+11.1f}%  {' '.join(v)}")
PY
