package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

//go:embed ab.html.tmpl
var abTemplate string

var abHTML = template.Must(template.New("ab").Funcs(template.FuncMap{
	"interval": interval,
	"rel":      relLink,
	"pct":      func(f float64) string { return fmt.Sprintf("%g%%", 100*f) },
	"delta":    func(d float64) string { return fmt.Sprintf("%+.1f%%", 100*d) },
	"verdictClass": func(v string) string {
		switch v {
		case Slower, MoreErrors:
			return "w"
		case Faster, FewerErrors:
			return "b"
		case TooFewRounds:
			return "u"
		}
		return ""
	},
}).Parse(abTemplate))

// A/B verdicts.
const (
	ABNoRegression = "no regression"
	ABRegression   = "regression"
	ABInconclusive = "inconclusive"
)

// ABReport is ab.json: what `kvharness ab` decided, from which figures.
type ABReport struct {
	Verdict  string `json:"verdict"`
	ExitCode int    `json:"exit_code"`
	// Regressions: the metrics that got worse and the required checks the
	// candidate failed (or could not decide) where the base did not.
	Regressions []string `json:"regressions"`
	// CheckRegressions: those of Regressions that are required checks.
	CheckRegressions []string `json:"check_regressions,omitempty"`
	// Inconclusive: why the rounds cannot decide, when they cannot.
	Inconclusive []string `json:"inconclusive,omitempty"`
	Base         ABSide   `json:"base"`
	Cand         ABSide   `json:"cand"`
	// Differences: what the two sides ran differently besides the server
	// version and the faults (see Differences) — on purpose in a
	// configuration question (R3 against R5), printed so nobody misses it.
	Differences []string    `json:"differences,omitempty"`
	Rules       SampleRules `json:"rules"`
	// Rounds asked for, RoundsDone completed by both sides, Warmup
	// discarded first.
	Rounds      int         `json:"rounds"`
	RoundsDone  int         `json:"rounds_done"`
	Warmup      int         `json:"warmup_rounds"`
	Interrupted bool        `json:"interrupted"`
	Metrics     []MetricRow `json:"metrics"`
	Runs        []ABRun     `json:"runs"`
}

// ABSide describes one side: what it ran against what.
type ABSide struct {
	Scenario      string `json:"scenario"`
	Target        string `json:"target"` // embedded, a server binary, external URLs
	ServerVersion string `json:"server_version,omitempty"`
	Description   string `json:"description"`
}

// ABRun is one run of one side, in the order run.
type ABRun struct {
	Side       string  `json:"side"`
	Round      int     `json:"round"`
	Warmup     bool    `json:"warmup,omitempty"` // discarded
	Seed       uint64  `json:"seed"`
	Dir        string  `json:"dir"`
	Verdict    string  `json:"verdict,omitempty"`
	ExitCode   int     `json:"exit_code"`
	Throughput float64 `json:"throughput_ops_per_sec,omitempty"`
	Error      string  `json:"error,omitempty"` // the run could not be carried out
	// Interrupted: the run was cut short (Ctrl-C); its figures and checks
	// cover part of a run and do not count.
	Interrupted bool `json:"interrupted,omitempty"`
}

// DecideAB fills the verdict from the metric rows and the check
// regressions: a worse metric or a check regression is a regression;
// otherwise too few rounds, a run that could not be carried out, or a
// metric without enough rounds leave it inconclusive.
func (r *ABReport) DecideAB(checkRegressions []string) {
	r.CheckRegressions = checkRegressions
	r.Regressions = append([]string{}, checkRegressions...)
	for _, m := range r.Metrics {
		if m.Worse() {
			delta := fmt.Sprintf("%+.1f%%", 100*m.Delta)
			if m.Base.Median == 0 {
				delta = "from 0"
			}
			r.Regressions = append(r.Regressions, fmt.Sprintf("%s %s: %s → %s %s (%s, p=%.3f)",
				m.Metric, m.Verdict, fmtFigure(m.Base.Median), fmtFigure(m.Cand.Median), m.Unit, delta, m.P))
		}
	}
	for _, run := range r.Runs {
		if run.Error != "" {
			r.Inconclusive = append(r.Inconclusive, fmt.Sprintf("%s run of round %d could not be carried out: %s", run.Side, run.Round, run.Error))
		}
	}
	if r.RoundsDone < r.Rounds {
		r.Inconclusive = append(r.Inconclusive, fmt.Sprintf("%d of %d rounds completed", r.RoundsDone, r.Rounds))
	}
	var few []string
	for _, m := range r.Metrics {
		if m.Verdict == TooFewRounds {
			few = append(few, m.Metric)
		}
	}
	if len(few) > 0 {
		r.Inconclusive = append(r.Inconclusive, fmt.Sprintf("not enough rounds to tell %s apart", strings.Join(few, ", ")))
	}
	switch {
	case len(r.Regressions) > 0:
		r.Verdict, r.ExitCode = ABRegression, ExitFail
	case r.RoundsDone == 0 && !r.Interrupted && len(r.Runs) > 0 && r.Runs[len(r.Runs)-1].Error != "":
		// Not one round: a side cannot run at all (a bad binary, servers
		// out of reach) — a usage error, as for run.
		r.Verdict, r.ExitCode = ABInconclusive, ExitUsage
	case r.Interrupted:
		r.Verdict, r.ExitCode = ABInconclusive, ExitInterrupted
	case len(r.Inconclusive) > 0:
		r.Verdict, r.ExitCode = ABInconclusive, ExitInconclusive
	default:
		r.Verdict, r.ExitCode = ABNoRegression, ExitPass
	}
}

// fmtFigure prints a figure with the precision its size asks for.
func fmtFigure(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e30 && v < 0:
		return "-∞"
	case a >= 1e30:
		return "∞"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// WriteJSON writes ab.json into dir.
func (r *ABReport) WriteJSON(dir string) error {
	return writeJSONFile(filepath.Join(dir, "ab.json"), r)
}

// WriteText prints the per-metric table and the verdict.
func (r *ABReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "base: %s\ncand: %s\n", r.Base.Description, r.Cand.Description)
	if len(r.Differences) > 0 {
		fmt.Fprintf(w, "the sides differ in: %s\n", strings.Join(r.Differences, "; "))
	}
	fmt.Fprintf(w, "%d of %d rounds (ABBA order, %d warm-up discarded); significance %.0f%% over the whole table (Holm), minimum effect %.0f%%, %.0f%% intervals of the median\n\n",
		r.RoundsDone, r.Rounds, r.Warmup, 100*r.Rules.Alpha, 100*r.Rules.MinEffect, 100*r.Rules.Confidence)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tunit\tbase median [interval]\tcand median [interval]\tdelta\tp (Holm)\tverdict")
	for _, m := range r.Metrics {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%+.1f%%\t%.3f\t%s\n", m.Metric, m.Unit, interval(m.Base), interval(m.Cand), 100*m.Delta, m.P, m.Verdict)
	}
	tw.Flush()
	if len(r.Regressions) > 0 {
		fmt.Fprintln(w, "\nregressions:")
		for _, g := range r.Regressions {
			fmt.Fprintf(w, "  - %s\n", g)
		}
	}
	if len(r.Inconclusive) > 0 {
		fmt.Fprintln(w, "\ninconclusive because:")
		for _, g := range r.Inconclusive {
			fmt.Fprintf(w, "  - %s\n", g)
		}
	}
	fmt.Fprintf(w, "\nverdict: %s (exit %d)\n", strings.ToUpper(r.Verdict), r.ExitCode)
}

func interval(f SideFigure) string {
	return fmt.Sprintf("%s [%s, %s]", fmtFigure(f.Median), fmtFigure(f.Lo), fmtFigure(f.Hi))
}

// WriteJUnit writes junit.xml into dir: one case for the correctness
// comparison and one per metric; a worse metric or check is a failure,
// an undecided one an error.
func (r *ABReport) WriteJUnit(dir string) error {
	suite := junitSuite{Name: "kvharness/ab"}
	checks := junitCase{Class: "kvharness.ab", Name: "required checks"}
	if len(r.CheckRegressions) > 0 {
		checks.Failure = &junitMessage{Message: "the candidate failed checks the base passed", Text: strings.Join(r.CheckRegressions, "\n")}
		suite.Failures++
	}
	suite.Cases = append(suite.Cases, checks)
	for _, m := range r.Metrics {
		tc := junitCase{Class: "kvharness.ab.metrics", Name: m.Metric,
			Out: fmt.Sprintf("base %s, cand %s %s, delta %+.1f%%, p=%.3f: %s", interval(m.Base), interval(m.Cand), m.Unit, 100*m.Delta, m.P, m.Verdict)}
		switch {
		case m.Worse():
			tc.Failure = &junitMessage{Message: m.Verdict, Text: tc.Out}
			suite.Failures++
		case m.Verdict == TooFewRounds:
			tc.Error = &junitMessage{Message: m.Verdict, Text: m.Note}
			suite.Errors++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	if r.Interrupted || r.RoundsDone < r.Rounds {
		msg := fmt.Sprintf("%d of %d rounds completed", r.RoundsDone, r.Rounds)
		suite.Cases = append(suite.Cases, junitCase{Class: "kvharness.ab", Name: "rounds-complete", Error: &junitMessage{Message: "cut short", Text: msg}, Out: msg})
		suite.Errors++
	}
	return writeJUnitFile(filepath.Join(dir, "junit.xml"), suite)
}

// WriteHTML writes ab.html into dir: the verdict, the table of figures, and
// every round's value per metric as points, base beside candidate.
func (r *ABReport) WriteHTML(dir string) error {
	data, err := json.Marshal(r.Metrics)
	if err != nil {
		return err
	}
	return writeHTMLFile(filepath.Join(dir, "ab.html"), abHTML, map[string]any{
		"R": r, "Dir": dir, "Class": strings.ReplaceAll(r.Verdict, " ", "-"), "Upper": strings.ToUpper(r.Verdict),
		"CSS": template.CSS(uplotCSS), "JS": template.JS(uplotJS), "Data": template.JS(data),
	})
}
