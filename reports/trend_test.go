package reports

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Nightly runs: a slow creep (throughput 15 % down for the last three
// nights) is flagged at the night it becomes significant and in the
// verdict; one bad night among good ones is not; too few runs cannot say.
func TestBuildTrend(t *testing.T) {
	nights := func(throughputs ...float64) ([]*Summary, []string) {
		var runs []*Summary
		var dirs []string
		for i, tp := range throughputs {
			s := sampleRun(tp, 5, 0)
			s.Scenario, s.Verdict = "default", "pass"
			s.Run.StartedAt = fmt.Sprintf("2026-11-%02dT02:00:00Z", i+1)
			runs, dirs = append(runs, s), append(dirs, fmt.Sprintf("night-%02d", i+1))
		}
		// Given out of order: the trend orders by start.
		runs[0], runs[1], dirs[0], dirs[1] = runs[1], runs[0], dirs[1], dirs[0]
		return runs, dirs
	}
	steady := []float64{100, 103, 98, 101, 99, 102, 100, 97, 103, 101}
	runs, dirs := nights(append(steady, 86, 85, 84)...)
	tr := BuildTrend(runs, dirs, DefaultTrendRules)
	if tr.ExitCode != ExitFail || len(tr.Shifted) == 0 || !strings.HasPrefix(tr.Shifted[0], "throughput slower") {
		t.Errorf("creep: exit %d, shifted %v", tr.ExitCode, tr.Shifted)
	}
	if tr.Runs[0].Dir != "night-01" || len(tr.Runs[12].Shifted) == 0 {
		t.Errorf("runs %+v: want date order and the last night flagged", tr.Runs)
	}
	runs, dirs = nights(append(steady, 101, 70, 99)...)
	if tr := BuildTrend(runs, dirs, DefaultTrendRules); tr.ExitCode != ExitPass || len(tr.Shifted) != 0 {
		t.Errorf("one bad night: exit %d, shifted %v", tr.ExitCode, tr.Shifted)
	}
	runs, dirs = nights(100, 90, 80)
	if tr := BuildTrend(runs, dirs, DefaultTrendRules); tr.ExitCode != ExitInconclusive || len(tr.Latest) != 0 {
		t.Errorf("three runs: exit %d, latest %v", tr.ExitCode, tr.Latest)
	}
}

// Eleven figures varying (throughput, five ops' p99 and error rates):
// three runs against ten cannot reach 5 %/11 however far apart, and the
// trend says so (exit 3) instead of passing; four recent runs can.
func TestTrendTooFewRecentRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var runs []*Summary
	var dirs []string
	for i := range 14 {
		s := randomRun(rng)
		s.Scenario, s.Verdict = "default", "pass"
		s.Run.StartedAt = fmt.Sprintf("2026-11-%02dT02:00:00Z", i+1)
		runs, dirs = append(runs, s), append(dirs, fmt.Sprintf("night-%02d", i+1))
	}
	tr := BuildTrend(runs, dirs, DefaultTrendRules)
	if tr.ExitCode != ExitInconclusive || len(tr.Undecided) != 11 {
		t.Errorf("3 against 10, 11 figures: exit %d, undecided %v", tr.ExitCode, tr.Undecided)
	}
	var text strings.Builder
	tr.WriteText(&text)
	if !strings.Contains(text.String(), "raise --recent") {
		t.Errorf("text does not say what to do:\n%s", text.String())
	}
	rules := DefaultTrendRules
	rules.Recent = 4
	if tr := BuildTrend(runs, dirs, rules); tr.ExitCode != ExitPass || len(tr.Undecided) != 0 {
		t.Errorf("4 against 10: exit %d, undecided %v, shifted %v", tr.ExitCode, tr.Undecided, tr.Shifted)
	}
}
