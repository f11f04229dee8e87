package reports

import (
	"context"
	"os"
	"time"

	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

// Digest is what the summary and the report need of a history, gathered
// as it is read — Observe sees every record in file order, Group each
// group of keys the checker cuts it into — so that a history of any length
// is summarized in memory that grows with the run's seconds, never with
// its operations.
type Digest struct {
	Meta        *history.Meta
	End         *history.End // nil: the run was killed
	Faults      []history.Fault
	DamagedTail string

	ops     map[string]*OpSummary // counts and error classes
	clients map[int]bool
	total   int
	// first invoke and last completion: the run's span, when the run did
	// not measure its own duration.
	first, last int64
	latency     *latency.Recorder // client ops, from invoke to complete
	seconds     *secondsTally
	// Propagation to the scenario's watchers (see watchPropagation).
	prop    Propagation
	propRec *latency.Recorder
}

// NewDigest is an empty digest.
func NewDigest() *Digest {
	return &Digest{ops: map[string]*OpSummary{}, clients: map[int]bool{}, first: -1,
		latency: latency.NewRecorder(), seconds: newSecondsTally()}
}

// Observe takes one record as the history is read.
func (d *Digest) Observe(r *history.Record) {
	switch r.Kind {
	case history.KindMeta:
		d.Meta = r.Meta
		d.prop.Watchers = len(r.Meta.Watchers)
	case history.KindEnd:
		d.End = r.End
	case history.KindFault:
		if r.Fault != nil {
			d.Faults = append(d.Faults, *r.Fault)
		}
	case history.KindOp:
		d.op(r)
	}
}

func (d *Digest) op(op *history.Record) {
	d.clients[op.Client] = true
	o := d.ops[op.Op]
	if o == nil {
		o = &OpSummary{ByOutcome: map[string]latency.Percentiles{}}
		d.ops[op.Op] = o
	}
	d.total++
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
	if h.Meta != nil {
		d.Observe(&history.Record{Kind: history.KindMeta, Meta: h.Meta})
	}
	for i := range h.Faults {
		d.Observe(&history.Record{Kind: history.KindFault, Fault: &h.Faults[i]})
	}
	for i := range h.Ops {
		d.op(&h.Ops[i])
	}
	d.Group(h)
	d.End, d.DamagedTail = h.End, h.DamagedTail
	return d
}

// DigestFile digests the history at path, a group of keys at a time (see
// history.Spill), for a report made again from a results folder.
func DigestFile(path string) (*Digest, error) {
	dir, err := os.MkdirTemp("", "kvharness-report-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	d := NewDigest()
	s, err := history.Spill(context.Background(), path, dir, 64, d.Observe)
	if err != nil {
		return nil, err
	}
	d.DamagedTail = s.Whole.DamagedTail
	if d.Meta == nil || len(d.Meta.Watchers) == 0 {
		return d, nil // the groups add only watch propagation
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
