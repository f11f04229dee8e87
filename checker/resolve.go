package checker

import (
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
}

// sighting is where a written value was seen in the stream.
type sighting struct {
	rev uint64
	at  int64 // when it was seen, ns since run start: the write took effect before
}

// observations indexes what the server actually stored: every value the
// recording watcher delivered and every value the final reads returned.
func observations(h *history.History) map[string]sighting {
	seen := make(map[string]sighting, len(h.Watch)+len(h.Final))
	add := func(value string, rev uint64, at int64) {
		if value == "" {
			return
		}
		if s, ok := seen[value]; !ok || at < s.at {
			seen[value] = sighting{rev: rev, at: at}
		}
	}
	for _, w := range h.Watch {
		if w.Marker == history.MarkerNone {
			add(w.Read, w.Rev, w.At)
		}
	}
	for _, f := range h.Final {
		if f.Found {
			add(f.Read, f.Rev, f.Invoke)
		}
	}
	return seen
}

// resolve rewrites unknown writes from what the stream holds. A value found
// in the stream happened, with that revision, before it was seen. A value not
// found happened not at all — but only if the watcher saw every sequence of
// the stream, since otherwise it may have been written and then discarded by
// the bucket's history limit or a purge. Deletes carry no value and stay
// unknown. It returns the ops to check (unknowns that did not happen are
// dropped) and the counts per op.
func resolve(h *history.History) ([]history.Record, map[string]*Resolution) {
	seen := observations(h)
	complete := h.End != nil && h.End.WatchComplete
	counts := map[string]*Resolution{}
	out := make([]history.Record, 0, len(h.Ops))
	count := func(op string) *Resolution {
		c := counts[op]
		if c == nil {
			c = &Resolution{}
			counts[op] = c
		}
		return c
	}
	for _, op := range h.Ops {
		// nats.go's Create is two requests: if the first fails without a
		// conflict (a timeout: it may have been written) and another client
		// then deletes the key, the retry over the new marker can conflict,
		// and Create reports that conflict — though its first attempt wrote.
		// A failed create whose value is in the stream is that case.
		if op.Op == history.OpCreate && op.Outcome == history.Fail {
			if s, ok := seen[op.Value]; ok && op.Value != "" {
				count(op.Op).FailedButSeen++
				op.Outcome, op.Rev, op.Complete = history.Unknown, s.rev, s.at
				out = append(out, op)
				continue
			}
		}
		if op.Outcome != history.Unknown || !history.IsWrite(op.Op) {
			out = append(out, op)
			continue
		}
		c := count(op.Op)
		if op.Value != "" {
			if s, ok := seen[op.Value]; ok {
				c.Happened++
				op.Rev = s.rev
				op.Complete = s.at
				// Outcome stays unknown (that is what the client saw); a
				// revision on an unknown op marks it as resolved.
				out = append(out, op)
				continue
			}
			if complete {
				c.NotHappened++
				continue
			}
		}
		c.StillUnknown++
		out = append(out, op)
	}
	return out, counts
}
