package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kvharness/kvharness/checker"
)

// A capacity search's result (capacity.json): every step with what was
// offered and achieved, per-op latency and errors and whether it met the
// SLO, and the answer — the highest rate that met the SLO in every one of
// its runs, where it broke and by which term, the closed-loop maximum
// beside it.

// Step phases.
const (
	PhaseClosedLoop = "closed-loop"
	PhaseRamp       = "ramp"
	PhaseBisect     = "bisect"
	PhaseRepeat     = "repeat"
)

// Capacity verdicts.
const (
	CapacityFound       = "found"
	CapacityNone        = "no rate met the SLO"
	CapacityCheckFailed = "a required check failed"
	CapacityUndecided   = "inconclusive"
	CapacityInterrupted = "interrupted"
)

// Capacity is capacity.json.
type Capacity struct {
	Scenario string `json:"scenario"`
	// Target: what ran where (servers, release, nodes, faults).
	Target    string   `json:"target"`
	SLO       []string `json:"slo"`
	StepSec   float64  `json:"step_sec"`
	WarmupSec float64  `json:"warmup_sec"`
	Precision float64  `json:"precision"`
	Repeats   int      `json:"repeats"`
	// MaxRate: the highest offered rate (ops/s) whose every run met the
	// SLO (0: none). BrokeAt: the lowest rate above it with a run that
	// broke the SLO; the capacity lies between the two. Spread: the SLO's
	// figures over MaxRate's runs, against their limits.
	MaxRate  float64          `json:"max_rate"`
	BrokeAt  float64          `json:"broke_at"`
	BrokenBy []string         `json:"broken_by"`
	BrokeIn  string           `json:"broke_in,omitempty"` // "2 of 3 runs"
	Spread   []CapacitySpread `json:"max_rate_spread"`
	// ClosedLoopMax: the closed-loop step's throughput, the figure a
	// closed-loop benchmark prints; 0 when it was skipped.
	ClosedLoopMax float64        `json:"closed_loop_max"`
	Steps         []CapacityStep `json:"steps"`
	Verdict       string         `json:"verdict"`
	// Reason: why the search ended without an answer, if it did; Notes:
	// what the reader should know of the answer.
	Reason   string   `json:"reason,omitempty"`
	Notes    []string `json:"notes,omitempty"`
	ExitCode int      `json:"exit_code"`
}

// CapacitySpread is one SLO term over the runs at the answer's rate.
type CapacitySpread struct {
	Term   string    `json:"term"`
	Limit  string    `json:"limit"`
	Unit   string    `json:"unit"`
	Values []float64 `json:"values"`
}

// CapacityStep is one run of the search.
type CapacityStep struct {
	N     int    `json:"n"`
	Phase string `json:"phase"`
	// Offered: the open-loop rate (ops/s); 0 for the closed-loop step.
	Offered  float64               `json:"offered"`
	Achieved float64               `json:"achieved"`
	Ops      map[string]CapacityOp `json:"ops"`
	// ErrorRate: every client op together, CAS refusals aside.
	ErrorRate float64 `json:"error_rate"`
	// LateOps: ops that started behind schedule (the clients were busy).
	LateOps    int64             `json:"late_ops"`
	MeetsSLO   bool              `json:"meets_slo"`
	Broken     []string          `json:"broken,omitempty"`
	Thresholds []ThresholdResult `json:"slo_terms"`
	// HarnessCPU, MachineCPU: the load generator's process (percent of one
	// core) and the machine (percent of all cores), means over the step;
	// Saturated: what ran out of CPU, if something did.
	HarnessCPU float64 `json:"harness_cpu_pct"`
	MachineCPU float64 `json:"machine_cpu_pct"`
	Saturated  string  `json:"saturated,omitempty"`
	// ChecksFailed: required checks this run failed.
	ChecksFailed []string `json:"checks_failed,omitempty"`
	Verdict      string   `json:"verdict"`
	Dir          string   `json:"dir"`
	Error        string   `json:"error,omitempty"`
}

// CapacityOp is one op's figures in a step (latency in ms, from each
// op's intended start).
type CapacityOp struct {
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	P999      float64 `json:"p999_ms"`
	ErrorRate float64 `json:"error_rate"`
}

// Fill takes a completed run's figures.
func (st *CapacityStep) Fill(s *Summary) {
	st.Achieved, st.LateOps, st.Verdict = s.ThroughputOpsPerSec, s.LateOps, string(s.Verdict)
	st.Ops = map[string]CapacityOp{}
	for name, o := range s.Ops {
		if name == OpWatch {
			continue
		}
		l := o.LatencyUS
		st.Ops[name] = CapacityOp{P50: l.P50 / 1000, P99: l.P99 / 1000, P999: l.P999 / 1000, ErrorRate: errorRate(o)}
	}
	st.ErrorRate = errorRate(s.clientOps())
	if r := s.Resources; r != nil {
		st.HarnessCPU, st.MachineCPU, st.Saturated = r.Harness.CPUMeanPct, r.MachineCPUMeanPct, r.Saturated
	}
	st.Thresholds = s.Thresholds
	st.MeetsSLO = true
	if st.Offered > 0 && s.ThroughputOpsPerSec == 0 {
		// No operation was measured (an open loop so far behind that every
		// op was scheduled inside the warm-up): an SLO on latencies and
		// error rates holds vacuously on nothing, which shows nothing.
		st.MeetsSLO = false
		st.Broken = append(st.Broken, fmt.Sprintf("no operation measured of the %.0f ops/s offered", st.Offered))
	}
	for _, t := range s.Thresholds {
		if !t.Pass {
			st.MeetsSLO = false
			st.Broken = append(st.Broken, fmt.Sprintf("%s %s (%s)", t.Name, formatActual(t.Actual, t.Unit), t.Expr))
		}
	}
	for _, c := range s.Checks {
		if c.Required && c.Result == checker.Fail {
			st.ChecksFailed = append(st.ChecksFailed, c.Name)
		}
	}
	slices.Sort(st.ChecksFailed)
}

// Line is the step in one line, for progress.
func (st CapacityStep) Line() string {
	switch {
	case st.Error != "":
		return fmt.Sprintf("step %d (%s): could not run: %s", st.N, st.Phase, st.Error)
	case st.Ops == nil:
		return fmt.Sprintf("step %d (%s): interrupted", st.N, st.Phase)
	}
	what := "meets the SLO"
	if !st.MeetsSLO {
		what = "breaks the SLO: " + strings.Join(st.Broken, ", ")
	}
	if len(st.ChecksFailed) > 0 {
		what = "fails " + strings.Join(st.ChecksFailed, ", ")
	}
	rate := rateCell(st.Offered)
	if st.Offered > 0 {
		rate += " ops/s offered"
	}
	return fmt.Sprintf("step %d (%s): %s → %.0f ops/s, %s", st.N, st.Phase, rate, st.Achieved, what)
}

// runsAt: the completed open-loop steps at rate.
func (c *Capacity) runsAt(rate float64) []CapacityStep {
	var out []CapacityStep
	for _, st := range c.Steps {
		if st.Offered == rate && rate > 0 && st.Ops != nil {
			out = append(out, st)
		}
	}
	return out
}

// RunsAt: how many completed runs rate has.
func (c *Capacity) RunsAt(rate float64) int { return len(c.runsAt(rate)) }

// MetEveryTime: rate was run and met the SLO in every run.
func (c *Capacity) MetEveryTime(rate float64) bool {
	runs := c.runsAt(rate)
	return len(runs) > 0 && !slices.ContainsFunc(runs, func(st CapacityStep) bool { return !st.MeetsSLO })
}

// BestBelow: the highest rate below rate that met the SLO every time it
// was run (0: none).
func (c *Capacity) BestBelow(rate float64) float64 {
	best := 0.0
	for _, st := range c.Steps {
		if st.Offered > 0 && st.Offered < rate && st.Offered > best && c.MetEveryTime(st.Offered) {
			best = st.Offered
		}
	}
	return best
}

// Decide sets the answer and the verdict; stop is why the search ended
// early ("" if it ran its course).
func (c *Capacity) Decide(stop string) {
	for _, st := range c.Steps {
		if st.Phase == PhaseClosedLoop && st.Ops != nil {
			c.ClosedLoopMax = st.Achieved
		}
	}
	// The answer: the highest rate that met the SLO in as many runs as
	// the boundary gets, every one of them.
	for _, st := range c.Steps {
		if st.Offered > c.MaxRate && c.RunsAt(st.Offered) >= c.Repeats && c.MetEveryTime(st.Offered) {
			c.MaxRate = st.Offered
		}
	}
	c.BrokenBy, c.Spread = []string{}, []CapacitySpread{}
	for _, st := range c.Steps {
		if st.Offered > c.MaxRate && st.Ops != nil && !st.MeetsSLO && (c.BrokeAt == 0 || st.Offered < c.BrokeAt) {
			c.BrokeAt = st.Offered
		}
	}
	if c.BrokeAt > 0 {
		runs := c.runsAt(c.BrokeAt)
		broke := 0
		seen := map[string]bool{}
		for _, st := range runs {
			if !st.MeetsSLO {
				broke++
			}
			for _, t := range st.Thresholds {
				if !t.Pass && !seen[t.Name] {
					seen[t.Name] = true
					c.BrokenBy = append(c.BrokenBy, t.Name)
				}
			}
		}
		c.BrokeIn = fmt.Sprintf("%d of %d runs", broke, len(runs))
	}
	if c.MaxRate > 0 {
		c.Spread = spreadOf(c.runsAt(c.MaxRate))
	}
	// A boundary found with something out of CPU is that thing's limit.
	for _, rate := range []float64{c.MaxRate, c.BrokeAt} {
		for _, st := range c.runsAt(rate) {
			if st.Saturated != "" {
				c.Notes = append(c.Notes, fmt.Sprintf("at %.0f ops/s (step %d) %s", rate, st.N, st.Saturated))
				break
			}
		}
	}
	failed := slices.ContainsFunc(c.Steps, func(st CapacityStep) bool { return len(st.ChecksFailed) > 0 })
	switch {
	case stop == CapacityInterrupted:
		c.Verdict, c.ExitCode = CapacityInterrupted, ExitInterrupted
	case failed:
		c.Verdict, c.ExitCode, c.Reason = CapacityCheckFailed, ExitFail, stop
	case stop != "":
		c.Verdict, c.ExitCode, c.Reason = CapacityUndecided, ExitInconclusive, stop
	case c.MaxRate > 0:
		c.Verdict, c.ExitCode = CapacityFound, ExitPass
	default:
		c.Verdict, c.ExitCode = CapacityNone, ExitFail
		c.Reason = "no rate tried met the SLO in every one of its runs"
	}
}

// spreadOf: each SLO term's figures over runs, in run order.
func spreadOf(runs []CapacityStep) []CapacitySpread {
	var out []CapacitySpread
	idx := map[string]int{}
	for _, st := range runs {
		for _, t := range st.Thresholds {
			i, ok := idx[t.Name]
			if !ok {
				i = len(out)
				idx[t.Name] = i
				out = append(out, CapacitySpread{Term: t.Name, Limit: t.Expr, Unit: t.Unit})
			}
			out[i].Values = append(out[i].Values, t.Actual)
		}
	}
	return out
}

// WriteText prints the steps and the answer.
func (c *Capacity) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\nSLO: %s; steps of %.0f s (the first %.0f s warm-up, left out); precision %.0f%%, the boundary run %d times\n\n",
		strings.Join(c.SLO, ", "), c.StepSec, c.WarmupSec, 100*c.Precision, c.Repeats)
	ops := c.opsShown()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "step\tphase\toffered ops/s\tachieved ops/s"
	for _, op := range ops {
		head += "\t" + op + ".p99 ms"
	}
	fmt.Fprintln(tw, head+"\terrors\tcpu harness/machine\tSLO")
	for _, st := range c.Steps {
		if st.Ops == nil {
			fmt.Fprintf(tw, "%d\t%s\t%s\t\t%s\n", st.N, st.Phase, rateCell(st.Offered), strings.Repeat("\t", len(ops)+2)+"not run")
			continue
		}
		line := fmt.Sprintf("%d\t%s\t%s\t%.0f", st.N, st.Phase, rateCell(st.Offered), st.Achieved)
		for _, op := range ops {
			line += fmt.Sprintf("\t%s", ms(st.Ops[op].P99*1000))
		}
		verdict := "meets"
		if !st.MeetsSLO {
			verdict = "breaks: " + strings.Join(st.Broken, ", ")
		}
		if len(st.ChecksFailed) > 0 {
			verdict = "FAILS " + strings.Join(st.ChecksFailed, ", ")
		}
		fmt.Fprintf(tw, "%s\t%.2f%%\t%.0f%%/%.0f%%\t%s\n", line, 100*st.ErrorRate, st.HarnessCPU, st.MachineCPU, verdict)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if c.MaxRate > 0 {
		var figures []string
		for _, sp := range c.Spread {
			lo, hi := slices.Min(sp.Values), slices.Max(sp.Values)
			figures = append(figures, fmt.Sprintf("%s %s–%s (%s)", sp.Term, formatActual(lo, sp.Unit), formatActual(hi, sp.Unit), sp.Limit))
		}
		fmt.Fprintf(w, "max rate: %.0f ops/s, the SLO met in all %d runs: %s\n", c.MaxRate, c.RunsAt(c.MaxRate), strings.Join(figures, "; "))
	}
	if c.BrokeAt > 0 {
		fmt.Fprintf(w, "broke at: %.0f ops/s in %s, by %s\n", c.BrokeAt, c.BrokeIn, strings.Join(c.BrokenBy, ", "))
	}
	if c.ClosedLoopMax > 0 {
		fmt.Fprintf(w, "closed-loop maximum: %.0f ops/s", c.ClosedLoopMax)
		if c.MaxRate > 0 {
			fmt.Fprintf(w, " — %.1f× the rate the SLO allows", c.ClosedLoopMax/c.MaxRate)
		}
		fmt.Fprintln(w)
	}
	if c.Reason != "" {
		fmt.Fprintf(w, "why: %s\n", c.Reason)
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "verdict: %s (exit %d)\n", strings.ToUpper(c.Verdict), c.ExitCode)
}

func rateCell(r float64) string {
	if r == 0 {
		return "closed loop"
	}
	return fmt.Sprintf("%.0f", r)
}

// opsShown: the ops the SLO names, else every op the steps made.
func (c *Capacity) opsShown() []string {
	var ops []string
	for _, term := range c.SLO {
		name, _, _ := SplitThreshold(term)
		if op, _, ok := strings.Cut(name, "."); ok && !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	if len(ops) > 0 {
		return ops
	}
	for _, st := range c.Steps {
		for op := range st.Ops {
			if !slices.Contains(ops, op) {
				ops = append(ops, op)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// WriteJSON writes capacity.json into dir.
func (c *Capacity) WriteJSON(dir string) error {
	return writeJSONFile(filepath.Join(dir, "capacity.json"), c)
}

// WriteJUnit writes junit.xml: a case for the answer, one per step that
// failed a check.
func (c *Capacity) WriteJUnit(dir string) error {
	suite := junitSuite{Name: "kvharness capacity " + c.Scenario}
	answer := junitCase{Name: "capacity", Class: "kvharness.capacity"}
	switch c.ExitCode {
	case ExitPass:
		answer.Out = fmt.Sprintf("max rate %.0f ops/s meeting %s", c.MaxRate, strings.Join(c.SLO, ", "))
	default:
		answer.Failure = &junitMessage{Message: c.Verdict, Text: c.Reason}
	}
	suite.Cases = append(suite.Cases, answer)
	for _, st := range c.Steps {
		if len(st.ChecksFailed) > 0 {
			suite.Cases = append(suite.Cases, junitCase{Name: fmt.Sprintf("step %d checks", st.N), Class: "kvharness.capacity",
				Failure: &junitMessage{Message: "required checks failed: " + strings.Join(st.ChecksFailed, ", "), Text: st.Dir}})
			suite.Failures++
		}
	}
	if answer.Failure != nil {
		suite.Failures++
	}
	return writeJUnitFile(filepath.Join(dir, "junit.xml"), suite)
}

//go:embed capacity.html.tmpl
var capacityTemplate string

var capacityHTML = template.Must(template.New("capacity").Funcs(template.FuncMap{
	"rate":   rateCell,
	"rel":    relLink,
	"pct":    func(f float64) float64 { return 100 * f },
	"div":    func(a, b float64) float64 { return a / b },
	"figure": formatActual,
}).Parse(capacityTemplate))

// WriteHTML writes capacity.html into dir: latency against offered rate
// (the hockey stick) with the SLO's limits and the answer marked, achieved
// against offered, and the steps' table.
func (c *Capacity) WriteHTML(dir string) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	ops := c.opsShown()
	// The SLO's latency limits, in ms, drawn across the latency chart.
	limits := []float64{}
	for _, term := range c.SLO {
		if name, expr, err := SplitThreshold(term); err == nil {
			if t, err := ParseThreshold(name, expr); err == nil && latencyStats[t.Stat] {
				limits = append(limits, t.Limit/1000)
			}
		}
	}
	extra, err := json.Marshal(map[string]any{"ops": ops, "limits": limits})
	if err != nil {
		return err
	}
	return writeHTMLFile(filepath.Join(dir, "capacity.html"), capacityHTML,
		map[string]any{"C": c, "Dir": dir, "Ops": ops, "CSS": template.CSS(uplotCSS), "JS": template.JS(uplotJS),
			"Data": template.JS(data), "Extra": template.JS(extra)})
}
