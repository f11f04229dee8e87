package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// A trend is many runs of one scenario in date order (nightly jobs): each
// run's figures and verdict, and where the figures shifted — the last
// Recent runs against the Window runs before them, with the statistics of
// ab (CompareSamples) — so that a slow creep no single night shows is
// seen, while one bad night among good ones is not called a shift.

// TrendRules: how many runs make "recent" and how many before them make
// the reference, with ab's significance rules.
type TrendRules struct {
	Recent  int         `json:"recent"`
	Window  int         `json:"window"`
	Samples SampleRules `json:"samples"`
}

// DefaultTrendRules: the last 3 runs against the 10 before.
// Only throughput, each op's p99 and error rate are judged: a smaller
// family of tests (see SampleRules) lets three runs against ten show a
// shift; p50 and p99.9 are charted, not judged.
var DefaultTrendRules = TrendRules{Recent: 3, Window: 10, Samples: SampleRules{
	Alpha: DefaultSampleRules.Alpha, MinEffect: DefaultSampleRules.MinEffect, Confidence: DefaultSampleRules.Confidence,
	Judged: []string{"throughput", ".p99", ".error_rate"}}}

// Trend is trend.json.
type Trend struct {
	Scenario string     `json:"scenario"`
	Rules    TrendRules `json:"rules"`
	Metrics  []string   `json:"metrics"`
	Runs     []TrendRun `json:"runs"`
	// Latest: the last Recent runs against the Window before them (empty
	// with too few runs); Shifted: its metrics that got worse.
	Latest  []MetricRow `json:"latest"`
	Shifted []string    `json:"shifted"`
	// Undecided: figures of the latest comparison that so few runs could
	// not show shifted however far apart (too many figures varied for
	// Recent runs: raise --recent).
	Undecided []string `json:"undecided,omitempty"`
	// Failing: runs whose verdict was not pass.
	Failing  []string `json:"failing"`
	ExitCode int      `json:"exit_code"`
}

// TrendRun is one run: its figures and, when the runs up to it shifted
// against the window before, the metrics that got worse.
type TrendRun struct {
	Dir       string             `json:"dir"`
	StartedAt string             `json:"started_at"`
	Verdict   string             `json:"verdict"`
	Figures   map[string]float64 `json:"figures"`
	Shifted   []string           `json:"shifted,omitempty"`
}

// BuildTrend orders the runs by start (then folder name) and flags every
// run at which the Recent runs ending there differ, for the worse, from
// the Window runs before them.
func BuildTrend(runs []*Summary, dirs []string, rules TrendRules) *Trend {
	idx := make([]int, len(runs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ra, rb := runs[idx[a]], runs[idx[b]]
		if ra.Run.StartedAt != rb.Run.StartedAt {
			return ra.Run.StartedAt < rb.Run.StartedAt
		}
		return dirs[idx[a]] < dirs[idx[b]]
	})
	t := &Trend{Rules: rules, Runs: []TrendRun{}, Shifted: []string{}, Failing: []string{}, Latest: []MetricRow{}}
	ordered := make([]*Summary, len(runs))
	seen := map[string]bool{}
	for n, i := range idx {
		s := runs[i]
		ordered[n] = s
		t.Scenario = s.Scenario
		f := figuresOf(s)
		run := TrendRun{Dir: dirs[i], StartedAt: s.Run.StartedAt, Verdict: string(s.Verdict), Figures: f.value}
		for _, m := range f.order {
			if !seen[m] {
				seen[m] = true
				t.Metrics = append(t.Metrics, m)
			}
		}
		if s.Verdict != "pass" {
			t.Failing = append(t.Failing, fmt.Sprintf("%s: %s", dirs[i], s.Verdict))
		}
		t.Runs = append(t.Runs, run)
	}
	for end := rules.Window + rules.Recent; end <= len(ordered); end++ {
		rows := CompareSamples(ordered[end-rules.Recent-rules.Window:end-rules.Recent], ordered[end-rules.Recent:end], rules.Samples)
		var worse []string
		for _, r := range rows {
			if r.Worse() {
				worse = append(worse, fmt.Sprintf("%s %s (%+.1f%%, p=%.3f)", r.Metric, r.Verdict, 100*r.Delta, r.P))
			}
		}
		t.Runs[end-1].Shifted = worse
		if end == len(ordered) {
			t.Latest, t.Shifted = rows, append([]string{}, worse...)
		}
	}
	for _, r := range t.Latest {
		if r.Verdict == TooFewRounds {
			t.Undecided = append(t.Undecided, r.Metric)
		}
	}
	switch {
	case len(t.Shifted) > 0 || len(t.Runs) > 0 && t.Runs[len(t.Runs)-1].Verdict == "fail":
		t.ExitCode = ExitFail
	case len(ordered) < rules.Window+rules.Recent || len(t.Undecided) > 0:
		t.ExitCode = ExitInconclusive
	}
	return t
}

// WriteText prints one line per run and what shifted.
func (t *Trend) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s: %d runs; the last %d against the %d before\n\n", t.Scenario, len(t.Runs), t.Rules.Recent, t.Rules.Window)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "started\tverdict\tops/s\tshifted\tfolder")
	for _, r := range t.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\n", r.StartedAt, r.Verdict, r.Figures["throughput"], strings.Join(r.Shifted, "; "), r.Dir)
	}
	tw.Flush()
	switch {
	case len(t.Runs) < t.Rules.Window+t.Rules.Recent:
		fmt.Fprintf(w, "\nnot enough runs to judge a shift: %d, need %d (--window %d + --recent %d)\n", len(t.Runs), t.Rules.Window+t.Rules.Recent, t.Rules.Window, t.Rules.Recent)
	case len(t.Shifted) > 0:
		fmt.Fprintf(w, "\nthe last %d runs shifted: %s\n", t.Rules.Recent, strings.Join(t.Shifted, "; "))
	case len(t.Undecided) > 0:
		fmt.Fprintf(w, "\n%d runs against %d cannot show a shift in %s with this many figures varying: raise --recent\n", t.Rules.Recent, t.Rules.Window, strings.Join(t.Undecided, ", "))
	default:
		fmt.Fprintf(w, "\nno shift in the last %d runs\n", t.Rules.Recent)
	}
	if len(t.Failing) > 0 {
		fmt.Fprintf(w, "runs that did not pass: %s\n", strings.Join(t.Failing, "; "))
	}
}

// WriteJSON writes trend.json into dir.
func (t *Trend) WriteJSON(dir string) error {
	return writeJSONFile(filepath.Join(dir, "trend.json"), t)
}

//go:embed trend.html.tmpl
var trendTemplate string

var trendHTML = template.Must(template.New("trend").Parse(trendTemplate))

// WriteHTML writes trend.html into dir: a chart per metric over the runs,
// the runs at which a shift was found marked, and the runs' table.
func (t *Trend) WriteHTML(dir string) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return writeHTMLFile(filepath.Join(dir, "trend.html"), trendHTML,
		map[string]any{"T": t, "CSS": template.CSS(uplotCSS), "JS": template.JS(uplotJS), "Data": template.JS(data)})
}
