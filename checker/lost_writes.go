package checker

import (
	"fmt"
	"sort"

	"github.com/kvharness/kvharness/history"
)

// checkNoLostWrites: every acknowledged write must either be the key's final
// message or lie below it — overwritten by a later write. The final message
// is read through the stream leader after the run, markers included. When the
// recording watcher saw the whole stream, every acknowledged write must also
// have appeared in it at its revision: an acknowledged write that was never
// in the stream was lost even if something later overwrote it. And whatever
// the watcher saw, a write acknowledged at revision r is lost when anything
// shows another message at r — a watcher, a get, a read after the run,
// History(), a replica, of any key: a stream sequence names one message.
type noLostWrites struct {
	end   *history.End
	acked int
	lost  []string
}

func (c *noLostWrites) add(g *keyGroup) {
	h := g.h
	c.end = h.End
	// Another message at an acknowledged write's revision proves the loss
	// whatever else the run recorded; the rest needs the final reads.
	finished := h.End != nil && h.End.FinalReads
	// A stream gone after the run (deleted by nobody: the harness deletes
	// its bucket only after the checks) kept none of its writes.
	gone := h.End != nil && h.End.BucketMissing
	elsewhere := otherMessages(g)
	final := map[string]history.Record{}
	for _, f := range g.finals() {
		final[f.Key] = f
	}
	var watched map[uint64]string
	if finished && h.End.WatchComplete {
		watched = make(map[uint64]string, len(h.Watch)+len(h.Stored))
		for _, w := range h.Watch {
			watched[w.Rev] = messageName(w.Read, w.Marker)
		}
		for _, s := range h.Stored {
			watched[s.Rev] = messageName(s.Read, s.Marker)
		}
	}
	expiry := ttlWritesOf(g.r.ops)
	for _, op := range g.r.ops {
		if !history.IsWrite(op.Op) || op.Outcome != history.OK || op.Rev == 0 || g.isContext(op) {
			continue
		}
		c.acked++
		f, ok := final[op.Key]
		wrote := writtenMessage(op)
		if other, ok := elsewhere(op); ok {
			c.lost = append(c.lost, fmt.Sprintf("%s by client %d acknowledged at revision %d, but revision %d holds %s", writeName(op), op.Client, op.Rev, op.Rev, other))
			continue
		}
		switch {
		case gone:
			c.lost = append(c.lost, fmt.Sprintf("%s by client %d acknowledged at revision %d, but the bucket's stream was gone after the run", writeName(op), op.Client, op.Rev))
		case !finished:
		case h.End.WatchComplete && watched[op.Rev] != wrote:
			// every sequence was seen (by the watcher or in the stream after
			// the run), and this write's was not where it was acknowledged
			c.lost = append(c.lost, fmt.Sprintf("%s by client %d acknowledged at revision %d never appeared in the stream", writeName(op), op.Client, op.Rev))
		case ok && expiry.expiredBefore(op, f.Invoke):
			// Its TTL, or that of a later write of the key, may have run out
			// before the final read (the server stamps a write after its
			// invocation and keeps it TTL from then): removed, revealing
			// what the key held before or leaving a marker that may itself
			// have expired by now; and a later write can have pushed this
			// one out of the key's history first (a lease released by a
			// delete, then taken by a TTL create that expired).
		case !ok || (!f.Found && f.Marker == ""):
			c.lost = append(c.lost, fmt.Sprintf("%s by client %d acknowledged at revision %d, but key %q has no message at all", writeName(op), op.Client, op.Rev, op.Key))
		case f.Rev < op.Rev:
			c.lost = append(c.lost, fmt.Sprintf("%s by client %d acknowledged at revision %d, but key %q ends at revision %d", writeName(op), op.Client, op.Rev, op.Key, f.Rev))
		case f.Rev == op.Rev && messageName(f.Read, f.Marker) != wrote:
			c.lost = append(c.lost, fmt.Sprintf("%s by client %d acknowledged at revision %d, but the final message there is %q", writeName(op), op.Client, op.Rev, messageName(f.Read, f.Marker)))
		}
	}
}

// otherMessages answers, for an acknowledged write, whether some record
// shows another message at its revision, and which: in the group (its own
// key's records; any of its keys), or across groups (the facts' revisions
// placed in two keys).
func otherMessages(g *keyGroup) func(op *history.Record) (string, bool) {
	// The first claim on each revision, and the other claims on the
	// revisions that have more (rarely any): not a list per revision, one
	// allocation each over millions of revisions.
	first, more := make(map[uint64]claim, len(g.h.Watch)+len(g.h.Stored)), map[uint64][]claim{}
	add := func(r *history.Record, by source) {
		if r.Rev == 0 || (!r.Found && r.Marker == "" && r.Read == "") {
			return
		}
		cl := claim{key: r.Key, what: messageName(r.Read, r.Marker), by: by}
		c, ok := first[r.Rev]
		switch {
		case !ok:
			first[r.Rev] = cl
			return
		case c.key == cl.key && c.what == cl.what:
			return
		}
		for _, c := range more[r.Rev] {
			if c.key == cl.key && c.what == cl.what {
				return
			}
		}
		more[r.Rev] = append(more[r.Rev], cl)
	}
	for _, op := range g.r.ops {
		if op.Op == history.OpGet && op.Outcome == history.OK && op.Found {
			add(op, clientOp(history.OpGet, op.Client))
		}
	}
	for _, list := range []struct {
		recs []history.Record
		by   source
	}{{g.h.Watch, source{kind: "watcher"}}, {g.h.Stored, source{kind: "the stream after the run"}}, {g.h.Final, source{kind: "final read"}},
		{g.h.KeyHistory, source{kind: "History()"}}, {g.h.Replicas, source{kind: "a replica read"}}} {
		for i := range list.recs {
			add(&list.recs[i], list.by)
		}
	}
	for _, d := range g.h.Delivered {
		r := history.Record{Key: d.Key, Rev: d.Rev, Read: d.Read, Marker: d.Marker, Found: d.Marker == ""}
		add(&r, source{kind: "watcher", id: d.Watcher})
	}
	crossKey := map[uint64][]crossKeyClaim{}
	for _, x := range g.f.crossKey {
		crossKey[x.rev] = append(crossKey[x.rev], x)
	}
	return func(op *history.Record) (string, bool) {
		if c, ok := first[op.Rev]; ok {
			wrote := writtenMessage(op)
			if c.key != op.Key || c.what != wrote {
				return c.String(), true
			}
			for _, c := range more[op.Rev] {
				if c.key != op.Key || c.what != wrote {
					return c.String(), true
				}
			}
		}
		for _, x := range crossKey[op.Rev] {
			if x.first == op.Key {
				return fmt.Sprintf("a message of key %q per %s", x.second, x.by), true
			}
			return fmt.Sprintf("a message of key %q", x.first), true
		}
		return "", false
	}
}

func (c *noLostWrites) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckNoLostWrites}
	if len(c.lost) == 0 && (c.end == nil || !c.end.FinalReads) {
		cr.Result = Unknown
		cr.Detail = "no final reads in the history (run interrupted before the final phase)"
		if c.end != nil && c.end.Cut {
			cr.Detail = notRecorded(c.end, "not every key's final read is in it")
		}
		return cr, nil
	}
	if len(c.lost) == 0 {
		cr.Result = Pass
		cr.Detail = fmt.Sprintf("%d acknowledged writes all present or overwritten (final reads and the complete watch stream)", c.acked)
		if !c.end.WatchComplete {
			cr.Detail = fmt.Sprintf("%d acknowledged writes present or overwritten per the final reads, and none of their revisions seen holding another message; "+
				"the watch stream has gaps, so a write overwritten before the end and never seen is not established to have been stored", c.acked)
		}
		return cr, nil
	}
	cr.Result = Fail
	cr.Detail = fmt.Sprintf("%d of %d acknowledged writes lost; first: %s", len(c.lost), c.acked, c.lost[0])
	if c.end == nil || (!c.end.FinalReads && !c.end.BucketMissing) {
		cr.Detail += " (the run did not finish: only the losses that other records prove are counted)"
	}
	return cr, notesFor(CheckNoLostWrites, c.lost)
}

// messageName names a stored message for comparison and notes: its value,
// or its kind of marker ("del marker").
func messageName(read, marker string) string {
	switch marker {
	case history.MarkerNone:
		return read
	case history.MarkerDel: // most markers: named without a new string each
		return "del marker"
	case history.MarkerPurge:
		return "purge marker"
	}
	return marker + " marker"
}

// writtenMessage is the message a write left: its value, or a delete's
// (purge's) marker.
func writtenMessage(op *history.Record) string { return messageName(op.Value, markerOf(op.Op)) }

// writeName names a write for a note: `put "c1-5"`, or `delete`.
func writeName(op *history.Record) string {
	if op.Value == "" {
		return op.Op
	}
	return fmt.Sprintf("%s %q", op.Op, op.Value)
}

// ttlWrites are, per key, the writes that asked for a TTL (any outcome but
// a definite failure), by invocation, with the earliest expiry from each
// one on: enough to tell whether one invoked at or after a given write
// expired before a given time.
type ttlWrites map[string]*keyTTLWrites

type keyTTLWrites struct {
	invoke        []int64
	earliestAfter []int64 // earliestAfter[i]: min(invoke+TTL) over writes i..
}

func ttlWritesOf(ops []*history.Record) ttlWrites {
	out := ttlWrites{}
	for _, op := range ops {
		if op.TTL > 0 && history.IsWrite(op.Op) && op.Outcome != history.Fail {
			k := out[op.Key]
			if k == nil {
				k = &keyTTLWrites{}
				out[op.Key] = k
			}
			k.invoke = append(k.invoke, op.Invoke)
			k.earliestAfter = append(k.earliestAfter, op.Invoke+op.TTL)
		}
	}
	for _, k := range out {
		sort.Sort(byInvoke{k})
		for i := len(k.invoke) - 2; i >= 0; i-- {
			k.earliestAfter[i] = min(k.earliestAfter[i], k.earliestAfter[i+1])
		}
	}
	return out
}

// expiredBefore: a TTL write of op's key invoked at or after op (op itself
// included) may have expired by time at.
func (t ttlWrites) expiredBefore(op *history.Record, at int64) bool {
	k := t[op.Key]
	if k == nil {
		return false
	}
	i := sort.Search(len(k.invoke), func(i int) bool { return k.invoke[i] >= op.Invoke })
	return i < len(k.invoke) && k.earliestAfter[i] < at
}

// byInvoke sorts a key's TTL writes (both slices) by invocation.
type byInvoke struct{ k *keyTTLWrites }

func (b byInvoke) Len() int           { return len(b.k.invoke) }
func (b byInvoke) Less(i, j int) bool { return b.k.invoke[i] < b.k.invoke[j] }
func (b byInvoke) Swap(i, j int) {
	b.k.invoke[i], b.k.invoke[j] = b.k.invoke[j], b.k.invoke[i]
	b.k.earliestAfter[i], b.k.earliestAfter[j] = b.k.earliestAfter[j], b.k.earliestAfter[i]
}
