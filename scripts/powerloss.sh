#!/bin/sh
# make power-loss-proof: what NATS KV keeps when nodes lose power, on the
# releases in RELEASES (built into TOOLS by make), in two experiments:
#
#  1. A coordinated power failure (power-failure: 5 nodes, R3, every node
#     loses what it had not fsynced at 8 s) with the server's default
#     sync interval (2m) and with sync_interval always.
#  2. One node's power loss at a time, overlapping a partition and a pause
#     (power-loss-one: 5 nodes, R3, three rounds), and a mix in which power
#     losses may overlap each other too (combined: up to three faults at
#     once), the default sync interval, SEEDS seeds.
#
# One line per run: the verdict, and every required check that did not
# pass (with the first words of its detail). Runs alternate releases.
set -eu
BIN=${BIN:-bin/kvharness}
TOOLS=${TOOLS:-.tools/bin}
RELEASES=${RELEASES:-v2.12.1 v2.15.2}
SEEDS=${SEEDS:-1 2 3 4}
OUT=${OUT:-results/power-loss-proof}
rm -rf "$OUT" && mkdir -p "$OUT"

# summary FOLDER: verdict and the required checks that did not pass.
summary() {
  python3 - "$1/summary.json" <<'EOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except OSError:
    print("no summary"); sys.exit()
bad = [f"{c['name']} {c['result']} ({c['detail'][:90]})" for c in s["checks"] if c.get("required") and c["result"] != "pass"]
lost = [f"{f['detail']}" for f in s.get("faults", []) if f["kind"] == "power-loss"][:1]
print(s["verdict"].upper(), "; ".join(bad) or "every required check passed", "| first power loss:", lost[0] if lost else "none")
EOF
}

run() { # name release args...
  name=$1 rel=$2; shift 2
  dir="$OUT/$name-$rel"
  "$BIN" run "$@" --server-bin "$TOOLS/nats-server-$rel" --out "$dir" --quiet >"$dir.log" 2>&1 || true
  printf '%-34s %-8s %s\n' "$name" "$rel" "$(summary "$dir")"
}

echo "# 1. coordinated power failure (power-failure, 5 nodes, R3, all nodes at 8 s)"
for rel in $RELEASES; do
  run failure-default "$rel" power-failure --sync-interval default
  run failure-always "$rel" power-failure --sync-interval always
done
echo "# 2. power loss overlapping pauses and partitions (default sync interval)"
for scenario in power-loss-one combined; do
  for seed in $SEEDS; do
    for rel in $RELEASES; do
      run "$scenario-seed$seed" "$rel" "$scenario" --seed "$seed"
    done
  done
done
