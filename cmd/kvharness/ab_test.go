package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/reports"
)

type abJSON struct {
	Verdict     string   `json:"verdict"`
	ExitCode    int      `json:"exit_code"`
	Regressions []string `json:"regressions"`
	RoundsDone  int      `json:"rounds_done"`
	Differences []string `json:"differences"`
	Metrics     []struct {
		Metric, Verdict string
		Base, Cand      struct{ Values []float64 }
	} `json:"metrics"`
	Runs []struct {
		Side   string
		Round  int
		Warmup bool
		Seed   uint64
		Dir    string
	} `json:"runs"`
}

func readAB(t *testing.T, dir string) abJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a abJSON
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// ab of a scenario against itself, two rounds: the runs alternate in ABBA
// order with one seed per round for both sides, each run keeps its own
// results folder, and two rounds are too few to call any difference:
// inconclusive, exit 3.
func TestABTooFewRounds(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, 3*time.Minute, "ab", "single", "--rounds", "2", "--warmup", "1", "--duration", "1s", "--quiet", "--out", out)
	if r.code != 3 || !strings.Contains(r.stdout, "not enough rounds") || !strings.Contains(r.stdout, "verdict: INCONCLUSIVE") {
		t.Fatalf("exit %d, want 3 (inconclusive)\n%s%s", r.code, r.stdout, r.stderr)
	}
	a := readAB(t, out)
	var order []string
	for _, run := range a.Runs {
		order = append(order, run.Side)
		if _, err := os.Stat(filepath.Join(run.Dir, "summary.json")); err != nil {
			t.Errorf("run %+v left no summary: %v", run, err)
		}
	}
	// Warm-up base, cand; round 1 base, cand; round 2 cand, base.
	if got := strings.Join(order, ","); got != "base,cand,base,cand,cand,base" {
		t.Errorf("run order %s, want ABBA after the warm-up", got)
	}
	if a.RoundsDone != 2 || a.Runs[2].Seed != a.Runs[3].Seed || a.Runs[3].Seed == a.Runs[4].Seed || !a.Runs[0].Warmup {
		t.Errorf("rounds %d, runs %+v: want both sides of a round on one seed, rounds on different ones", a.RoundsDone, a.Runs)
	}
	for _, f := range []string{"ab.html", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
}

// A candidate that is clearly slower is a regression after seven rounds
// (with some twenty figures tested, six rounds leave no room for a single
// overlap: see reports.CompareSamples), and the sides' differences are
// printed. The candidate is the base with every route slowed by 50 ms for
// the whole run, both sides on the same spawned servers. With 20 ms, beside
// two other packages' tests, its throughput was a seventh of the base's in
// every round: far beyond what the load beside a test does to one round.
// (Three embedded nodes against one, the candidate before, were about half
// as fast; in CI a base round that shared the cores with another package's
// cluster fell to a third of the others' throughput, and no figure came out
// significant.) Throughput and put's p50 must be called slower: every put
// waits for a replica across a slowed route. The other figures are not
// asserted: a get is answered without a route and, with the load cut, came
// back faster.
func TestABFindsASlowerCandidate(t *testing.T) {
	bin := natsServerBin(t)
	dir := t.TempDir()
	const scenario = `name: %s
description: 3 nodes, R3 bucket, mixed ops%s
target:
  nodes: 3
bucket:
  replicas: 3
  storage: file
  history: 64
workload:
  clients: 8
  duration: 2s
  keys: 8
  value_size: 128
  mix: {put: 2, update: 3, create: 1, get: 3, delete: 1}
  op_timeout: 5s
  seed: 1
%s`
	base, cand := filepath.Join(dir, "base.yaml"), filepath.Join(dir, "slow-routes.yaml")
	for path, text := range map[string]string{
		base: fmt.Sprintf(scenario, "base", "", ""),
		cand: fmt.Sprintf(scenario, "slow-routes", "; every route slowed by 50 ms for the whole run",
			"faults: {kinds: [latency], target: all, start: 1ms, interval: 60s, duration: 50s, latency: 50ms}\n"),
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	r := runBin(t, 5*time.Minute, "ab", base, cand, "--base-bin", bin, "--cand-bin", bin,
		"--rounds", "7", "--warmup", "0", "--quiet", "--out", out)
	if r.code != 1 || !strings.Contains(r.stdout, "verdict: REGRESSION") || !strings.Contains(r.stdout, "the sides differ in: scenario: base vs slow-routes") {
		t.Fatalf("exit %d, want 1 (regression)\n%s%s", r.code, r.stdout, r.stderr)
	}
	a := readAB(t, out)
	verdicts := map[string]string{}
	for _, m := range a.Metrics {
		if len(m.Base.Values) != 7 || len(m.Cand.Values) != 7 {
			t.Errorf("%s: %d and %d rounds, want 7 a side", m.Metric, len(m.Base.Values), len(m.Cand.Values))
		}
		verdicts[m.Metric] = m.Verdict
	}
	for _, m := range []string{"throughput", "put.p50"} {
		if verdicts[m] != "slower" || !slices.ContainsFunc(a.Regressions, func(r string) bool { return strings.HasPrefix(r, m+" slower") }) {
			t.Errorf("%s: %q, regressions %q: want slower, a regression\n%s", m, verdicts[m], a.Regressions, r.stdout)
		}
	}
}

func TestABUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--base-bin", "/bin/true", "--base-server", "nats://127.0.0.1:1"}, "give one"},
		{[]string{"--rounds", "0"}, "--rounds"},
		{[]string{"--alpha", "1.5"}, "--alpha"},
		{[]string{"nope.yaml"}, "nope.yaml"},
		{[]string{"single", "--cand-bin", "/no/such/nats-server"}, "/no/such/nats-server"},
	} {
		r := runBin(t, time.Minute, append([]string{"ab", "--out", t.TempDir()}, tc.args...)...)
		wantUsageError(t, r, tc.want)
	}
}

// trend over nightly folders written here (no runs needed): thirteen
// nights of one scenario, the last three 15 % slower, flagged at the last
// night and exit 1; ten nights cannot judge (exit 3); a night of another
// scenario is refused in one line.
func TestTrend(t *testing.T) {
	nights := t.TempDir()
	for i, tp := range []float64{100, 103, 98, 101, 99, 102, 100, 97, 103, 101, 86, 85, 84} {
		writeNight(t, filepath.Join(nights, fmt.Sprintf("2026-11-%02d", i+1)), "default", tp)
	}
	out := t.TempDir()
	r := runBin(t, time.Minute, "trend", nights, "--out", out)
	if r.code != 1 || !strings.Contains(r.stdout, "the last 3 runs shifted: throughput slower") {
		t.Fatalf("creep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{"trend.json", "trend.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
	few := t.TempDir()
	for i := 0; i < 10; i++ {
		writeNight(t, filepath.Join(few, fmt.Sprintf("n%02d", i)), "default", 100)
	}
	if r := runBin(t, time.Minute, "trend", few, "--out", t.TempDir()); r.code != 3 || !strings.Contains(r.stdout, "not enough runs") {
		t.Errorf("ten nights: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	writeNight(t, filepath.Join(few, "other"), "single", 100)
	wantUsageError(t, runBin(t, time.Minute, "trend", few, "--out", t.TempDir()), "ran different things")
}

// writeNight writes a results folder holding only a summary.json of
// scenario with the given throughput, started at the folder's name.
func writeNight(t *testing.T, dir, scenario string, throughput float64) {
	t.Helper()
	s := reports.Summary{Scenario: scenario, Verdict: "pass", ThroughputOpsPerSec: throughput,
		Ops: map[string]*reports.OpSummary{"put": {OK: 1000}}, Run: reports.RunInfo{StartedAt: filepath.Base(dir)},
		Target: reports.TargetSummary{Mode: "embedded", Nodes: 3, Replicas: 3}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
