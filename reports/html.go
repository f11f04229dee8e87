package reports

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"os"
	"path/filepath"
	"strings"
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
	"ms":     func(us float64) string { return ms(us) },
	"pct":    func(f float64) float64 { return 100 * f },
	"upper":  strings.ToUpper,
	"lower":  strings.ToLower,
	"actual": formatActual,
	"errs":   errorList,
}).Parse(reportTmpl))

// reportData is everything the page shows; the charts' part is inlined as
// JSON and drawn by the page's script.
type reportData struct {
	S       *Summary
	Ops     []string
	JS      template.JS
	CSS     template.CSS
	Charts  template.JS // JSON: {series, spectra, faults}
	HasView map[string]bool
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
	}
	b, err := json.Marshal(charts)
	if err != nil {
		return err
	}
	views := map[string]bool{}
	for _, v := range s.Visualizations {
		views[v] = true
	}
	data := reportData{
		S:       s,
		Ops:     s.SortedOps(),
		JS:      template.JS(uplotJS),
		CSS:     template.CSS(uplotCSS),
		Charts:  template.JS(b),
		HasView: views,
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return err
	}
	if err := reportTemplate.Execute(f, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
