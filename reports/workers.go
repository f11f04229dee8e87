package reports

import (
	"fmt"
	"io"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// WorkerSummary is one load generator of a run spread over several
// machines (summary.json workers[]): what it did, and how its clock was
// placed on the run's.
type WorkerSummary struct {
	Name        string  `json:"name"`
	Host        string  `json:"host,omitempty"`
	FirstClient int     `json:"first_client"`
	Clients     int     `json:"clients"`
	Ops         int64   `json:"ops"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	P50US       int64   `json:"p50_us"`
	P99US       int64   `json:"p99_us"`
	// ClockOffsetUS: its clock minus the coordinator's; ClockBoundUS: how
	// far the truth may be from that; each of its operations was widened
	// by the bound on both sides for the checks. WideningPct is what that
	// costs: twice the bound against its mean operation's latency (how much
	// longer, and so more concurrent, its operations look to the checker).
	ClockOffsetUS float64 `json:"clock_offset_us"`
	ClockBoundUS  float64 `json:"clock_bound_us"`
	WideningPct   float64 `json:"widening_pct"`
	Lost          string  `json:"lost,omitempty"`
}

// workerTally gathers each worker's latencies as the history is read.
type workerTally struct {
	workers []history.Worker
	hists   []*hdrhistogram.Histogram
}

func (t *workerTally) setMeta(m *history.Meta) {
	if len(m.Workers) == 0 {
		return
	}
	t.workers = m.Workers
	for len(t.hists) < len(m.Workers) {
		t.hists = append(t.hists, latency.NewHistogram())
	}
}

func (t *workerTally) op(r *history.Record) {
	for i := range t.workers {
		if w := &t.workers[i]; r.Client >= w.FirstClient && r.Client < w.FirstClient+w.Clients {
			if r.Complete > r.Invoke {
				_ = t.hists[i].RecordValue(time.Duration(r.Complete - r.Invoke).Microseconds())
			}
			return
		}
	}
}

// summaries: one per worker of the meta line (which, read last, has every
// worker's op count), over the run's measured duration.
func (t *workerTally) summaries(m *history.Meta, durationSec float64) []WorkerSummary {
	if m == nil || len(m.Workers) == 0 {
		return nil
	}
	out := make([]WorkerSummary, len(m.Workers))
	for i, w := range m.Workers {
		s := WorkerSummary{Name: w.Name, Host: w.Host, FirstClient: w.FirstClient, Clients: w.Clients, Ops: w.Ops,
			ClockOffsetUS: float64(w.OffsetNs) / 1e3, ClockBoundUS: float64(w.BoundNs) / 1e3, Lost: w.Lost}
		if durationSec > 0 {
			s.OpsPerSec = float64(w.Ops) / durationSec
		}
		if i < len(t.hists) && t.hists[i].TotalCount() > 0 {
			h := t.hists[i]
			s.P50US, s.P99US = h.ValueAtQuantile(50), h.ValueAtQuantile(99)
			if mean := h.Mean(); mean > 0 {
				s.WideningPct = 100 * 2 * s.ClockBoundUS / mean
			}
		}
		out[i] = s
	}
	return out
}

// writeWorkersText: the per-worker lines of the text summary.
func writeWorkersText(w io.Writer, ws []WorkerSummary) {
	fmt.Fprintln(w, "\nworkers (clock: offset to this process's, ± bound; each op widened by the bound for the checks):")
	for _, x := range ws {
		lost := ""
		if x.Lost != "" {
			lost = "  LOST: " + x.Lost
		}
		fmt.Fprintf(w, "  %-12s %-12s clients %d-%d  %8d ops  %8.0f ops/s  p50 %s ms  p99 %s ms  clock %+.0f ± %.0f µs (+%.1f%% per op)%s\n",
			x.Name, x.Host, x.FirstClient, x.FirstClient+x.Clients-1, x.Ops, x.OpsPerSec, ms(float64(x.P50US)), ms(float64(x.P99US)),
			x.ClockOffsetUS, x.ClockBoundUS, x.WideningPct, lost)
	}
}
