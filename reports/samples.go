package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/kvharness/kvharness/checker"
)

// Several runs a side, compared as benchstat compares benchmarks: each
// figure's median with a confidence interval, and a Mann–Whitney U test of
// whether the two sides differ (golang.org/x/perf/benchmath, benchstat's
// own statistics, which assume nothing of the distribution). A difference
// counts only when it is significant at Alpha and at least MinEffect.
//
// Many figures are tested at once (throughput and four per op: about 20),
// so each test's own p-value would call some figure different in a third
// of identical sessions. The p-values are adjusted by Holm's method, which
// holds the chance of calling any difference where there is none — across
// the whole table — to Alpha: the verdict means "some figure really
// differs", as a user acting on it needs. Figures equal in every run of
// both sides cannot be tested and are left out of the family.

// SampleRules: the significance level, the smallest difference worth
// calling, and the confidence of the intervals.
type SampleRules struct {
	Alpha      float64 `json:"alpha"`
	MinEffect  float64 `json:"min_effect"` // fraction of the base's median
	Confidence float64 `json:"confidence"`
	// Judged: the figures compared, by name or suffix ("throughput",
	// ".p99", ".error_rate"); empty: every figure. Fewer figures judged
	// make a smaller family and so more power with few runs (trend).
	Judged []string `json:"judged,omitempty"`
}

// judges reports whether the rules compare a figure.
func (r SampleRules) judges(metric string) bool {
	if len(r.Judged) == 0 {
		return true
	}
	return slices.ContainsFunc(r.Judged, func(j string) bool { return metric == j || strings.HasPrefix(j, ".") && strings.HasSuffix(metric, j) })
}

// DefaultSampleRules: 5 % significance, 5 % minimum effect, 95 % intervals.
var DefaultSampleRules = SampleRules{Alpha: 0.05, MinEffect: 0.05, Confidence: 0.95}

// Per-metric verdicts.
const (
	Slower       = "slower"
	Faster       = "faster"
	MoreErrors   = "more errors"
	FewerErrors  = "fewer errors"
	NoDifference = "no significant difference"
	TooFewRounds = "not enough rounds"
	// NotCompared: only one side has the figure (their op mixes differ).
	NotCompared = "not compared"
)

// MetricRow is one figure over every run of both sides.
type MetricRow struct {
	Metric string `json:"metric"`
	Unit   string `json:"unit"`
	// HigherIsBetter: throughput; latency and errors are better lower.
	HigherIsBetter bool       `json:"higher_is_better"`
	Base           SideFigure `json:"base"`
	Cand           SideFigure `json:"cand"`
	// Delta: the candidate's median against the base's, relative; 0 when
	// the base's is 0.
	Delta float64 `json:"delta"`
	// P: the U test's p-value adjusted for the family of figures tested
	// (Holm), the one the verdict compares with Alpha; PRaw: the test's
	// own, as if this figure were the only one.
	P       float64 `json:"p"`
	PRaw    float64 `json:"p_raw"`
	Verdict string  `json:"verdict"`
	// Note: why there is no verdict either way (too few rounds, below the
	// minimum effect), or a warning from the test.
	Note string `json:"note,omitempty"`

	warnings []string // the test's, for the verdict
	// tooFew: why even runs as far apart as can be could not be called
	// different at the level the family demands (empty: they could).
	tooFew string
}

// SideFigure is one side's figure: the median over its runs, the interval
// around it, and every run's value in run order (for the per-round plot).
type SideFigure struct {
	Median float64   `json:"median"`
	Lo     float64   `json:"lo"`
	Hi     float64   `json:"hi"`
	Values []float64 `json:"values"`
}

// Worse reports whether the row says the candidate regressed.
func (r MetricRow) Worse() bool { return r.Verdict == Slower || r.Verdict == MoreErrors }

// figureSet is every figure of one run, by metric name.
type figureSet struct {
	order []string
	units map[string]string
	value map[string]float64
}

// figuresOf reads the figures a side is judged on off a run's summary:
// throughput, and per op p50, p99, p99.9 (ms) and error rate (%, CAS
// refusals aside). An op the run did not make has no figures.
func figuresOf(s *Summary) figureSet {
	f := figureSet{units: map[string]string{}, value: map[string]float64{}}
	add := func(metric, unit string, v float64) {
		f.order = append(f.order, metric)
		f.units[metric], f.value[metric] = unit, v
	}
	add("throughput", "ops/s", s.ThroughputOpsPerSec)
	ops := make([]string, 0, len(s.Ops))
	for op := range s.Ops {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		o := s.Ops[op]
		if o.OK+o.Fail+o.Unknown == 0 {
			continue
		}
		add(op+".p50", "ms", o.LatencyUS.P50/1000)
		add(op+".p99", "ms", o.LatencyUS.P99/1000)
		add(op+".p999", "ms", o.LatencyUS.P999/1000)
		add(op+".error_rate", "%", 100*errorRate(o))
	}
	return f
}

// CompareSamples compares every figure of the base's runs with the
// candidate's, metric by metric, in the order the base's first run lists
// them (then any only the candidate has).
func CompareSamples(base, cand []*Summary, rules SampleRules) []MetricRow {
	var order []string
	seen := map[string]bool{}
	units := map[string]string{}
	values := [2]map[string][]float64{{}, {}}
	for side, runs := range [2][]*Summary{base, cand} {
		for _, s := range runs {
			f := figuresOf(s)
			for _, m := range f.order {
				if !rules.judges(m) {
					continue
				}
				if !seen[m] {
					seen[m] = true
					order = append(order, m)
					units[m] = f.units[m]
				}
				values[side][m] = append(values[side][m], f.value[m])
			}
		}
	}
	// The family: the figures a test can tell apart at all.
	family := 0
	for _, m := range order {
		if testable(values[0][m], values[1][m]) {
			family++
		}
	}
	rows := make([]MetricRow, 0, len(order))
	for _, m := range order {
		rows = append(rows, compareMetric(m, units[m], values[0][m], values[1][m], rules, family))
	}
	adjustHolm(rows, family)
	for i := range rows {
		decide(&rows[i], rules)
	}
	return rows
}

// testable: both sides have the figure and not every value is the same
// (then no order of the runs could be significant).
func testable(base, cand []float64) bool {
	if len(base) == 0 || len(cand) == 0 {
		return false
	}
	differs := func(v float64) bool { return v != base[0] }
	return slices.ContainsFunc(base, differs) || slices.ContainsFunc(cand, differs)
}

// adjustHolm replaces each tested row's P by its Holm-adjusted p-value:
// sorted ascending, the i-th smallest (from 0) is multiplied by family-i,
// and no adjusted value is below the one before it. Rejecting where the
// adjusted P < Alpha is Holm's step-down procedure.
func adjustHolm(rows []MetricRow, family int) {
	var tested []int
	for i, r := range rows {
		if testable(r.Base.Values, r.Cand.Values) {
			tested = append(tested, i)
		}
	}
	slices.SortStableFunc(tested, func(a, b int) int { return cmp.Compare(rows[a].PRaw, rows[b].PRaw) })
	running := 0.0
	for i, idx := range tested {
		running = max(running, min(1, float64(family-i)*rows[idx].PRaw))
		rows[idx].P = running
	}
}

// compareMetric summarises both sides of one figure and tests them; the
// verdict waits for the family's adjustment (decide). Too few runs: when
// the smallest p-value the U test can give with this many runs a side (two
// samples wholly apart) is above the level the adjustment demands at
// worst, Alpha/family — then a difference in this figure alone could never
// be called. (benchmath's own warning looks at equal sample sizes only.)
func compareMetric(metric, unit string, base, cand []float64, rules SampleRules, family int) MetricRow {
	r := MetricRow{Metric: metric, Unit: unit, HigherIsBetter: metric == "throughput",
		Base: SideFigure{Values: slices.Clone(base)}, Cand: SideFigure{Values: slices.Clone(cand)}}
	if r.Base.Values == nil {
		r.Base.Values = []float64{}
	}
	if r.Cand.Values == nil {
		r.Cand.Values = []float64{}
	}
	level := rules.Alpha / float64(max(family, 1))
	th := &benchmath.Thresholds{CompareAlpha: level}
	r.P, r.PRaw = 1, 1
	if len(base) == 0 || len(cand) == 0 {
		r.Verdict, r.Note = NotCompared, "one side has no run with this figure"
		return r
	}
	// NewSample sorts in place: copies, so Values keep the run order.
	bs, cs := benchmath.NewSample(slices.Clone(base), th), benchmath.NewSample(slices.Clone(cand), th)
	summarize := func(f *SideFigure, s *benchmath.Sample) {
		sum := benchmath.AssumeNothing.Summary(s, rules.Confidence)
		f.Median, f.Lo, f.Hi = sum.Center, finite(sum.Lo), finite(sum.Hi)
	}
	summarize(&r.Base, bs)
	summarize(&r.Cand, cs)
	if r.Base.Median != 0 {
		r.Delta = (r.Cand.Median - r.Base.Median) / r.Base.Median
	}
	c := benchmath.AssumeNothing.Compare(bs, cs)
	r.P, r.PRaw = c.P, c.P
	for _, w := range c.Warnings {
		if !strings.HasPrefix(w.Error(), "need ") { // replaced by tooFew
			r.warnings = append(r.warnings, w.Error())
		}
	}
	if best := leastUTestP(len(base), len(cand)); best > level {
		r.tooFew = fmt.Sprintf("%d runs against %d can give p=%.4f at best, above %.4f (%g over %d figures varying): more runs needed",
			len(base), len(cand), best, level, rules.Alpha, max(family, 1))
	}
	return r
}

// leastUTestP: the smallest two-sided p-value of an exact Mann–Whitney U
// test of n1 against n2 values — every value of one side below every value
// of the other, 2 of the C(n1+n2, n1) orders as extreme.
func leastUTestP(n1, n2 int) float64 {
	orders := 1.0
	for i := 1; i <= n1; i++ {
		orders = orders * float64(n2+i) / float64(i)
	}
	return min(1, 2/orders)
}

// decide gives a compared row its verdict from the adjusted P.
func decide(r *MetricRow, rules SampleRules) {
	if r.Verdict == NotCompared {
		return
	}
	warnings := r.warnings
	// The effect: relative to the base; from a base of 0 (no errors) any
	// change is large.
	effect := math.Abs(r.Delta)
	if r.Base.Median == 0 && r.Cand.Median != 0 {
		effect = math.Inf(1)
		r.Note = "the base's median is 0"
	}
	switch {
	case r.P > rules.Alpha && r.tooFew != "":
		r.Verdict, r.Note = TooFewRounds, r.tooFew
	case r.P > rules.Alpha:
		// Warnings left are the test's failures, such as every value
		// being the same on both sides: nothing to tell apart.
		r.Verdict, r.Note = NoDifference, strings.Join(warnings, "; ")
	case r.Cand.Median == r.Base.Median:
		// The U test may still find the distributions apart (the same
		// median, different tails); which way is then not a median's to
		// say, and the verdict is about medians.
		r.Verdict, r.Note = NoDifference, fmt.Sprintf("the same median (p=%.3f)", r.P)
	case effect < rules.MinEffect:
		r.Verdict = NoDifference
		r.Note = fmt.Sprintf("significant (p=%.3f) but %.1f%% is below the minimum effect of %.1f%%", r.P, 100*math.Abs(r.Delta), 100*rules.MinEffect)
	default:
		better := r.Cand.Median > r.Base.Median == r.HigherIsBetter
		switch {
		case strings.HasSuffix(r.Metric, ".error_rate") && better:
			r.Verdict = FewerErrors
		case strings.HasSuffix(r.Metric, ".error_rate"):
			r.Verdict = MoreErrors
		case better:
			r.Verdict = Faster
		default:
			r.Verdict = Slower
		}
	}
}

// finite keeps JSON encodable: an interval with too few runs is unbounded.
func finite(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

// CheckRegressions: required checks that failed in some run of the
// candidate and in no run of the base — a correctness regression whatever
// the figures say — and required checks that passed in every base run but
// not in some candidate run (undecidable on the candidate).
func CheckRegressions(base, cand []*Summary) []string {
	failed, notPassed := map[string]bool{}, map[string]bool{}
	for _, s := range base {
		for _, c := range s.Checks {
			if !c.Required {
				continue
			}
			failed[c.Name] = failed[c.Name] || c.Result == checker.Fail
			notPassed[c.Name] = notPassed[c.Name] || c.Result != checker.Pass
		}
	}
	var out []string
	reported := map[string]bool{}
	for i, s := range cand {
		for _, c := range s.Checks {
			if !c.Required || reported[c.Name] {
				continue
			}
			switch {
			case c.Result == checker.Fail && !failed[c.Name]:
				out = append(out, fmt.Sprintf("required check %s failed in candidate run %d and in no base run (%s)", c.Name, i+1, c.Detail))
				reported[c.Name] = true
			case c.Result != checker.Pass && !notPassed[c.Name]:
				out = append(out, fmt.Sprintf("required check %s passed in every base run but was %s in candidate run %d (%s)", c.Name, c.Result, i+1, c.Detail))
				reported[c.Name] = true
			}
		}
	}
	return out
}
