package reports

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/latency"
)

// run is a summary with one op (put) whose figures are given.
func sampleRun(throughput, p99ms float64, errors int) *Summary {
	return &Summary{ThroughputOpsPerSec: throughput, Ops: map[string]*OpSummary{
		"put": {OK: 1000 - errors, Fail: errors, LatencyUS: latency.Percentiles{P50: 500, P99: p99ms * 1000, P999: 2 * p99ms * 1000},
			Errors: map[string]int{"timeout": errors}},
	}}
}

func rowNamed(t *testing.T, rows []MetricRow, metric string) MetricRow {
	t.Helper()
	for _, r := range rows {
		if r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row %s in %+v", metric, rows)
	return MetricRow{}
}

func TestCompareSamplesVerdicts(t *testing.T) {
	runs := func(tp []float64, p99 []float64, errs []int) []*Summary {
		var out []*Summary
		for i := range tp {
			out = append(out, sampleRun(tp[i], p99[i], errs[i]))
		}
		return out
	}
	base := runs([]float64{100, 103, 98, 101, 99, 102}, []float64{5, 5.2, 4.9, 5.1, 5, 4.8}, []int{0, 1, 0, 0, 1, 0})
	// 20 % less throughput, p99 30 % up, many more errors.
	worse := runs([]float64{80, 82, 79, 81, 78, 83}, []float64{6.5, 6.7, 6.4, 6.6, 6.3, 6.8}, []int{10, 12, 9, 11, 10, 13})
	rows := CompareSamples(base, worse, DefaultSampleRules)
	for metric, want := range map[string]string{"throughput": Slower, "put.p99": Slower, "put.error_rate": MoreErrors, "put.p50": NoDifference} {
		if r := rowNamed(t, rows, metric); r.Verdict != want {
			t.Errorf("%s: %s (p=%.3f, delta %.3f), want %s", metric, r.Verdict, r.P, r.Delta, want)
		}
	}
	tp := rowNamed(t, rows, "throughput")
	if tp.Base.Median != 100.5 || tp.Cand.Median != 80.5 || tp.Base.Lo > 99 || tp.Base.Hi < 102 || len(tp.Cand.Values) != 6 || tp.Cand.Values[0] != 80 {
		t.Errorf("throughput row %+v: medians, intervals or the values in run order are off", tp)
	}
	if !tp.Worse() || rowNamed(t, rows, "put.p50").Worse() {
		t.Error("Worse() disagrees with the verdicts")
	}
	// The other way round: faster, fewer errors.
	rows = CompareSamples(worse, base, DefaultSampleRules)
	if r := rowNamed(t, rows, "throughput"); r.Verdict != Faster {
		t.Errorf("throughput the other way: %s", r.Verdict)
	}
	if r := rowNamed(t, rows, "put.error_rate"); r.Verdict != FewerErrors {
		t.Errorf("errors the other way: %s", r.Verdict)
	}
	// The same distribution, interleaved: no difference.
	same := runs([]float64{101, 99, 102, 100, 98, 103}, []float64{5.1, 4.9, 5, 5.2, 4.8, 5}, []int{0, 0, 1, 0, 1, 0})
	for _, r := range CompareSamples(base, same, DefaultSampleRules) {
		if r.Verdict != NoDifference {
			t.Errorf("%s on the same distribution: %s (p=%.3f)", r.Metric, r.Verdict, r.P)
		}
	}
	// Two runs a side cannot be significant at 5 %, however far apart.
	if r := rowNamed(t, CompareSamples(base[:2], worse[:2], DefaultSampleRules), "throughput"); r.Verdict != TooFewRounds || !strings.Contains(r.Note, "2 runs against 2") {
		t.Errorf("two runs a side: %s (%s)", r.Verdict, r.Note)
	}
	// Significant but smaller than the minimum effect: no verdict either way.
	steady := runs([]float64{100, 100.2, 100.1, 100.3, 99.9, 100.05}, []float64{5, 5, 5, 5, 5, 5}, []int{0, 0, 0, 0, 0, 0})
	tiny := runs([]float64{102, 102.2, 102.1, 102.3, 101.9, 102.05}, []float64{5, 5, 5, 5, 5, 5}, []int{0, 0, 0, 0, 0, 0})
	if r := rowNamed(t, CompareSamples(steady, tiny, SampleRules{Alpha: 0.05, MinEffect: 0.05, Confidence: 0.95}), "throughput"); r.Verdict != NoDifference || !strings.Contains(r.Note, "below the minimum effect") {
		t.Errorf("2 %% apart: %s (p=%.3f, %s)", r.Verdict, r.P, r.Note)
	}
}

func TestCheckRegressions(t *testing.T) {
	run := func(results ...checker.Status) *Summary {
		s := &Summary{}
		for i, r := range results {
			s.Checks = append(s.Checks, checker.CheckResult{Name: []string{"a", "b"}[i], Result: r, Required: true})
		}
		return s
	}
	pass, fail, unknown := checker.Pass, checker.Fail, checker.Unknown
	if got := CheckRegressions([]*Summary{run(pass, pass), run(pass, pass)}, []*Summary{run(pass, pass), run(fail, pass)}); len(got) != 1 || !strings.Contains(got[0], "required check a failed in candidate run 2") {
		t.Errorf("a failure only the candidate shows: %v", got)
	}
	if got := CheckRegressions([]*Summary{run(fail, pass), run(pass, pass)}, []*Summary{run(fail, pass)}); len(got) != 0 {
		t.Errorf("a failure the base shows too is no regression: %v", got)
	}
	if got := CheckRegressions([]*Summary{run(pass, pass)}, []*Summary{run(pass, unknown)}); len(got) != 1 || !strings.Contains(got[0], "b passed in every base run but was unknown") {
		t.Errorf("undecidable on the candidate only: %v", got)
	}
}

// The same median with different tails: the U test may call them apart,
// but a verdict about medians cannot say which way (seen with
// --min-effect 0: the better candidate was called slower).
func TestCompareSamplesSameMedian(t *testing.T) {
	var base, cand []*Summary
	for i := 0; i < 13; i++ {
		b, c := 100.0, 100.0
		if i >= 7 {
			b, c = 80, 120
		}
		base, cand = append(base, sampleRun(b, 5, 0)), append(cand, sampleRun(c, 5, 0))
	}
	r := rowNamed(t, CompareSamples(base, cand, SampleRules{Alpha: 0.05, MinEffect: 0, Confidence: 0.95}), "throughput")
	if r.Verdict != NoDifference || !strings.Contains(r.Note, "the same median") {
		t.Errorf("same median: %s (p=%.4f, %s)", r.Verdict, r.P, r.Note)
	}
}

// randomRun: five ops whose figures are drawn from one distribution, as
// the same binary gives run after run (A/A).
func randomRun(rng *rand.Rand) *Summary {
	s := &Summary{ThroughputOpsPerSec: 1000 * (1 + 0.1*rng.NormFloat64()), Ops: map[string]*OpSummary{}}
	for _, op := range []string{"create", "delete", "get", "put", "update"} {
		errs := rng.IntN(3)
		s.Ops[op] = &OpSummary{OK: 1000 - errs, Fail: errs, Errors: map[string]int{"timeout": errs},
			LatencyUS: latency.Percentiles{P50: 1000 * (1 + 0.1*rng.NormFloat64()), P99: 5000 * (1 + 0.2*rng.NormFloat64()), P999: 9000 * (1 + 0.3*rng.NormFloat64())}}
	}
	return s
}

// The family of about twenty figures: each tested alone at 5 %, some
// figure of identical sides is called slower in a large share of
// sessions; adjusted (Holm), in at most about 5 %. Fixed seed: the same
// 400 sessions every time.
func TestFamilyWiseFalseAlarms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const sessions = 400
	family, raw := 0, 0
	for range sessions {
		var base, cand []*Summary
		for range 8 {
			base, cand = append(base, randomRun(rng)), append(cand, randomRun(rng))
		}
		rows := CompareSamples(base, cand, DefaultSampleRules)
		if len(rows) != 21 {
			t.Fatalf("%d rows, want 21", len(rows))
		}
		if slices.ContainsFunc(rows, MetricRow.Worse) {
			family++
		}
		if slices.ContainsFunc(rows, func(r MetricRow) bool {
			worse := r.Cand.Median > r.Base.Median != r.HigherIsBetter
			return r.PRaw < DefaultSampleRules.Alpha && worse && math.Abs(r.Delta) >= DefaultSampleRules.MinEffect
		}) {
			raw++
		}
	}
	t.Logf("sessions with a false regression: %d of %d adjusted, %d unadjusted", family, sessions, raw)
	if family > sessions*6/100 {
		t.Errorf("%d of %d A/A sessions called a regression: above 5 %%", family, sessions)
	}
	if raw < sessions*15/100 {
		t.Errorf("unadjusted, only %d of %d sessions: the test shows nothing about the adjustment", raw, sessions)
	}
}

func TestAdjustHolm(t *testing.T) {
	rows := []MetricRow{}
	for i, p := range []float64{0.01, 0.04, 0.03, 0.005, 1} {
		rows = append(rows, MetricRow{PRaw: p, P: p, Base: SideFigure{Values: []float64{1, 2}}, Cand: SideFigure{Values: []float64{float64(i), 5}}})
	}
	// Not testable (every value equal): outside the family, P kept.
	rows = append(rows, MetricRow{PRaw: 1, P: 1, Base: SideFigure{Values: []float64{0, 0}}, Cand: SideFigure{Values: []float64{0}}})
	adjustHolm(rows, 5)
	// Sorted 0.005, 0.01, 0.03, 0.04, 1 → ×5, ×4, ×3, ×2, ×1, never decreasing.
	want := []float64{0.04, 0.09, 0.09, 0.025, 1, 1}
	for i, r := range rows {
		if math.Abs(r.P-want[i]) > 1e-12 {
			t.Errorf("row %d: adjusted %g, want %g", i, r.P, want[i])
		}
	}
}

// Judged figures alone are compared; a smaller family leaves more power.
func TestJudgedFigures(t *testing.T) {
	var base, worse []*Summary
	for i := range 5 {
		base = append(base, sampleRun(100+float64(i), 5+0.1*float64(i), 0))
		worse = append(worse, sampleRun(80+float64(i), 6.5+0.1*float64(i), 0))
	}
	rules := DefaultSampleRules
	rules.Judged = []string{"throughput", ".p99"}
	rows := CompareSamples(base, worse, rules)
	if len(rows) != 2 || rows[0].Metric != "throughput" || rows[1].Metric != "put.p99" {
		t.Fatalf("rows %v, want throughput and put.p99", rows)
	}
	for _, r := range rows {
		if r.Verdict != Slower {
			t.Errorf("%s: %s (p=%.3f), want slower", r.Metric, r.Verdict, r.P)
		}
	}
}

func TestLeastUTestP(t *testing.T) {
	// benchmath's table for equal sizes, and C(13,3) = 286 orders for 3 against 10.
	for _, c := range []struct {
		n1, n2 int
		want   float64
	}{{1, 1, 1}, {3, 3, 0.1}, {6, 6, 0.0021645021645021645}, {3, 10, 2.0 / 286}, {10, 3, 2.0 / 286}} {
		if got := leastUTestP(c.n1, c.n2); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("leastUTestP(%d, %d) = %g, want %g", c.n1, c.n2, got, c.want)
		}
	}
}
