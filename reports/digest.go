package reports

import (
	"cmp"
	"context"
	"time"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// Digest is what the summary and the report need of a history, gathered
// as it is read — Observe sees every record in file order, Group each
// group of keys the checker cuts it into, SetRun the run's meta line, end
// faults and leadership once read — so that a history of any length is summarized in
// memory that grows with the run's seconds, never with its operations.
type Digest struct {
	Meta        *history.Meta
	End         *history.End // Cut (or nil): the run was killed, or its file cut
	Faults      []history.Fault
	Leadership  []history.Leadership
	DamagedTail string
	Truncated   int // trailing lines dropped as unreadable

	ops map[string]*OpSummary // counts and error classes
	// measureFrom: the warm-up's end, from the meta line (0: none); ops
	// intended before it count only in warmupOps and the per-second series.
	measureFrom int64
	warmupOps   int
	clients     map[int]bool
	// first invoke and last completion: the run's span, when the run did
	// not measure its own duration.
	first, last int64
	latency     *latency.Recorder // client ops, from invoke to complete
	seconds     *secondsTally
	// Propagation to the scenario's watchers (see propagationSamples).
	prop    Propagation
	propRec *latency.Recorder
	workers workerTally
}

// NewDigest is an empty digest.
func NewDigest() *Digest {
	return &Digest{ops: map[string]*OpSummary{}, clients: map[int]bool{}, first: -1,
		latency: latency.NewRecorder(), seconds: newSecondsTally()}
}

// Observe takes one record as the history is read: its operations.
func (d *Digest) Observe(r *history.Record) {
	switch {
	case r.Kind == history.KindOp:
		d.op(r)
	case r.Kind == history.KindMeta && r.Meta != nil:
		d.measureFrom = r.Meta.MeasureFrom
		d.workers.setMeta(r.Meta)
	}
}

// SetRun takes what the reader kept of the whole run: its meta line, end,
// faults and how the file ended.
func (d *Digest) SetRun(whole *history.History) {
	d.Meta, d.End, d.Faults, d.DamagedTail, d.Truncated = whole.Meta, whole.End, whole.Faults, whole.DamagedTail, whole.Truncated
	d.Leadership = whole.Leadership
	if d.Meta != nil {
		d.prop.Watchers = len(d.Meta.Watchers)
		d.measureFrom = d.Meta.MeasureFrom
	}
}

func (d *Digest) op(op *history.Record) {
	d.clients[op.Client] = true
	if intended := cmp.Or(op.Intended, op.Invoke); intended < d.measureFrom {
		d.warmupOps++
		d.seconds.op(op)
		return
	}
	o := d.ops[op.Op]
	if o == nil {
		o = &OpSummary{}
		d.ops[op.Op] = o
	}
	switch op.Outcome {
	case history.OK:
		o.OK++
	case history.Fail:
		o.Fail++
	default:
		o.Unknown++
	}
	if op.ErrClass != "" {
		if o.Errors == nil {
			o.Errors = map[string]int{}
		}
		o.Errors[op.ErrClass]++
	}
	if d.first < 0 || op.Invoke < d.first {
		d.first = op.Invoke
	}
	d.last = max(d.last, op.Complete)
	if op.Complete > op.Invoke {
		d.latency.Record(op.Op, string(op.Outcome), time.Duration(op.Complete-op.Invoke))
	}
	d.workers.op(op)
	d.seconds.op(op)
}

// Group takes one group of keys: what joins a key's writes with their
// deliveries to the scenario's watchers.
func (d *Digest) Group(g *history.History) {
	for _, s := range propagationSamples(g) {
		if d.propRec == nil {
			d.propRec = latency.NewRecorder()
		}
		d.prop.Deliveries++
		if s.lag < 0 {
			d.prop.BeforeAck++
		}
		d.propRec.Record(OpWatch, string(history.OK), max(s.lag, 0))
		d.seconds.delivery(s)
	}
}

// DigestOf digests a history held in memory.
func DigestOf(h *history.History) *Digest {
	d := NewDigest()
	d.SetRun(h)
	for i := range h.Ops {
		d.op(&h.Ops[i])
	}
	d.Group(h)
	return d
}

// DigestFile digests the history at path, for a report made again from a
// results folder. Watch propagation joins a key's writes with their
// deliveries, so with watchers in the scenario the acknowledged writes and
// the deliveries are cut by key (see history.Spill) and read back a group
// of keys at a time; nothing else is. Once ctx is done it stops, its
// temporary files removed.
func DigestFile(ctx context.Context, path string) (*Digest, error) {
	d := NewDigest()
	watchers := false
	s, err := history.Spill(ctx, path, history.SpillOptions{
		Buckets: 64,
		Visit: func(r *history.Record) {
			if r.Kind == history.KindMeta && r.Meta != nil {
				watchers = len(r.Meta.Watchers) > 0
			}
			d.Observe(r)
		},
		Keep: func(r *history.Record) bool {
			switch r.Kind {
			case history.KindOp:
				return watchers && r.Outcome == history.OK && r.Value != ""
			case history.KindWatch:
				return watchers && r.Watcher > 0
			}
			return false
		},
	})
	if err != nil {
		return nil, err
	}
	defer s.Remove()
	d.SetRun(s.Whole)
	if !watchers {
		return d, nil
	}
	s.Plan(digestGroupRecords)
	err = s.Each(func(g *history.History) error {
		d.Group(g)
		return nil
	})
	return d, err
}

// digestGroupRecords bounds the records of a group DigestFile holds at once.
const digestGroupRecords = 1_000_000

// opCount is how many client operations the history holds.
func (d *Digest) opCount() int {
	n := 0
	for _, o := range d.ops {
		n += o.OK + o.Fail + o.Unknown
	}
	return n
}

// spanSec is the time from the first invoke to the last completion.
func (d *Digest) spanSec() float64 {
	if d.first < 0 || d.last <= d.first {
		return 0
	}
	return float64(d.last-d.first) / 1e9
}

// Latency is the history's own histograms: client ops from invoke to
// complete, and watch propagation.
func (d *Digest) Latency() latency.Set {
	lat := latency.Merge(d.latency)
	if d.propRec != nil {
		lat = lat.With(latency.Merge(d.propRec))
	}
	return lat
}
