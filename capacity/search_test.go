package capacity

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/latency"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
)

// The search's logic against a model of a target whose capacity is known:
// each step's summary is made up from its rate (no servers: the steps'
// running is harness.Run, tested with real servers in cmd/kvharness).
type model struct {
	capacity float64
	// breaksAt: runs (1-based, across the search) that break the SLO
	// whatever their rate — noise at the boundary.
	breaksAt map[int]bool
	// flakyAbove: a rate above it meets the SLO on its first run only.
	flakyAbove float64
	failAt     int // a run that fails a required check
	errorAt    int // a run that cannot be carried out
	runs       []float64
}

func (m *model) run(_ context.Context, sc *scenarios.Scenario, _ harness.Options) (*harness.Result, error) {
	rate := sc.Workload.Rate
	m.runs = append(m.runs, rate)
	n := len(m.runs)
	if n == m.errorAt {
		return nil, errors.New("servers out of reach")
	}
	achieved := rate
	if rate == 0 {
		achieved = 3 * m.capacity // closed loop: fast, and far above what the SLO allows
	}
	p99 := 1.0 + 4*min(achieved/m.capacity, 2) // ms: 5 ms at capacity
	if m.breaksAt[n] {
		p99 = 20
	}
	if m.flakyAbove > 0 && rate > m.flakyAbove && slices.Contains(m.runs[:n-1], rate) {
		p99 = 20
	}
	s := &reports.Summary{ThroughputOpsPerSec: achieved, Verdict: checker.Pass, Ops: map[string]*reports.OpSummary{
		"put": {OK: 100, LatencyUS: latency.Percentiles{P50: 500, P99: p99 * 1000, P999: 2 * p99 * 1000}}}}
	for name, expr := range sc.Thresholds {
		t, err := reports.ParseThreshold(name, expr)
		if err != nil {
			return nil, err
		}
		s.Thresholds = append(s.Thresholds, reports.ThresholdResult{Name: name, Expr: expr, Actual: p99 * 1000, Unit: "us", Pass: t.Holds(p99 * 1000)})
	}
	if n == m.failAt {
		s.Checks = []checker.CheckResult{{Name: "linearizable-writes", Required: true, Result: checker.Fail}}
		s.Verdict = checker.Fail
	}
	return &harness.Result{Summary: s}, nil
}

func search(t *testing.T, m *model, cfg Config) *reports.Capacity {
	t.Helper()
	runStep = m.run
	t.Cleanup(func() { runStep = harness.Run })
	slo, err := reports.ParseThreshold("put.p99", "< 5ms")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SLO, cfg.Dir = []reports.Threshold{slo}, t.TempDir()
	if cfg.Step == 0 {
		base := DefaultConfig
		cfg.Step, cfg.Warmup, cfg.Growth, cfg.Precision, cfg.Repeats, cfg.MaxSteps = base.Step, base.Warmup, base.Growth, base.Precision, base.Repeats, base.MaxSteps
	}
	sc, err := scenarios.Load("single")
	if err != nil {
		t.Fatal(err)
	}
	return Search(context.Background(), sc, harness.Options{}, cfg)
}

// A target with a sharp limit at 1000 ops/s: the closed loop (3000)
// gives the first rate (an eighth, 380), the ramp doubles to 1500, the
// bisection closes in to within 10 %, and both boundary rates are run
// three times. Every step is open loop at its rate, warm-up and step
// length as asked.
func TestSearchFindsTheLimit(t *testing.T) {
	m := &model{capacity: 1000}
	c := search(t, m, Config{})
	if c.ExitCode != reports.ExitPass || c.Verdict != reports.CapacityFound {
		t.Fatalf("verdict %s (exit %d): %s", c.Verdict, c.ExitCode, c.Reason)
	}
	if c.MaxRate >= 1000 || c.MaxRate < 900 || c.BrokeAt < 1000 || c.BrokeAt > c.MaxRate*1.1+1 {
		t.Errorf("max rate %g, broke at %g: want the 10 %% around 1000", c.MaxRate, c.BrokeAt)
	}
	if c.ClosedLoopMax != 3000 || m.runs[0] != 0 || m.runs[1] != 380 {
		t.Errorf("closed loop %g, first rates %v: want the closed loop then an eighth of it", c.ClosedLoopMax, m.runs[:2])
	}
	if c.RunsAt(c.MaxRate) != 3 || c.RunsAt(c.BrokeAt) != 3 || c.BrokeIn != "3 of 3 runs" || len(c.BrokenBy) != 1 || c.BrokenBy[0] != "put.p99" {
		t.Errorf("boundary: %d runs at %g, %d at %g, broke in %s by %v", c.RunsAt(c.MaxRate), c.MaxRate, c.RunsAt(c.BrokeAt), c.BrokeAt, c.BrokeIn, c.BrokenBy)
	}
	if len(c.Spread) != 1 || len(c.Spread[0].Values) != 3 {
		t.Errorf("spread %+v: want put.p99 over the 3 runs at the answer", c.Spread)
	}
	phases := map[string]int{}
	for _, st := range c.Steps {
		phases[st.Phase]++
	}
	if phases[reports.PhaseClosedLoop] != 1 || phases[reports.PhaseRamp] < 3 || phases[reports.PhaseBisect] < 2 || phases[reports.PhaseRepeat] != 4 {
		t.Errorf("phases %v", phases)
	}
	var text strings.Builder
	c.WriteText(&text)
	for _, want := range []string{"max rate: ", "broke at: ", "closed-loop maximum: 3000 ops/s", "verdict: FOUND (exit 0)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	for _, write := range []func(string) error{c.WriteJSON, c.WriteJUnit, c.WriteHTML} {
		if err := write(t.TempDir()); err != nil {
			t.Error(err)
		}
	}
}

// Noise at the boundary: a repeat of the last good rate breaks the SLO, so
// that rate is not sustainable and the answer moves to the best rate below
// that held every time (three runs of it).
func TestSearchRepeatBreaksMovesDown(t *testing.T) {
	clean := &model{capacity: 1000}
	search(t, clean, Config{})
	// The first repeat of the last good rate comes right after the bisection.
	firstRepeat := 0
	for i, r := range clean.runs {
		if i > 0 && r == clean.runs[i-1] {
			firstRepeat = i + 1 // 1-based run number
			break
		}
	}
	noisy := &model{capacity: 1000, breaksAt: map[int]bool{firstRepeat: true}}
	c := search(t, noisy, Config{})
	if c.ExitCode != reports.ExitPass {
		t.Fatalf("verdict %s: %s", c.Verdict, c.Reason)
	}
	good := clean.runs[firstRepeat-1]
	if c.MaxRate >= good || !c.MetEveryTime(c.MaxRate) || c.RunsAt(c.MaxRate) < 3 || c.BrokeAt != good || c.BrokeIn != "1 of 3 runs" {
		t.Errorf("max rate %g (%d runs), broke at %g in %s; want below %g, which broke once", c.MaxRate, c.RunsAt(c.MaxRate), c.BrokeAt, c.BrokeIn, good)
	}
}

// A zone that meets the SLO once and breaks it when repeated (700 to
// 1000 here): each time a repeat breaks, the gap below is bisected again,
// so the answer ends within the precision of the zone's edge rather than
// wherever the first bisection happened to stop.
func TestSearchBisectsAgainAfterARepeatBreaks(t *testing.T) {
	cfg := DefaultConfig
	cfg.MaxSteps = 80
	c := search(t, &model{capacity: 1000, flakyAbove: 700}, cfg)
	if c.ExitCode != reports.ExitPass {
		t.Fatalf("verdict %s: %s", c.Verdict, c.Reason)
	}
	if c.MaxRate > 700 || c.MaxRate < 700/1.1 || c.BrokeAt > c.MaxRate*1.1+10 {
		t.Errorf("max rate %g, broke at %g: want the answer within 10 %% below 700", c.MaxRate, c.BrokeAt)
	}
}

// A failed required check ends the search, whatever the SLO said: exit 1.
// A step that cannot run makes it inconclusive: exit 3. A target that
// meets the SLO at no rate: exit 1 with the reason.
func TestSearchEnds(t *testing.T) {
	c := search(t, &model{capacity: 1000, failAt: 3}, Config{})
	if c.ExitCode != reports.ExitFail || c.Verdict != reports.CapacityCheckFailed || len(c.Steps) != 3 || !strings.Contains(c.Reason, "linearizable-writes") {
		t.Errorf("failed check: %s (exit %d) after %d steps: %s", c.Verdict, c.ExitCode, len(c.Steps), c.Reason)
	}
	c = search(t, &model{capacity: 1000, errorAt: 2}, Config{})
	if c.ExitCode != reports.ExitInconclusive || !strings.Contains(c.Reason, "servers out of reach") || c.Steps[1].Error == "" {
		t.Errorf("step error: %s (exit %d): %s", c.Verdict, c.ExitCode, c.Reason)
	}
	// Capacity 1: 5 ms at 1 op/s, more above; the lowest rates break too.
	c = search(t, &model{capacity: 0.5}, Config{})
	if c.ExitCode != reports.ExitFail || c.Verdict != reports.CapacityNone || c.MaxRate != 0 {
		t.Errorf("no rate: %s (exit %d), max %g", c.Verdict, c.ExitCode, c.MaxRate)
	}
	// The step budget.
	cfg := DefaultConfig
	cfg.MaxSteps = 4
	c = search(t, &model{capacity: 1000}, cfg)
	if c.ExitCode != reports.ExitInconclusive || !strings.Contains(c.Reason, "step budget") || len(c.Steps) != 4 {
		t.Errorf("budget: %s (exit %d), %d steps: %s", c.Verdict, c.ExitCode, len(c.Steps), c.Reason)
	}
}

func TestNiceRate(t *testing.T) {
	for in, want := range map[float64]float64{1234: 1200, 0.3: 1, 95: 95, 99.6: 100, 37500: 38000, 0: 0} {
		if got := niceRate(in); got != want {
			t.Errorf("niceRate(%g) = %g, want %g", in, got, want)
		}
	}
}
