package checker

import (
	"fmt"
	"sort"

	"github.com/kvharness/kvharness/history"
)

// CheckHistoryMatches: after the run, each key's History() — what nats.go
// returns to an application asking for a key's versions — matches the
// key's writes: revisions in increasing order, no more than the bucket's
// history depth, every value written to that key at that revision, nothing
// acknowledged missing between its first and last entry, and the last entry
// the key's final message. Where every message of the stream is known (and
// no TTL removes messages on its own), it must be exactly the key's last
// depth messages since its last purge.
const CheckHistoryMatches = "history-matches"

type historyMatches struct {
	end                *history.End
	keys, total, depth int
	exact              bool
	problems           []string
}

func (c *historyMatches) add(g *keyGroup) {
	h, r := g.h, g.r
	c.end = h.End
	if h.End == nil || !h.End.HistoryReads {
		return
	}
	entries := map[string][]history.Record{}
	var keys []string // the keys read, in order
	for _, e := range h.KeyHistory {
		if _, seen := entries[e.Key]; !seen {
			keys = append(keys, e.Key)
			entries[e.Key] = nil
		}
		if e.Rev != 0 {
			entries[e.Key] = append(entries[e.Key], e)
		}
	}
	c.keys += len(keys)
	writes := g.writes
	acked := map[string][]*history.Record{}
	anyTTL := g.f.anyTTL()
	for _, op := range r.ops {
		if op.Outcome == history.OK && op.Rev != 0 && history.IsWrite(op.Op) {
			acked[op.Key] = append(acked[op.Key], op)
		}
	}
	final := map[string]history.Record{}
	for _, f := range h.Final {
		final[f.Key] = f
	}
	c.depth = history.MaxDepth
	if h.Meta != nil && h.Meta.History > 0 {
		c.depth = h.Meta.History
	}
	depth := c.depth
	// With every message of the key known (and none removed by a TTL),
	// History() must be exactly the messages the stream kept.
	c.exact = g.f.seqsKnown && !anyTTL
	for _, key := range keys {
		es := entries[key]
		c.total += len(es)
		bad := func(format string, args ...any) {
			c.problems = append(c.problems, fmt.Sprintf("key %q: History() ", key)+fmt.Sprintf(format, args...))
		}
		if len(es) > depth {
			bad("returned %d entries, the bucket keeps %d", len(es), depth)
		}
		for i, e := range es {
			if i > 0 && e.Rev <= es[i-1].Rev {
				bad("has revision %d after %d", e.Rev, es[i-1].Rev)
			}
			if e.Marker != history.MarkerNone {
				continue
			}
			w, ok := writes[e.Read]
			switch {
			case !ok:
				bad("has %q at revision %d, which no operation wrote", e.Read, e.Rev)
			case w.Key != key:
				bad("has %q, written to key %q", e.Read, w.Key)
			case !r.sameWrite(w, e.Rev):
				bad("has %q at revision %d, acknowledged at %d", e.Read, e.Rev, w.Rev)
			}
		}
		f, hasFinal := final[key]
		var last uint64
		if len(es) > 0 {
			last = es[len(es)-1].Rev
		}
		if hasFinal && h.End.FinalReads && f.Rev != last && !expiredSince(f, writes, es, h.End.At, anyTTL) {
			bad("ends at revision %d, the key's last message is at %d (a stale History)", last, f.Rev)
		}
		if len(es) > 0 {
			got := map[uint64]bool{}
			for _, e := range es {
				got[e.Rev] = true
			}
			var missing []uint64
			for _, op := range acked[key] {
				expired := op.TTL > 0 && es[0].At > op.Invoke+op.TTL // may have been removed by the server on time
				if op.Rev > es[0].Rev && op.Rev <= last && !got[op.Rev] && !expired {
					missing = append(missing, op.Rev)
				}
			}
			if len(missing) > 0 {
				sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
				bad("lacks acknowledged revision(s) %s", revList(missing))
			}
		}
		if c.exact {
			want := retainedMessages(r.seqs[key], depth)
			if !sameRevs(want, es) {
				bad("has revisions %s, the stream kept %s", revList(recRevs(es)), revList(msgRevs(want)))
			}
		}
	}
}

func (c *historyMatches) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckHistoryMatches}
	switch {
	case cut(c.end) && (c.end == nil || !c.end.HistoryReads):
		cr.Result, cr.Detail = Unknown, notRecorded(c.end, "History() of every key is not in it")
		return cr, nil
	case !c.end.HistoryReads:
		cr.Result, cr.Detail = Unknown, "History() was not read for every key (reads failed within the final phase's budget, or a history from before they were made)"
		return cr, nil
	case len(c.problems) > 0:
		cr.Result, cr.Detail = Fail, fmt.Sprintf("%d problems in the History() of %d keys", len(c.problems), c.keys)
		return cr, notesFor(CheckHistoryMatches, c.problems)
	}
	how := "consistent with the writes"
	if c.exact {
		how = "exactly the messages the stream kept"
	}
	cr.Result, cr.Detail = Pass, fmt.Sprintf("History() of %d keys (%d entries, depth %d): %s", c.keys, c.total, c.depth, how)
	return cr, nil
}

// retainedMessages: a key's last depth messages since (and including) its
// last purge marker — what the bucket keeps of it.
func retainedMessages(ks *keySequence, depth int) []message {
	if ks == nil {
		return nil
	}
	var all []message
	for _, m := range ks.ordered() {
		if m.Marker == history.MarkerPurge {
			all = all[:0]
		}
		all = append(all, m)
	}
	if len(all) > depth {
		all = all[len(all)-depth:]
	}
	return all
}

func sameRevs(want []message, got []history.Record) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if want[i].Rev != got[i].Rev || want[i].Marker != got[i].Marker {
			return false
		}
	}
	return true
}

func recRevs(rs []history.Record) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Rev
	}
	return out
}

func msgRevs(ms []message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Rev
	}
	return out
}

// expiredSince: with TTLs in play, the key's final message (read before
// History()) may have run out by the time History() was read — a value
// whose write's TTL had passed, or a marker, which the server expires too.
func expiredSince(f history.Record, writes map[string]*history.Record, es []history.Record, endAt int64, anyTTL bool) bool {
	if !anyTTL {
		return false
	}
	if !f.Found {
		// The server's own markers (read as purge) expire with the
		// bucket's limit_marker_ttl; a client's delete marker does not.
		return f.Marker == history.MarkerPurge
	}
	w, ok := writes[f.Read]
	if !ok || w.TTL == 0 {
		return false
	}
	at := endAt // History() was read before the run ended
	if len(es) > 0 {
		at = es[0].At
	}
	return at > w.Invoke+w.TTL
}
