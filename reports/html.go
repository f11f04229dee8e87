package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"path/filepath"
	"strings"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
)

// The chart library is vendored (see assets/README.md) and inlined, so a
// report opens offline, from a CI artifact, years later.
var (
	//go:embed assets/uPlot.iife.min.js
	uplotJS string
	//go:embed assets/uPlot.min.css
	uplotCSS string
	//go:embed report.html.tmpl
	reportTmpl string
)

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms": func(us any) string {
		switch v := us.(type) {
		case int64:
			return ms(float64(v))
		case float64:
			return ms(v)
		}
		return fmt.Sprint(us)
	},
	"lastClient": func(w WorkerSummary) int { return w.FirstClient + w.Clients - 1 },
	"pct":        func(f float64) float64 { return 100 * f },
	"upper":      strings.ToUpper,
	"lower":      strings.ToLower,
	"actual":     formatActual,
	"errs":       errorList,
	"mix":        mixString,
	"join":       strings.Join,
}).Parse(reportTmpl))

// mixString is an op mix as the --mix flag writes it, ops in their order.
func mixString(m map[string]int) string {
	var parts []string
	for _, op := range history.Ops {
		if w := m[op]; w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", op, w))
		}
	}
	return strings.Join(parts, ",")
}

// reportData is everything the page shows; the charts' part is inlined as
// JSON and drawn by the page's script.
type reportData struct {
	S      *Summary
	Ops    []string
	JS     template.JS
	CSS    template.CSS
	Charts template.JS // JSON: {series, spectra, faults, unled, ops}
	// Checks that apply; NotApplicable names the others, on one line.
	Checks        []checker.CheckResult
	NotApplicable []string
	// Reported: failing checks that are only reported, explained first;
	// their notes are FoldedNotes, the others' Notes.
	Reported           []reportedFailure
	Notes, FoldedNotes []string
	// Files: the run's other files, linked from the header.
	Files []string
}

// opFigures are an op's figures over the whole run, for the charts'
// legends.
type opFigures struct {
	P50      float64 `json:"p50"` // ms
	P99      float64 `json:"p99"`
	P999     float64 `json:"p999"`
	Max      float64 `json:"max"`
	OK       int     `json:"ok"`
	Conflict int     `json:"conflict"`
	Errors   int     `json:"errors"` // failures other than CAS conflicts
	Unknown  int     `json:"unknown"`
}

func figures(s *Summary) map[string]opFigures {
	out := map[string]opFigures{}
	for name, o := range s.Ops {
		f := opFigures{P50: o.LatencyUS.P50 / 1000, P99: o.LatencyUS.P99 / 1000, P999: o.LatencyUS.P999 / 1000, Max: o.LatencyUS.Max / 1000,
			OK: o.OK, Unknown: o.Unknown}
		for class, n := range o.Errors {
			if history.IsCASRefusal(class) {
				f.Conflict += n
			}
		}
		f.Errors = max(0, o.Fail-f.Conflict)
		out[name] = f
	}
	return out
}

// runFiles lists the files of the results folder a reader may want from
// the report: the history, the histograms, the per-second figures, the
// node logs.
func runFiles(dir string) []string {
	var out []string
	for _, pattern := range []string{"history.jsonl*", "summary.json", "junit.xml", "timeseries.csv", "latency/*.hgrm", "nodes/*.log"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if rel, err := filepath.Rel(dir, m); err == nil {
				out = append(out, filepath.ToSlash(rel))
			}
		}
	}
	return out
}

// WriteHTML writes report.html into dir: header, checks, latency and
// throughput over time per op (per second, or in windows of seconds for a
// long run), the percentile spectrum per op
// and the tables.
func WriteHTML(dir string, s *Summary) error {
	var series []Series
	for _, one := range s.series {
		series = append(series, downsampled(one, maxChartPoints))
	}
	charts := map[string]any{
		"series":  series,
		"spectra": spectra(s.latency),
		"faults":  s.Faults,
		"ops":     figures(s),
	}
	if s.Leadership != nil {
		charts["unled"] = s.Leadership.WithoutQuorum
	}
	if s.Resources != nil && len(s.Resources.Series) > 0 {
		charts["resources"] = s.Resources.chart(maxChartPoints)
	}
	b, err := json.Marshal(charts)
	if err != nil {
		return err
	}
	data := reportData{
		S:        s,
		Ops:      s.SortedOps(),
		JS:       template.JS(uplotJS),
		CSS:      template.CSS(uplotCSS),
		Charts:   template.JS(b),
		Reported: s.reportedFailures(),
		Files:    runFiles(dir),
	}
	data.Checks, data.NotApplicable = s.applicableChecks()
	data.Notes, data.FoldedNotes = s.splitNotes(data.Reported)

	return writeHTMLFile(filepath.Join(dir, "report.html"), reportTemplate, data)
}
