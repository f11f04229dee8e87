package checker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/kvharness/kvharness/history"
)

// A key written at full speed for an hour holds a million records or more.
// Checked whole, its group holds every one of them, and the checker's
// memory grows with the run. Such a key is checked a stretch of time at a
// time instead: a span, fed to the checks like a group of keys of its own,
// so that memory is bounded by a span, not by the run.
//
// Spans are not an approximation: a key is cut only where checking it span
// by span must give what checking it whole gives, and is checked whole
// otherwise. A cut at time T, between the operations invoked before T and
// those invoked after, needs:
//
//   - No operation spans T, and the one last before it overlaps no other
//     and leaves the key at one message, revision B: every linearization of
//     the whole key orders the operations before T first, ending at B (the
//     rule Porcupine's pieces are cut by, see pieces.go). The span after T
//     starts with that message's write (its context), held as a plain
//     write that every linearization puts first.
//   - Every revision named before T is at most B, every one named after it
//     at least B (above B for a write): nothing refers across the cut but
//     to B itself, which the context holds. The recording watcher's
//     deliveries go to the span of their revision.
//   - Every value read, delivered or held after the run is written in its
//     own span (or is the context's), and every message of a span was
//     delivered by the recording watcher: what any check looks up by value
//     or revision, it finds in the span as it would in the whole key.
//   - Each span but the last holds as many del (purge) markers as
//     acknowledged deletes (purges): unknown deletes are settled by counting
//     (resolveDeletes), and they can only be in the last span — no cut
//     follows a write whose outcome is unknown.
//   - The last span holds more messages than the bucket's history depth,
//     and every read after the run (final, History(), the stream, the
//     replicas) names a message in it: the reads after the run go to it.
//
// Keys with a TTL, the scenario's watchers, counters and leases, or a
// message sequence that is not known are always checked whole. A plan is
// verified on the records before any span reaches a check (verifySpans), so
// a key found unfit on the way is still checked whole.

// keySpan is what a group that is one stretch of time of one key adds.
type keySpan struct {
	index int
	last  bool
	// from is the key's last message as the span begins (0 in the first);
	// context the write that left it (nil in the first), held as the
	// span's first operation; checks count it in the span it belongs to.
	from    uint64
	context *history.Record
	// final: the key's final reads, which only the last span's History
	// holds.
	final []history.Record
}

const (
	// spanOps: a span ends at the first sound cut after this many
	// operations.
	spanOps = 32 << 10
	// lastSpanOps: the last span holds at least this many operations
	// (some of them writes enough to hold the bucket's history depth).
	lastSpanOps = 8 << 10
)

// spanOptions say when keys are checked in spans (tests make them small).
type spanOptions struct {
	above   int // a group of one key with more records than this
	ops     int // operations per span, at least
	lastOps int // operations of the last span, at least
}

// longKeyRecords: a key with more records than this is long, and checked
// in spans where it can be (a key of a 5-minute full-speed run of the
// default scenario, about 60 k records, is not).
const longKeyRecords = 128 << 10

var defaultSpans = spanOptions{above: longKeyRecords, ops: spanOps, lastOps: lastSpanOps}

// spanOp is one operation of a key, as the plan needs it.
type spanOp struct {
	call, ret int64  // ret: infinity for a write whose outcome is unknown
	rev       uint64 // the revision it wrote or read (0: none)
	at        int32  // its record's place in the group's stream
	write     bool   // a write with a revision: its message is rev
	read      bool   // names rev without writing it: a get that found a value, a refusal naming the key's revision
	state     bool   // leaves the key at message rev (see stateAfter)
}

// spanCut is where one span ends and the next begins.
type spanCut struct {
	at      int64  // operations invoked at or after this are the next span's
	rev     uint64 // the key's message there (B)
	context int    // the op record that wrote it (its place in the stream)
}

// spanPlan is how one key's records are cut.
type spanPlan struct {
	cuts []spanCut
	// end: per span, the last record (its place in the group's stream)
	// that belongs to it or is its context, so that a span is handed on
	// once complete.
	end []int
	// ops, watch: per span, how many op and watch records it holds, so
	// that its lists are made at their size: two spans are held at once
	// (one checked, the next read), and append's slack doubled them.
	ops, watch []int
	// final: the key's final reads (see keySpan.final).
	final []history.Record
}

// planSpans reads the group once and says where its key is cut, or why it
// is checked whole. It stops once ctx is done, with ctx's error.
func planSpans(ctx context.Context, g history.SpilledGroup, f *facts, o spanOptions) (*spanPlan, string, error) {
	empty := g.Empty()
	switch {
	case !f.seqsKnown:
		return nil, "the key's message sequence is not known", nil
	case empty.Meta == nil || len(empty.Meta.Keys) > 1:
		return nil, "not one key", nil
	case len(empty.Meta.Watchers) > 0:
		return nil, "the scenario's watchers", nil
	case empty.Meta.Pattern == history.PatternCounter || empty.Meta.Pattern == history.PatternLease:
		return nil, "a counter or lease pattern", nil
	case empty.End == nil:
		return nil, "the run did not finish", nil
	case !empty.End.WatchComplete:
		return nil, "the recording watcher missed messages", nil
	case g.Records > math.MaxInt32:
		return nil, "more records than a plan counts", nil
	}
	// Made at their size: a long key's plan is held beside the spans being
	// checked (see planAhead), and append's slack doubled it.
	ops := make([]spanOp, 0, g.Ops)
	place := make([]int64, 0, g.Records) // each record's placeOf
	var key string
	why := ""
	var final []history.Record
	// Without values: neither the cuts nor where records go depend on them.
	err := g.StreamWithoutValues(func(r *history.Record) error {
		if len(place)%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case key == "":
			key = r.Key
		case r.Key != key:
			why = "not one key"
			return errStopSpans
		}
		switch r.Kind {
		case history.KindOp:
			if r.TTL > 0 {
				why = "writes with a TTL"
				return errStopSpans
			}
			if op, ok := spanOpOf(r); ok {
				op.at = int32(len(place))
				ops = append(ops, op)
			}
		case history.KindWatch:
			if r.Watcher > 0 {
				why = "the scenario's watchers"
				return errStopSpans
			}
		case history.KindFinal:
			final = append(final, *r)
		}
		place = append(place, placeOf(r))
		return nil
	})
	if err == errStopSpans {
		return nil, why, nil
	}
	if err != nil {
		return nil, "", err
	}
	cuts := cutSpans(ops, o)
	if len(cuts) == 0 {
		return nil, "no sound cut", nil
	}
	n := len(cuts) + 1
	p := &spanPlan{cuts: cuts, end: make([]int, n), ops: make([]int, n), watch: make([]int, n), final: final}
	for i, at := range place {
		k := p.spanOf(at)
		p.end[k] = i
		switch {
		case at == placeLast: // reads after the run: a handful, appended
		case at < 0:
			p.watch[k]++
		default:
			p.ops[k]++
		}
	}
	for c, cut := range cuts {
		p.end[c+1] = max(p.end[c+1], cut.context)
	}
	return p, "", nil
}

var errStopSpans = errors.New("stop")

// placeLast is where every read after the run goes: the last span.
const placeLast = math.MinInt64

// placeOf is where a record goes: an op by its invocation, a delivery by
// its revision (negated), a read after the run to the last span.
func placeOf(r *history.Record) int64 {
	switch r.Kind {
	case history.KindOp:
		return r.Invoke
	case history.KindWatch:
		return -int64(r.Rev)
	}
	return placeLast
}

// spanOf is the span of a record placed at at (see placeOf).
func (p *spanPlan) spanOf(at int64) int {
	switch {
	case at == placeLast:
		return len(p.cuts)
	case at < 0: // a delivery of revision -at: the span whose messages hold it
		rev := uint64(-at)
		return sort.Search(len(p.cuts), func(c int) bool { return p.cuts[c].rev >= rev })
	}
	return sort.Search(len(p.cuts), func(c int) bool { return p.cuts[c].at > at })
}

// spanOpOf is an op record as cutSpans sees it; false for one that takes
// part in no linearizability check (takesPart), which may sit anywhere.
func spanOpOf(r *history.Record) (spanOp, bool) {
	op := spanOp{call: r.Invoke, ret: r.Complete}
	write := history.IsWrite(r.Op)
	switch {
	case r.Outcome == history.Unknown && write:
		op.ret = infinity
		return op, true
	case r.Outcome == history.Unknown:
		return op, false
	case r.Outcome == history.Fail:
		conflict, cur := conflictOf(r)
		if !write || !conflict {
			return op, false
		}
		op.rev, op.read = cur, cur != 0
		return op, true
	case write:
		op.rev = r.Rev
		op.write, op.state = r.Rev != 0, r.Rev != 0
		return op, true
	case r.Op == history.OpGet && r.Found:
		op.rev, op.read, op.state = r.Rev, r.Rev != 0, r.Rev != 0
		return op, true
	}
	return op, r.Op == history.OpGet // found nothing: a read of no revision
}

// cutSpans chooses the cuts (see the rules above) among all, the key's
// operations that take part in a linearizability check, in file order.
func cutSpans(all []spanOp, o spanOptions) []spanCut {
	ops := all // sorted in place: the plan's own list
	slices.SortStableFunc(ops, func(a, b spanOp) int { return cmp.Compare(a.call, b.call) })
	n := len(ops)
	// After position i: the lowest revision a read names, and the lowest a
	// write left.
	minRead, minWrite := make([]uint64, n+1), make([]uint64, n+1)
	minRead[n], minWrite[n] = ^uint64(0), ^uint64(0)
	for i := n - 1; i >= 0; i-- {
		minRead[i], minWrite[i] = minRead[i+1], minWrite[i+1]
		switch {
		case ops[i].write:
			minWrite[i] = min(minWrite[i], ops[i].rev)
		case ops[i].read:
			minRead[i] = min(minRead[i], ops[i].rev)
		}
	}
	var cuts []spanCut
	start := 0
	var before int64 = minTime // the latest return of ops[:i-1]
	var named uint64           // the highest revision ops[:i] name
	for i := 1; i < n; i++ {
		last := ops[i-1]
		quiet := before < last.call && last.ret < ops[i].call
		before = max(before, last.ret)
		named = max(named, last.rev)
		if !quiet || !last.state || i-start < o.ops || n-i < o.lastOps {
			continue
		}
		b := last.rev
		if named > b || minRead[i] < b || minWrite[i] <= b {
			continue
		}
		context := -1
		for j := i - 1; j >= 0 && context < 0; j-- {
			if ops[j].write && ops[j].rev == b {
				context = int(ops[j].at)
			}
		}
		if context < 0 {
			continue // the message's writer is not among the key's ops
		}
		cuts = append(cuts, spanCut{at: ops[i].call, rev: b, context: context})
		start = i
	}
	return cuts
}

// streamSpans reads the group again and hands add each record with its
// span, and the later spans it is the context of (a write read on and on
// may be several's); then complete each span in time order, once every
// record of it and its context was read. It stops at the first error, and
// once ctx is done (every few thousand records).
func streamSpans(ctx context.Context, g history.SpilledGroup, p *spanPlan, add func(k int, r *history.Record, contextOf []int) error, complete func(k int) error) error {
	n := len(p.cuts) + 1
	contextOf := map[int][]int{} // a record's place → the spans it is the context of
	for c, cut := range p.cuts {
		contextOf[cut.context] = append(contextOf[cut.context], c+1)
	}
	next := 0 // the next span to complete
	completeUpTo := func(read int) error {
		for ; next < n && p.end[next] <= read; next++ {
			if err := complete(next); err != nil {
				return err
			}
		}
		return nil
	}
	read := -1
	err := g.Stream(func(r *history.Record) error {
		if read++; read%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		k := p.spanOf(placeOf(r))
		if k < next {
			return fmt.Errorf("a record of span %d came after the span was complete", k)
		}
		if err := add(k, r, contextOf[read]); err != nil {
			return err
		}
		return completeUpTo(read)
	})
	if err != nil {
		return err
	}
	return completeUpTo(int(^uint(0) >> 1))
}

// walkSpans reads the group again and hands yield its spans in time
// order, each once every record of it was read.
func walkSpans(ctx context.Context, g history.SpilledGroup, p *spanPlan, yield func(*history.History, *keySpan) error) error {
	template := g.Empty()
	n := len(p.cuts) + 1
	spans := make([]*history.History, n) // begun, not yet handed on
	contexts := make([]*history.Record, n)
	begin := func(k int) *history.History {
		if spans[k] == nil {
			h := &history.History{}
			*h = *template
			h.Ops = history.NewRecords(p.ops[k] + 1)
			h.Watch = history.NewRecords(p.watch[k])
			if k > 0 {
				h.Ops = append(h.Ops, history.Record{}) // the context's place
			}
			spans[k] = h
		}
		return spans[k]
	}
	return streamSpans(ctx, g, p, func(k int, r *history.Record, contextOf []int) error {
		for _, c := range contextOf {
			rec := *r
			contexts[c] = &rec
		}
		begin(k).Append(r)
		return nil
	}, func(k int) error {
		h := begin(k)
		spans[k] = nil
		span := &keySpan{index: k, last: k == n-1, final: p.final}
		if k > 0 {
			c := contexts[k]
			if c == nil {
				return fmt.Errorf("the context of span %d was not read", k)
			}
			h.Ops[0], contexts[k] = asContext(*c), nil
			span.from, span.context = p.cuts[k-1].rev, &h.Ops[0]
		}
		return yield(h, span)
	})
}

// asContext is the write that left a span's first message, as the span
// holds it: a plain write (its precondition, if any, held where it was
// checked), so that it is the key's first message whatever came before.
func asContext(r history.Record) history.Record {
	if markerOf(r.Op) == history.MarkerNone {
		r.Op = history.OpPut
	}
	r.HasExpect, r.ExpectRev = false, 0
	return r
}
