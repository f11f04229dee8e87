package reports

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
)

// CompareRules say what counts as a regression of a candidate run against
// its base: the upgrade-validation verdict.
type CompareRules struct {
	// MaxP99Increase: an op's p99 may grow by this fraction (0.2 = 20 %) ...
	MaxP99Increase float64
	// MinP99DeltaUS: ... and a growth below this many microseconds is noise.
	MinP99DeltaUS float64
	// MaxThroughputDrop: throughput may fall by this fraction.
	MaxThroughputDrop float64
}

// DefaultCompareRules: 20 % on p99 (ignoring < 1 ms) and on throughput.
var DefaultCompareRules = CompareRules{MaxP99Increase: 0.2, MinP99DeltaUS: 1000, MaxThroughputDrop: 0.2}

// Comparison is base vs candidate, row by row.
type Comparison struct {
	Base, Cand string
	// Differences: what the two runs did differently (see Differences),
	// compared anyway because the user asked.
	Differences []string `json:"differences,omitempty"`
	// Versions and Faults: the servers' versions and the faults injected,
	// base and candidate, which may differ.
	Versions    [2]string    `json:"server_versions"`
	Faults      [2]string    `json:"faults"`
	Rows        []CompareRow `json:"rows"`
	Checks      []CheckDelta `json:"checks"`
	Regressions []string     `json:"regressions"`
}

// CompareRow is one figure in both runs.
type CompareRow struct {
	Metric string  `json:"metric"`
	Unit   string  `json:"unit"`
	Base   float64 `json:"base"`
	Cand   float64 `json:"cand"`
	Delta  float64 `json:"delta"` // relative: (cand-base)/base; 0 when base is 0
}

// CheckDelta is one check's result in both runs.
type CheckDelta struct {
	Name     string         `json:"name"`
	Required bool           `json:"required"`
	Base     checker.Status `json:"base"`
	Cand     checker.Status `json:"cand"`
}

// LoadSummary reads a results folder's summary.json.
func LoadSummary(dir string) (*Summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a results folder: %w", dir, err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s/summary.json: %w", dir, err)
	}
	return &s, nil
}

// LoadRuns reads dir as one results folder (it holds summary.json) or as
// a folder of results folders (each of its sub-folders that holds one, in
// name order: several runs of one side, for a comparison with
// significance). names are the folders read.
func LoadRuns(dir string) (runs []*Summary, names []string, err error) {
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err == nil {
		s, err := LoadSummary(dir)
		if err != nil {
			return nil, nil, err
		}
		return []*Summary{s}, []string{dir}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a results folder: %w", dir, err)
	}
	for _, e := range entries { // ReadDir sorts by name
		sub := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sub, "summary.json")); !e.IsDir() || err != nil {
			continue
		}
		s, err := LoadSummary(sub)
		if err != nil {
			return nil, nil, err
		}
		runs, names = append(runs, s), append(names, sub)
	}
	if len(runs) == 0 {
		return nil, nil, fmt.Errorf("%s is not a results folder, nor a folder of results folders (no summary.json in it or in its sub-folders)", dir)
	}
	return runs, names, nil
}

// CompareFolders compares several runs a side with the statistics of ab
// (CompareSamples, CheckRegressions): the verdict of `compare` when a
// side has more than one run.
func CompareFolders(base, cand []*Summary, baseDir, candDir string, rules SampleRules) *ABReport {
	n := min(len(base), len(cand))
	r := &ABReport{Base: ABSide{Description: fmt.Sprintf("%s (%d runs)", baseDir, len(base))},
		Cand: ABSide{Description: fmt.Sprintf("%s (%d runs)", candDir, len(cand))}, Rules: rules, Rounds: n, RoundsDone: n,
		Runs: []ABRun{}, Differences: Differences(base[0], cand[0]), Metrics: CompareSamples(base, cand, rules)}
	r.Base.ServerVersion, r.Cand.ServerVersion = base[0].Target.ServerVersion, cand[0].Target.ServerVersion
	r.DecideAB(CheckRegressions(base, cand))
	return r
}

// Compare lines two runs up and applies the rules.
func Compare(baseDir, candDir string, base, cand *Summary, rules CompareRules) *Comparison {
	c := &Comparison{Base: baseDir, Cand: candDir, Regressions: []string{}, Differences: Differences(base, cand),
		Versions: [2]string{base.Target.ServerVersion, cand.Target.ServerVersion}, Faults: [2]string{faultsOf(base), faultsOf(cand)}}
	row := func(metric, unit string, b, v float64) CompareRow {
		r := CompareRow{Metric: metric, Unit: unit, Base: b, Cand: v}
		if b != 0 {
			r.Delta = (v - b) / b
		}
		c.Rows = append(c.Rows, r)
		return r
	}
	t := row("throughput", "ops/s", base.ThroughputOpsPerSec, cand.ThroughputOpsPerSec)
	if t.Base > 0 && t.Delta < -rules.MaxThroughputDrop {
		c.Regressions = append(c.Regressions, fmt.Sprintf("throughput down %.1f%% (%.0f → %.0f ops/s)", -100*t.Delta, t.Base, t.Cand))
	}
	for _, op := range unionOps(base, cand) {
		b, v := opOrEmpty(base, op), opOrEmpty(cand, op)
		row(op+".p50", "ms", b.LatencyUS.P50/1000, v.LatencyUS.P50/1000)
		p99 := row(op+".p99", "ms", b.LatencyUS.P99/1000, v.LatencyUS.P99/1000)
		row(op+".p999", "ms", b.LatencyUS.P999/1000, v.LatencyUS.P999/1000)
		row(op+".max", "ms", b.LatencyUS.Max/1000, v.LatencyUS.Max/1000)
		row(op+".error_rate", "%", 100*errorRate(b), 100*errorRate(v))
		if p99.Base > 0 && p99.Delta > rules.MaxP99Increase && (p99.Cand-p99.Base)*1000 >= rules.MinP99DeltaUS {
			c.Regressions = append(c.Regressions, fmt.Sprintf("%s p99 up %.1f%% (%.2f → %.2f ms)", op, 100*p99.Delta, p99.Base, p99.Cand))
		}
	}
	baseChecks := map[string]checker.CheckResult{}
	for _, ch := range base.Checks {
		baseChecks[ch.Name] = ch
	}
	for _, ch := range cand.Checks {
		b, ok := baseChecks[ch.Name]
		d := CheckDelta{Name: ch.Name, Required: ch.Required, Cand: ch.Result, Base: "missing"}
		if ok {
			d.Base = b.Result
		}
		c.Checks = append(c.Checks, d)
		switch {
		case !ch.Required:
		case ch.Result == checker.Fail && d.Base != checker.Fail:
			c.Regressions = append(c.Regressions, fmt.Sprintf("required check %s: %s → fail (%s)", ch.Name, d.Base, ch.Detail))
		case ch.Result != checker.Pass && d.Base == checker.Pass:
			// What the base showed, the candidate could not: an upgrade
			// that makes a check undecidable is not a safe one.
			c.Regressions = append(c.Regressions, fmt.Sprintf("required check %s: pass → %s (%s)", ch.Name, ch.Result, ch.Detail))
		}
	}
	if cand.Interrupted && !base.Interrupted {
		c.Regressions = append(c.Regressions, "the candidate run was cut short, the base was not")
	}
	for _, th := range cand.Thresholds {
		if !th.Pass {
			c.Regressions = append(c.Regressions, fmt.Sprintf("threshold %s %s crossed (actual %s)", th.Name, th.Expr, formatActual(th.Actual, th.Unit)))
		}
	}
	return c
}

// Differences lists what makes two runs measure different things: the
// scenario, the target's shape, the bucket, the clients and their pacing,
// the workload. The server version is not among them (comparing two
// releases is what compare is for), nor the faults (what a fault costs is
// a question compare answers: both are printed), nor the seed.
func Differences(base, cand *Summary) []string {
	var out []string
	differ := func(what string, b, c any) {
		if fmt.Sprint(b) != fmt.Sprint(c) {
			out = append(out, fmt.Sprintf("%s: %v vs %v", what, b, c))
		}
	}
	differ("scenario", base.Scenario, cand.Scenario)
	differ("target", base.Target.Mode, cand.Target.Mode)
	differ("nodes", base.Target.Nodes, cand.Target.Nodes)
	differ("replicas", base.Target.Replicas, cand.Target.Replicas)
	differ("sync interval", base.Target.SyncInterval, cand.Target.SyncInterval)
	differ("clients", base.Clients, cand.Clients)
	differ("pacing", base.Pacing, cand.Pacing)
	if b, c := base.Workload, cand.Workload; b != nil && c != nil {
		differ("storage", b.Storage, c.Storage)
		differ("compression", b.Compression, c.Compression)
		differ("mix", b.Mix, c.Mix) // fmt prints maps sorted by key
		differ("keys", b.Keys, c.Keys)
		differ("key distribution", b.KeyDistribution, c.KeyDistribution)
		differ("value size", b.ValueSize, c.ValueSize)
		differ("op timeout (ms)", b.OpTimeoutMs, c.OpTimeoutMs)
		differ("key TTL (ms)", b.KeyTTLMs, c.KeyTTLMs)
		differ("read path", b.ReadPath, c.ReadPath)
		differ("inflight", b.Inflight, c.Inflight)
	}
	return out
}

// faultsOf says which faults a run injected, as its scenario gave them.
func faultsOf(s *Summary) string {
	if s.Workload == nil || s.Workload.Faults == "" {
		return "none"
	}
	return s.Workload.Faults
}

func unionOps(a, b *Summary) []string {
	seen := map[string]bool{}
	for op := range a.Ops {
		seen[op] = true
	}
	for op := range b.Ops {
		seen[op] = true
	}
	ops := make([]string, 0, len(seen))
	for op := range seen {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

func opOrEmpty(s *Summary, op string) *OpSummary {
	if o := s.Ops[op]; o != nil {
		return o
	}
	return &OpSummary{}
}

// errorRate: failures other than CAS refusals, plus unknowns, per op.
func errorRate(o *OpSummary) float64 {
	total := o.OK + o.Fail + o.Unknown
	if total == 0 {
		return 0
	}
	n := 0
	for class, c := range o.Errors {
		if !history.IsCASRefusal(class) {
			n += c
		}
	}
	return float64(n) / float64(total)
}

// WriteText prints the comparison and its verdict.
func (c *Comparison) WriteText(w io.Writer) {
	fmt.Fprintf(w, "base %s (nats-server %s, faults: %s)\ncand %s (nats-server %s, faults: %s)\n", c.Base, c.Versions[0], c.Faults[0], c.Cand, c.Versions[1], c.Faults[1])
	if len(c.Differences) > 0 {
		fmt.Fprintf(w, "compared although they ran different things: %s\n", strings.Join(c.Differences, "; "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tunit\tbase\tcand\tdelta\t")
	for _, r := range c.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%s\t\n", r.Metric, r.Unit, r.Base, r.Cand, pct(r))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, ch := range c.Checks {
		req := "reported"
		if ch.Required {
			req = "required"
		}
		fmt.Fprintf(w, "  %-20s %-8s %-8s → %s\n", ch.Name, req, ch.Base, ch.Cand)
	}
	if len(c.Regressions) == 0 {
		fmt.Fprintln(w, "\nno regression")
		return
	}
	fmt.Fprintln(w, "\nregressions:")
	for _, r := range c.Regressions {
		fmt.Fprintf(w, "  - %s\n", r)
	}
}

func pct(r CompareRow) string {
	if r.Base == 0 {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", 100*r.Delta)
}

var compareHTML = template.Must(template.New("compare").Funcs(template.FuncMap{"pct": pct}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>kvharness compare</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}.bad{color:#b00020;font-weight:600}.ok{color:#1b5e20;font-weight:600}</style></head>
<body><h1>kvharness compare</h1>
<p>base <code>{{.Base}}</code> (nats-server {{index .Versions 0}}, faults: {{index .Faults 0}})<br>candidate <code>{{.Cand}}</code> (nats-server {{index .Versions 1}}, faults: {{index .Faults 1}})</p>
{{if .Differences}}<p class="bad">compared although they ran different things:</p><ul>{{range .Differences}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Regressions}}<p class="bad">REGRESSED</p><ul>{{range .Regressions}}<li>{{.}}</li>{{end}}</ul>{{else}}<p class="ok">no regression</p>{{end}}
<table><tr><th>metric</th><th>unit</th><th>base</th><th>candidate</th><th>delta</th></tr>
{{range .Rows}}<tr><td>{{.Metric}}</td><td>{{.Unit}}</td><td>{{printf "%.2f" .Base}}</td><td>{{printf "%.2f" .Cand}}</td><td>{{pct .}}</td></tr>{{end}}
</table>
<h2>checks</h2><table><tr><th>check</th><th>required</th><th>base</th><th>candidate</th></tr>
{{range .Checks}}<tr><td>{{.Name}}</td><td>{{.Required}}</td><td>{{.Base}}</td><td>{{.Cand}}</td></tr>{{end}}
</table></body></html>
`))

// WriteHTML writes compare.html (self-contained, no scripts).
func (c *Comparison) WriteHTML(path string) error {
	return writeHTMLFile(path, compareHTML, c)
}
