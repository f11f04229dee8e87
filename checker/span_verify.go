package checker

import (
	"context"
	"fmt"

	"github.com/kvharness/kvharness/history"
)

// A plan is verified on the records before any span reaches a check: the
// rules of spans.go that only the records show. The records are read once
// more for it, but no span is built: each span keeps only what the rules
// ask of it (the values its writes wrote, the revisions delivered, the
// reads to hold to them), about a tenth of the span's records, which
// planAhead holds beside the spans being checked.

// verifySpans says why the plan cannot stand for the key of g ("" if it
// can): the first span found unfit, in time order. It stops once ctx is
// done, with ctx's error.
func verifySpans(ctx context.Context, g history.SpilledGroup, p *spanPlan) (string, error) {
	depth := history.MaxDepth
	if m := g.Empty().Meta; m != nil && m.History > 0 {
		depth = m.History
	}
	n := len(p.cuts) + 1
	spans := make([]*spanRules, n) // begun, not yet verified
	span := func(k int) *spanRules {
		if spans[k] == nil {
			// Made at their size (at most: ops counts gets too), not
			// grown: growing them was a tenth of verifying an hour's
			// long keys.
			spans[k] = &spanRules{own: make(map[string]bool, p.ops[k]), watched: make(map[uint64]bool, p.watch[k]), acked: map[string]int{}, markers: map[string]int{},
				reads: make([]spanRead, 0, p.ops[k]), delivered: make([]spanRead, 0, p.watch[k])}
			if k > 0 {
				spans[k].from = p.cuts[k-1].rev
			}
		}
		return spans[k]
	}
	why := ""
	err := streamSpans(ctx, g, p, func(k int, r *history.Record, contextOf []int) error {
		for _, c := range contextOf {
			span(c).setContext(r)
		}
		span(k).add(r)
		return nil
	}, func(k int) error {
		s := span(k)
		if k > 0 && !s.hasContext {
			return fmt.Errorf("the context of span %d was not read", k)
		}
		if why = s.unfit(k == n-1, depth); why != "" {
			return errStopSpans
		}
		spans[k] = nil
		return nil
	})
	if err == errStopSpans {
		return why, nil
	}
	return "", err
}

// spanRules is what the rules ask of one span, gathered record by record;
// reads are held to the span's writes once every record of it was read.
type spanRules struct {
	from       uint64 // the key's message as the span begins (0: the first)
	context    string // that message, as reads name it (see messageName)
	hasContext bool
	own        map[string]bool // values the span's own writes wrote, any outcome
	// acked: acknowledged deletes and purges; markers: the messages of
	// each the recording watcher delivered (a delivery may repeat).
	acked, markers map[string]int
	watched        map[uint64]bool
	delivered      []spanRead // deliveries of a value, held to own
	reads          []spanRead // acknowledged writes and gets, in order
	after          []spanRead // reads after the run (the last span's)
}

// spanRead is a record the rules hold to the span's messages.
type spanRead struct {
	kind         history.Kind
	write        bool // an acknowledged write, held to be delivered
	rev          uint64
	read, marker string
}

// setContext notes the write the span starts from (as asContext holds it,
// which keeps its message).
func (s *spanRules) setContext(r *history.Record) {
	s.context, s.hasContext = writtenMessage(r), true
}

func (s *spanRules) add(r *history.Record) {
	switch r.Kind {
	case history.KindOp:
		if r.Outcome == history.OK && r.Op == history.OpGet && r.Found {
			s.reads = append(s.reads, spanRead{kind: r.Kind, rev: r.Rev, read: r.Read, marker: r.Marker})
		}
		if !history.IsWrite(r.Op) {
			return
		}
		if r.Value != "" {
			s.own[r.Value] = true
		}
		if r.Outcome != history.OK {
			return
		}
		if m := markerOf(r.Op); m != history.MarkerNone {
			s.acked[m]++
		}
		if r.Rev != 0 {
			s.reads = append(s.reads, spanRead{kind: r.Kind, write: true, rev: r.Rev})
		}
	case history.KindWatch:
		if r.Marker != history.MarkerNone && !s.watched[r.Rev] {
			s.markers[r.Marker]++ // each message once
		}
		s.watched[r.Rev] = true
		if r.Marker == history.MarkerNone {
			s.delivered = append(s.delivered, spanRead{kind: r.Kind, rev: r.Rev, read: r.Read})
		}
	case history.KindFinal, history.KindStored, history.KindHistory, history.KindReplica:
		if r.Rev != 0 && r.Error == "" {
			s.after = append(s.after, spanRead{kind: r.Kind, rev: r.Rev, read: r.Read, marker: r.Marker})
		}
	}
}

// unfit says why the span cannot stand for its stretch of the key ("" if
// it can), once every record of it was read.
//
// The span's context, the write it starts from, is not among its records:
// an earlier span holds it, and the rules count it there. A write of the
// context's value in this span would be a second write of one value.
func (s *spanRules) unfit(last bool, depth int) string {
	for _, d := range s.delivered {
		if !s.own[d.read] {
			return fmt.Sprintf("revision %d was delivered holding %q, which no write of its stretch of time wrote", d.rev, d.read)
		}
	}
	for _, r := range s.reads {
		switch {
		case r.write && !s.watched[r.rev]:
			return fmt.Sprintf("revision %d, acknowledged, was not delivered by the recording watcher", r.rev)
		case !r.write && !s.names(r):
			return fmt.Sprintf("a get read %q at revision %d, written in another stretch of time", r.read, r.rev)
		}
	}
	if !last {
		for _, m := range []string{history.MarkerDel, history.MarkerPurge} {
			if s.markers[m] != s.acked[m] {
				return fmt.Sprintf("%d %s markers for %d acknowledged writes of them", s.markers[m], m, s.acked[m])
			}
		}
		return ""
	}
	for _, r := range s.after {
		if !s.names(r) {
			return fmt.Sprintf("a %s read after the run names revision %d, before the last stretch of time", r.kind, r.rev)
		}
	}
	if len(s.watched) < depth {
		return fmt.Sprintf("the last stretch of time holds %d messages, fewer than the bucket's history depth (%d)", len(s.watched), depth)
	}
	return ""
}

// names: the read r names a message of the span, or the message it
// starts from.
func (s *spanRules) names(r spanRead) bool {
	got := messageName(r.read, r.marker)
	switch {
	case r.rev == s.from:
		return got == s.context
	case r.rev < s.from:
		return false
	case r.marker != history.MarkerNone:
		return true // a marker of the span: its revision says which
	}
	return s.own[r.read]
}
