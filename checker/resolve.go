package checker

import (
	"fmt"

	"github.com/kvharness/kvharness/history"
)

// Resolution counts, per op, what became of writes whose outcome the client
// did not learn.
type Resolution struct {
	Happened     int `json:"happened"`
	NotHappened  int `json:"not_happened"`
	StillUnknown int `json:"still_unknown"`
	// FailedButSeen counts creates reported as failed whose value is in the
	// stream anyway; see resolve.
	FailedButSeen int `json:"failed_but_seen,omitempty"`
	// WroteTwice counts creates whose value is in the stream twice, before
	// and after a delete of the key; see wroteTwice.
	WroteTwice int `json:"wrote_twice,omitempty"`
}

// plus adds o's counts to r (nil: none yet) and returns the sum.
func (r *Resolution) plus(o *Resolution) *Resolution {
	if r == nil {
		r = &Resolution{}
	}
	r.Happened += o.Happened
	r.NotHappened += o.NotHappened
	r.StillUnknown += o.StillUnknown
	r.FailedButSeen += o.FailedButSeen
	r.WroteTwice += o.WroteTwice
	return r
}

// sighting is where a written value was seen in the stream.
type sighting struct {
	rev uint64
	at  int64 // when it was seen, ns since run start: the write took effect before
}

// observations indexes what the server actually stored: every value a
// watcher delivered, the final reads returned, or the stream (its History(),
// a replica) still held after the run — its first sighting, and in again
// each other revision it was seen at, first sighting of each (values are
// unique, so only a create that wrote twice puts one there; see wroteTwice).
func observations(h *history.History) (seen map[string]sighting, again map[string]map[uint64]int64) {
	seen = make(map[string]sighting, len(h.Watch)+len(h.Final))
	again = map[string]map[uint64]int64{}
	add := func(value string, rev uint64, at int64) {
		if value == "" {
			return
		}
		s, ok := seen[value]
		switch {
		case !ok:
			seen[value] = sighting{rev: rev, at: at}
		case s.rev == rev:
			seen[value] = sighting{rev: rev, at: min(at, s.at)}
		default:
			// Another revision: the earlier sighting stays first, the
			// other goes to (or stays in) again, each revision's earliest.
			others := again[value]
			if others == nil {
				others = map[uint64]int64{}
				again[value] = others
			}
			if a, ok := others[rev]; ok {
				at = min(at, a)
			}
			if at >= s.at {
				others[rev] = at
				break
			}
			seen[value] = sighting{rev: rev, at: at}
			delete(others, rev)
			if a, ok := others[s.rev]; !ok || s.at < a {
				others[s.rev] = s.at
			}
		}
	}
	for _, w := range h.Watch {
		if w.Marker == history.MarkerNone {
			add(w.Read, w.Rev, w.At)
		}
	}
	for _, w := range h.Delivered { // the scenario's watchers saw the stream too
		if w.Marker == history.MarkerNone {
			add(w.Read, w.Rev, w.At)
		}
	}
	for _, f := range h.Final {
		if f.Found {
			add(f.Read, f.Rev, f.Invoke)
		}
	}
	for _, s := range h.Stored {
		if s.Marker == history.MarkerNone {
			add(s.Read, s.Rev, s.At)
		}
	}
	for _, e := range h.KeyHistory { // History() after the run
		if e.Marker == history.MarkerNone {
			add(e.Read, e.Rev, e.At)
		}
	}
	for _, r := range h.Replicas { // a node's own replica after the run
		if r.Found {
			add(r.Read, r.Rev, r.Invoke)
		}
	}
	return seen, again
}

// seenByGets adds to seen the values of refused writes that a get returned
// and nothing else showed (the recording watcher misses messages under
// faults): a get returns only what was stored. Only refused writes: an
// unknown one is resolved from the stream alone, as before.
func seenByGets(h *history.History, seen map[string]sighting) {
	// The values gets returned that nothing else showed come first: there
	// are rarely any, and refused writes are a third of a busy run's ops.
	unseen := map[string]bool{}
	for i := range h.Ops {
		if g := &h.Ops[i]; g.Op == history.OpGet && g.Found {
			if _, ok := seen[g.Read]; !ok {
				unseen[g.Read] = true
			}
		}
	}
	if len(unseen) == 0 {
		return
	}
	refused := map[string]string{} // value → key
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Outcome == history.Fail && op.Value != "" && unseen[op.Value] && history.IsWrite(op.Op) {
			refused[op.Value] = op.Key
		}
	}
	if len(refused) == 0 {
		return
	}
	for i := range h.Ops {
		// A get of another key that returned the value is reads-valid's.
		g := &h.Ops[i]
		if key, ok := refused[g.Read]; g.Op != history.OpGet || !g.Found || !ok || key != g.Key {
			continue
		}
		if s, ok := seen[g.Read]; !ok || g.Complete < s.at {
			seen[g.Read] = sighting{rev: g.Rev, at: g.Complete}
		}
	}
}

// resolved is a history after unknown outcomes were resolved.
type resolved struct {
	// ops point into the history's ops, or to a changed copy of one: an
	// op is about 300 bytes, and only unknown ones change.
	ops    []*history.Record
	counts map[string]*Resolution
	// early names, per key, a write that the stream held before the write
	// was invoked — impossible, since values are unique — or one stored
	// over a message its precondition did not expect (brokenPreconditions).
	// Such a key fails the linearizability checks whatever Porcupine says.
	early map[string]string
	// seqs: each key's message sequence; nil unless every sequence was seen.
	seqs map[string]*keySequence
	// refused counts the writes the server refused (a definite failure);
	// refusedStored lists those whose value is in the stream anyway (see
	// refusalsDefinite). In ops they are unknown writes that happened.
	refused       int
	refusedStored []refusal
	// twice: for a create that wrote its value twice, the value and the
	// revision of its first write (the create itself holds the second).
	twice map[string]uint64
}

// createdTwice: value sits at revisions a and b because its create wrote
// it twice.
func (r *resolved) createdTwice(value string, a, b uint64) bool {
	first, ok := r.twice[value]
	return ok && (a == first || b == first)
}

// sameWrite: revision rev holds the message of w (an acknowledged or
// resolved write, found by its value) — at w's revision, or at the first
// one of a create that wrote twice.
func (r *resolved) sameWrite(w *history.Record, rev uint64) bool {
	return w.Rev == 0 || w.Rev == rev || r.twice[w.Value] == rev
}

// refusal is a refused write whose value the stream holds: op is the
// write as the client recorded it, seen where its value was found.
type refusal struct {
	op   history.Record // a copy: refusals-definite keeps it past its group
	seen sighting
}

// resolve rewrites unknown writes from what the stream holds. A value found
// in the stream happened, with that revision, before it was seen. A value not
// found happened not at all — but only if the watcher saw every sequence of
// the stream, since otherwise it may have been written and then discarded by
// the bucket's history limit or a purge — or if the messages the stream held
// after the run cover every revision the write could have had (see
// retainedWindow). Deletes carry no value: see resolveDeletes. Unknowns that did
// not happen are dropped from the ops.
func resolve(h *history.History, f *facts) resolved {
	seen, again := observations(h)
	seenByGets(h, seen)
	var markers map[string][]uint64
	// A complete watch says every sequence up to the last one read after
	// the run was seen. A revision seen above it (a write that landed after
	// that read) shows the end was not the end: what else landed there is
	// unknown, so absence proves nothing.
	complete := h.End != nil && h.End.WatchComplete && f.highest <= h.End.LastSeq
	window := retainedWindow(h, f)
	r := resolved{counts: map[string]*Resolution{}, early: map[string]string{}, ops: make([]*history.Record, 0, len(h.Ops))}
	count := func(op string) *Resolution {
		c := r.counts[op]
		if c == nil {
			c = &Resolution{}
			r.counts[op] = c
		}
		return c
	}
	for i := range h.Ops {
		op := &h.Ops[i]
		changed := func() *history.Record {
			c := *op
			op = &c
			return op
		}
		var s sighting
		wasSeen := false
		if op.Value != "" && history.IsWrite(op.Op) { // not a get's, the most ops
			s, wasSeen = seen[op.Value]
		}
		if wasSeen && s.at < op.Invoke {
			if _, dup := r.early[op.Key]; !dup {
				r.early[op.Key] = fmt.Sprintf("write seen before it was invoked: client %d %s(%s) invoked at %.3fs was in the stream at revision %d at %.3fs",
					op.Client, op.Op, op.Value, float64(op.Invoke)/1e9, s.rev, float64(s.at)/1e9)
			}
			// Porcupine needs call <= return; the key fails anyway.
			s.at = op.Invoke
		}
		if op.Outcome == history.Fail && history.IsWrite(op.Op) {
			r.refused++
		}
		if others, ok := again[op.Value]; wasSeen && op.Op == history.OpCreate && op.Outcome != history.Fail && ok {
			if markers == nil {
				markers = markersOf(h) // rare: only now
			}
			if first, second, ok := wroteTwice(op, s, others, markers); ok {
				count(op.Op).WroteTwice++
				if r.twice == nil {
					r.twice = map[string]uint64{}
				}
				r.twice[op.Value] = first.rev
				// The first request's write, before the create itself (its
				// client goes on under a new Porcupine id: see toOperations).
				w := *op
				w.Outcome, w.Rev, w.Complete, w.ErrClass, w.Error = history.Unknown, first.rev, max(first.at, op.Invoke), "", ""
				r.ops = append(r.ops, &w)
				if op.Outcome == history.Unknown {
					count(op.Op).Happened++
					c := changed()
					c.Rev, c.Complete = second.rev, max(second.at, op.Invoke)
				}
				r.ops = append(r.ops, op)
				continue
			}
		}
		switch {
		case op.Op == history.OpCreate && op.Outcome == history.Fail && wasSeen:
			// nats.go's Create is two requests. If the first fails with an
			// error that may have written and leaves the context alive (a
			// lost connection, not a timeout), and another client deletes the
			// key, the follow-up read sees a marker and the retry over it can
			// conflict: Create reports a conflict though its first request
			// wrote. A failed create whose value is in the stream is that case
			// (rare: it needs a fault and a race); it is counted and shown.
			count(op.Op).FailedButSeen++
			c := changed()
			c.Outcome, c.Rev, c.Complete = history.Unknown, s.rev, s.at
		case op.Outcome == history.Fail && wasSeen:
			// A single request refused, yet stored: the refusal was not
			// definite, which refusals-definite reports. The other checks
			// take the write for what it was, one that happened, so that
			// they say whether anything else went wrong.
			r.refusedStored = append(r.refusedStored, refusal{op: *op, seen: s})
			c := changed()
			c.Outcome, c.Rev, c.Complete = history.Unknown, s.rev, s.at
		case op.Outcome != history.Unknown || !history.IsWrite(op.Op):
		case wasSeen:
			count(op.Op).Happened++
			// Outcome stays unknown (that is what the client saw); a
			// revision on an unknown op marks it as resolved.
			c := changed()
			c.Rev, c.Complete = s.rev, s.at
		case op.Value != "" && (complete || window.covers(op)):
			count(op.Op).NotHappened++
			continue
		default:
			count(op.Op).StillUnknown++
		}
		r.ops = append(r.ops, op)
	}
	// Whether every stream sequence up to the highest seen is accounted
	// for, acknowledgements included, is a fact of the whole history
	// (facts.seqsKnown), so key sequences apply even when the watcher fell
	// behind, as in a pipelined run.
	if f.seqsKnown {
		r.seqs = sequences(h)
	}
	// Counting markers needs every message of the stream: the key
	// sequences, not just a complete watch (a stream beyond maxFactRev has
	// none, and would count no markers at all).
	if r.seqs != nil {
		r.resolveDeletes()
		r.brokenPreconditions(f)
	}
	return r
}

// wroteTwice: a create whose value was seen at two revisions wrote it
// twice, nats.go's way. Create sends Update(key, 0); on any error it reads
// the key and, if the last message is a marker, sends Update(key, marker's
// revision). A first request that wrote but whose answer was lost (the
// connection dropped; the context lives on), followed by another client's
// delete, leads the read to the marker and the retry to write the value a
// second time. So only when a delete (purge) marker of the key sits
// between the two revisions, and an acknowledged create returned the
// second. It returns the two sightings in revision order: seen is the
// value's first sighting, others its sightings at other revisions.
func wroteTwice(op *history.Record, seen sighting, others map[uint64]int64, markers map[string][]uint64) (first, second sighting, ok bool) {
	if len(others) != 1 {
		return first, second, false // one revision, or more than two
	}
	for rev, at := range others {
		first, second = seen, sighting{rev: rev, at: at}
	}
	if second.rev < first.rev {
		first, second = second, first
	}
	if op.Outcome == history.OK && op.Rev != second.rev {
		return first, second, false
	}
	for _, m := range markers[op.Key] {
		if m > first.rev && m < second.rev {
			return first, second, true
		}
	}
	return first, second, false
}

// markersOf lists, per key, the revisions some record shows a delete or
// purge marker at (unsorted; only wroteTwice asks, rarely).
func markersOf(h *history.History) map[string][]uint64 {
	out := map[string][]uint64{}
	eachMessage(h, func(key string, rev uint64, marker string, _ int64) {
		if marker != history.MarkerNone && rev != 0 {
			out[key] = append(out[key], rev)
		}
	})
	return out
}

// resolveDeletes settles unknown deletes and purges the one way their lack
// of a value allows: by counting. With every message of the stream seen,
// each del (purge) marker of a key was written by one acknowledged or
// unknown delete (purge) of that key. When the acknowledged ones already
// account for every marker, none of the unknown ones happened.
func (r *resolved) resolveDeletes() {
	type kind struct{ key, op string }
	markers, acked := map[kind]int{}, map[kind]int{}
	for key, seq := range r.seqs {
		var del, purge int // counted here, not in the map message by message
		for _, m := range seq.ordered() {
			switch m.Marker {
			case history.MarkerDel:
				del++
			case history.MarkerPurge:
				purge++
			}
		}
		if del > 0 {
			markers[kind{key, history.OpDelete}] = del
		}
		if purge > 0 {
			markers[kind{key, history.OpPurge}] = purge
		}
	}
	for _, op := range r.ops {
		if (op.Op == history.OpDelete || op.Op == history.OpPurge) && op.Outcome == history.OK {
			acked[kind{op.Key, op.Op}]++
		}
	}
	kept := r.ops[:0]
	for _, op := range r.ops {
		k := kind{op.Key, op.Op}
		if (op.Op == history.OpDelete || op.Op == history.OpPurge) && op.Outcome == history.Unknown && op.Rev == 0 && markers[k] == acked[k] {
			c := r.counts[op.Op]
			c.StillUnknown--
			c.NotHappened++
			continue
		}
		kept = append(kept, op)
	}
	r.ops = kept
}

// window answers "would this write's message still be in the stream?".
//
// Two facts make that decidable without a complete watch stream:
//   - Revisions are stream sequences, assigned in order by the leader: a
//     write invoked after some message with revision R was known to exist
//     (acknowledged, or seen by the watcher) gets a revision above R.
//   - Per key, what the stream keeps is a suffix: the history limit and
//     purges remove a key's oldest messages first, so every message of key k
//     from k's oldest retained revision on is still there. Not for a key
//     written with a per-message TTL: its value can expire while an older
//     delete marker stays, so such keys are never covered.
//
// So when k's oldest retained revision is at most R+1, a write to k invoked
// after R was known would still be in the stream had it happened.
type window struct {
	firstKept map[string]uint64 // per key, the oldest revision stored after the run
	f         *facts            // the highest revision known to exist, by time
}

func retainedWindow(h *history.History, f *facts) window {
	w := window{firstKept: map[string]uint64{}, f: f}
	if h.End == nil || !h.End.StoredComplete {
		return w
	}
	for _, s := range h.Stored {
		if first, ok := w.firstKept[s.Key]; !ok || s.Rev < first {
			w.firstKept[s.Key] = s.Rev
		}
	}
	return w
}

// covers reports whether op, had it happened, would be among the stored messages.
func (w window) covers(op *history.Record) bool {
	if w.f.ttlKeys[op.Key] {
		return false
	}
	first, ok := w.firstKept[op.Key]
	return ok && first <= w.f.known.before(op.Invoke)+1
}
