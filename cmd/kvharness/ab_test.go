package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// A candidate that is clearly slower — three embedded nodes replicating an
// R3 bucket against one node with R1 — is a regression after four rounds,
// with throughput called slower; the sides' differences are printed.
func TestABFindsASlowerCandidate(t *testing.T) {
	if testing.Short() {
		t.Skip("eight runs")
	}
	out := t.TempDir()
	r := runBin(t, 5*time.Minute, "ab", "single", "default", "--rounds", "4", "--warmup", "0", "--duration", "2s", "--quiet", "--out", out)
	if r.code != 1 || !strings.Contains(r.stdout, "verdict: REGRESSION") || !strings.Contains(r.stdout, "the sides differ in") {
		t.Fatalf("exit %d, want 1 (regression)\n%s%s", r.code, r.stdout, r.stderr)
	}
	a := readAB(t, out)
	for _, m := range a.Metrics {
		if m.Metric == "throughput" && (m.Verdict != "slower" || len(m.Base.Values) != 4) {
			t.Errorf("throughput: %s over %v vs %v, want slower over 4 rounds", m.Verdict, m.Base.Values, m.Cand.Values)
		}
	}
	if len(a.Regressions) == 0 || !strings.HasPrefix(a.Regressions[0], "throughput slower") && !strings.Contains(strings.Join(a.Regressions, "\n"), "throughput slower") {
		t.Errorf("regressions %q do not name throughput", a.Regressions)
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
