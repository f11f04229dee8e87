// Package reports turns a finished run — its history, the checker's result
// and the latency histograms — into summary.json and the human summary. It
// reads results; it imports neither workload nor chaos.
package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// Summary is summary.json. Field names are an interface (docs/DESIGN.md).
type Summary struct {
	Scenario            string                `json:"scenario"`
	Verdict             checker.Status        `json:"verdict"`
	ExitCode            int                   `json:"exit_code"`
	Checks              []checker.CheckResult `json:"checks"`
	Ops                 map[string]*OpSummary `json:"ops"`
	ThroughputOpsPerSec float64               `json:"throughput_ops_per_sec"`
	DurationSec         float64               `json:"duration_sec"`
	// WarmupSec, WarmupOps: the workload's warm-up, run and checked but
	// left out of ops, throughput, latency and thresholds (DurationSec is
	// the measured part).
	WarmupSec float64 `json:"warmup_sec,omitempty"`
	WarmupOps int     `json:"warmup_ops,omitempty"`
	// Resources: where the time went — each node's CPU, memory and
	// JetStream figures, the harness's own CPU, the machine's (absent
	// from a summary made again offline).
	Resources *Resources    `json:"resources,omitempty"`
	Target    TargetSummary `json:"target"`
	Faults    []Fault       `json:"faults"`
	// Leadership: the bucket stream's leadership as the run observed it;
	// absent where it was not (histories from before, external runs
	// re-checked from such histories).
	Leadership *Leadership `json:"stream_leadership,omitempty"`
	Pacing     string      `json:"pacing"`
	// LateOps: open loop, ops that started more than 1 ms behind schedule
	// because every client was busy (never silently dropped).
	LateOps int64 `json:"late_ops"`
	Clients int   `json:"clients"`
	// Workers: the load generators of a run spread over several machines
	// (kvharness worker), each with its share and its clock's placement.
	Workers []WorkerSummary `json:"workers,omitempty"`
	// Workload: what the clients did (mix, keys, value size, op timeout,
	// faults); absent in histories from before it was recorded.
	Workload *history.Workload `json:"workload,omitempty"`
	// Run: when, where and by which kvharness the run was made.
	Run         RunInfo                        `json:"run"`
	Seed        uint64                         `json:"seed"`
	Bucket      string                         `json:"bucket"`
	Interrupted bool                           `json:"interrupted"`
	Thresholds  []ThresholdResult              `json:"thresholds"`
	Resolution  map[string]*checker.Resolution `json:"unknown_resolution"`
	// CheckGroups: how many groups of keys the history was checked in, one
	// at a time (absent: all at once; see checker.CheckFile).
	CheckGroups int `json:"check_groups,omitempty"`
	// CheckSpannedKeys: keys too long to hold whole, checked a stretch of
	// time at a time, in CheckSpans spans; CheckWholeKeys: such keys that
	// had to be checked whole all the same, and why (see checker.Result).
	CheckSpannedKeys int                `json:"check_spanned_keys,omitempty"`
	CheckSpans       int                `json:"check_spans,omitempty"`
	CheckWholeKeys   []string           `json:"check_whole_keys,omitempty"`
	StaleReads       checker.StaleReads `json:"stale_reads"`
	// Propagation: the scenario's watchers, when it has some (their
	// latency is ops.watch).
	Propagation    *Propagation `json:"watch_propagation,omitempty"`
	Notes          []string     `json:"notes,omitempty"`
	Visualizations []string     `json:"linearizability_views,omitempty"`
	// LatencySource says where latency figures come from: the run's own
	// per-worker histograms, or invoke/complete times in the history when
	// re-checked offline.
	LatencySource string `json:"latency_source"`

	latency latency.Set
	series  []Series // per op, one point per second
}

// OpSummary is one op's counts and latency.
type OpSummary struct {
	OK        int                 `json:"ok"`
	Fail      int                 `json:"fail"`
	Unknown   int                 `json:"unknown"`
	LatencyUS latency.Percentiles `json:"latency_us"`
	// ServiceUS: open loop only — latency from the actual start, without
	// the time an op waited for a free client (the uncorrected figure).
	ServiceUS *latency.Percentiles           `json:"service_latency_us,omitempty"`
	ByOutcome map[string]latency.Percentiles `json:"latency_us_by_outcome"`
	Errors    map[string]int                 `json:"errors,omitempty"`
}

// TargetSummary says what the run ran against.
type TargetSummary struct {
	Mode          string `json:"mode"`
	Nodes         int    `json:"nodes"`
	Replicas      int    `json:"replicas"`
	ServerVersion string `json:"server_version"`
	// SyncInterval: how the servers the harness started fsynced their
	// stores: default (every 2 minutes), always, or a duration.
	SyncInterval string `json:"sync_interval,omitempty"`
}

// RunInfo says when, where and by which kvharness a run was made.
type RunInfo struct {
	StartedAt string `json:"started_at,omitempty"`
	Harness   string `json:"kvharness,omitempty"`
	Host      string `json:"host,omitempty"`
	CPUs      int    `json:"cpus,omitempty"`
}

// Fault is one injected fault window.
// Kind heal is the wait for a healthy cluster after the last fault.
type Fault struct {
	Kind     string  `json:"kind"`
	Target   string  `json:"target"`
	StartSec float64 `json:"start_sec"`
	EndSec   float64 `json:"end_sec"`
	Detail   string  `json:"detail,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// Leadership sums up the leadership records (history.Leadership): the
// stretches in which a leader was in contact with a quorum of the stream's
// replicas, the windows between them (no leader could commit, as far as
// the run could tell), and how often the leader changed.
type Leadership struct {
	Stretches        []Stretch `json:"stretches"`
	WithoutQuorum    []Window  `json:"without_quorum"`
	WithoutQuorumSec float64   `json:"without_quorum_sec"`
	LeaderChanges    int       `json:"leader_changes"`
}

// Stretch is one leadership record, in seconds since the run started.
type Stretch struct {
	Leader  string  `json:"leader"`
	FromSec float64 `json:"from_sec"`
	ToSec   float64 `json:"to_sec"`
}

// Window is a span of the run, in seconds since it started.
type Window struct {
	StartSec float64 `json:"start_sec"`
	EndSec   float64 `json:"end_sec"`
}

func leadershipOf(stretches []history.Leadership) *Leadership {
	// The quorum's stretches; those of contact with every replica serve
	// ttl-expiry's direct gets.
	sorted := slices.DeleteFunc(slices.Clone(stretches), func(s history.Leadership) bool { return s.All })
	slices.SortFunc(sorted, func(a, b history.Leadership) int { return cmp.Compare(a.From, b.From) })
	l := &Leadership{Stretches: []Stretch{}, WithoutQuorum: []Window{}}
	for i, st := range sorted {
		l.Stretches = append(l.Stretches, Stretch{Leader: st.Leader, FromSec: float64(st.From) / 1e9, ToSec: float64(st.To) / 1e9})
		if i > 0 && st.Leader != sorted[i-1].Leader {
			l.LeaderChanges++
		}
	}
	// Between stretches only: before the first the run was setting up,
	// after the last the observer had stopped.
	for _, w := range history.Unled(stretches, false) {
		if len(sorted) > 0 && w[0] > sorted[0].From && w[1] != math.MaxInt64 {
			win := Window{StartSec: float64(w[0]) / 1e9, EndSec: float64(w[1]) / 1e9}
			l.WithoutQuorum = append(l.WithoutQuorum, win)
			l.WithoutQuorumSec += win.EndSec - win.StartSec
		}
	}
	return l
}

// Input is what a summary is made from.
type Input struct {
	Digest *Digest // what the report needs of the history
	Result *checker.Result
	// Latency: the run's histograms; nil to derive them from the history.
	Latency latency.Set
	// Service: open loop, latency from the actual start; nil otherwise.
	Service     latency.Set
	Late        int64
	DurationSec float64
	Pacing      string
	Clients     int
	Interrupted bool
	// Thresholds: the scenario's limits; nil to take them from the history.
	Thresholds []Threshold
	// Resources: what the run's sampler saw (nil offline: the history
	// does not hold it).
	Resources *Resources
}

// Build assembles the summary.
func Build(in Input) *Summary {
	d := in.Digest
	s := &Summary{
		Verdict:          in.Result.Verdict,
		ExitCode:         ExitCode(in.Result.Verdict, in.Interrupted),
		Checks:           in.Result.Checks,
		Ops:              map[string]*OpSummary{},
		Faults:           []Fault{},
		Pacing:           in.Pacing,
		Clients:          in.Clients,
		Interrupted:      in.Interrupted,
		Resolution:       in.Result.Resolution,
		CheckGroups:      in.Result.Groups,
		CheckSpannedKeys: in.Result.SpannedKeys,
		CheckSpans:       in.Result.Spans,
		CheckWholeKeys:   in.Result.LongKeysWhole,
		StaleReads:       in.Result.StaleReads,
		Notes:            in.Result.Notes,
		Visualizations:   in.Result.Visualizations,
		LatencySource:    "run histograms (per worker, merged)",
	}
	s.Notes = append(s.Notes, howItEnds(d)...)
	if m := d.Meta; m != nil {
		s.Scenario, s.Seed, s.Bucket = m.Scenario, m.Seed, m.Bucket
		if s.Pacing == "" {
			s.Pacing = m.Pacing
		}
		if s.Clients == 0 {
			s.Clients = m.Clients
		}
		s.Target = TargetSummary{Mode: m.Mode, Nodes: m.Nodes, Replicas: m.Replicas, ServerVersion: m.ServerVersion, SyncInterval: m.SyncInterval}
		s.Workload = m.Workload
		s.Run = RunInfo{StartedAt: m.StartedAt, Harness: m.Harness, Host: m.Host, CPUs: m.CPUs}
		if len(m.Demoted) > 0 {
			s.Notes = append(s.Notes, "the scenario's required list leaves out checks its shape requires by default, which are only reported: "+strings.Join(m.Demoted, ", "))
		}
	}
	lat := in.Latency
	if lat == nil {
		lat = latency.Merge(d.latency) // watch propagation is added below, as for run histograms
		s.LatencySource = "history (invoke to complete)"
	}
	if d.Meta != nil && d.Meta.ObservesLeadership {
		s.Leadership = leadershipOf(d.Leadership)
	}
	for _, f := range d.Faults {
		s.Faults = append(s.Faults, Fault{Kind: f.Kind, Target: f.Target, StartSec: float64(f.Start) / 1e9, EndSec: float64(f.End) / 1e9,
			Detail: f.Detail, Error: f.Error})
	}
	for name, o := range d.ops {
		c := *o
		c.ByOutcome = map[string]latency.Percentiles{}
		s.Ops[name] = &c
	}
	s.LateOps = in.Late
	if d.propRec != nil {
		prop := d.prop
		s.Propagation = &prop
		s.Ops[OpWatch] = &OpSummary{OK: prop.Deliveries, ByOutcome: map[string]latency.Percentiles{}}
		lat = lat.With(latency.Merge(d.propRec))
	}
	for name, o := range s.Ops {
		o.LatencyUS = latency.Summarize(lat.ForOp(name))
		if s.openLoop() && in.Service != nil && name != OpWatch {
			svc := latency.Summarize(in.Service.ForOp(name))
			o.ServiceUS = &svc
		}
		for _, outcome := range []history.Outcome{history.OK, history.Fail, history.Unknown} {
			if hist := lat.Get(name, string(outcome)); hist != nil {
				o.ByOutcome[string(outcome)] = latency.Summarize(hist)
			}
		}
	}
	if s.Clients == 0 {
		s.Clients = len(d.clients)
	}
	if in.DurationSec == 0 {
		in.DurationSec = d.spanSec()
	}
	s.DurationSec = in.DurationSec
	s.Workers = d.workers.summaries(d.Meta, in.DurationSec)
	s.Resources = in.Resources
	if w := s.Workload; w != nil && w.WarmupMs > 0 {
		s.WarmupSec, s.WarmupOps = float64(w.WarmupMs)/1000, d.warmupOps
	}
	if in.DurationSec > 0 {
		s.ThroughputOpsPerSec = float64(d.opCount()) / in.DurationSec
	}
	s.Thresholds = []ThresholdResult{}
	thresholds := in.Thresholds
	if thresholds == nil && d.Meta != nil {
		// Validated when the run started; a hand-edited history that breaks
		// one shows up as a note.
		var err error
		if thresholds, err = ParsedThresholds(d.Meta.Thresholds); err != nil {
			s.Notes = append(s.Notes, err.Error())
		}
	}
	s.evaluateThresholds(thresholds)
	s.latency = lat
	s.series = d.seconds.series()
	return s
}

// howItEnds: notes on a history that does not end as a finished run's
// does — what was dropped, what is missing.
func howItEnds(d *Digest) []string {
	var notes []string
	if d.DamagedTail != "" {
		// Checked up to the damage: what follows it (the end record too)
		// was not read, so the checks that need it are inconclusive.
		notes = append(notes, "the compressed history ends in a damaged frame, read up to it: "+d.DamagedTail)
	}
	if d.Truncated > 0 {
		notes = append(notes, fmt.Sprintf("%d trailing line(s) of the history dropped as unreadable (a writer killed mid-line)", d.Truncated))
	}
	if e := d.End; e == nil || e.Cut {
		what := "the run was killed, or the file cut"
		if e != nil && e.Keys > 0 {
			what += fmt.Sprintf("; it holds the final reads of %d and History() of %d of its %d keys", e.FinalKeys, e.HistoryKeys, e.Keys)
		}
		notes = append(notes, "the history has no end record ("+what+"): only what it holds was checked")
	}
	return notes
}

// Redraw gives a summary read back from summary.json what drawing the
// report takes from the history: its histograms and per-second figures.
func (s *Summary) Redraw(d *Digest) {
	s.latency = d.Latency()
	s.series = d.seconds.series()
}

// WriteFiles writes summary.json, junit.xml, latency/*.hgrm, timeseries.csv
// and report.html into dir.
func (s *Summary) WriteFiles(dir string) error {
	if err := s.WriteJSON(dir); err != nil {
		return err
	}
	if err := s.WriteJUnit(dir); err != nil {
		return err
	}
	if err := WriteHgrm(dir, s.latency); err != nil {
		return err
	}
	if err := writeTimeseriesCSV(dir, s.series); err != nil {
		return err
	}
	if s.Resources != nil {
		if err := s.Resources.WriteCSV(dir); err != nil {
			return err
		}
	}
	return WriteHTML(dir, s)
}

// openLoop: the run was paced at a fixed arrival rate (see workload.OpenLoop).
func (s *Summary) openLoop() bool { return strings.HasPrefix(s.Pacing, "open-loop") }

// SortedOps lists op names in the summary in the canonical order.
func (s *Summary) SortedOps() []string {
	order := map[string]int{}
	for i, op := range history.Ops {
		order[op] = i
	}
	var ops []string
	for op := range s.Ops {
		ops = append(ops, op)
	}
	order[OpWatch] = len(history.Ops) // deliveries, after the client ops
	sort.Slice(ops, func(i, j int) bool { return order[ops[i]] < order[ops[j]] })
	return ops
}

// WriteJSON writes summary.json into dir.
func (s *Summary) WriteJSON(dir string) error {
	return writeJSONFile(filepath.Join(dir, "summary.json"), s)
}

// EncodeJSON writes the summary as indented JSON.
func (s *Summary) EncodeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
