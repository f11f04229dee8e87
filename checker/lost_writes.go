package checker

import (
	"fmt"

	"github.com/kvharness/kvharness/history"
)

// checkNoLostWrites: every acknowledged write must either be the key's final
// message or lie below it — overwritten by a later write. The final message
// is read through the stream leader after the run, markers included. When the
// recording watcher saw the whole stream, every acknowledged write must also
// have appeared in it at its revision: an acknowledged write that was never
// in the stream was lost even if something later overwrote it.
type noLostWrites struct {
	end   *history.End
	acked int
	lost  []string
}

func (c *noLostWrites) add(g *keyGroup) {
	h := g.h
	c.end = h.End
	if h.End == nil || !h.End.FinalReads {
		return
	}
	final := map[string]history.Record{}
	for _, f := range h.Final {
		final[f.Key] = f
	}
	watched := map[uint64]string{}
	if h.End.WatchComplete {
		for _, w := range h.Watch {
			watched[w.Rev] = w.Read
		}
		for _, s := range h.Stored {
			watched[s.Rev] = s.Read
		}
	}
	for _, op := range g.r.ops {
		if !history.IsWrite(op.Op) || op.Outcome != history.OK || op.Rev == 0 {
			continue
		}
		c.acked++
		f, ok := final[op.Key]
		switch {
		case h.End.WatchComplete && watched[op.Rev] != op.Value:
			// every sequence was seen (by the watcher or in the stream after
			// the run), and this write's was not where it was acknowledged
			c.lost = append(c.lost, fmt.Sprintf("%s %q by client %d acknowledged at revision %d never appeared in the stream", op.Op, op.Value, op.Client, op.Rev))
		case ok && op.TTL > 0 && f.Invoke > op.Invoke+op.TTL:
			// Its TTL may have run out before the final read (the server
			// stamps a write after its invocation and keeps it TTL from
			// then): removed, revealing what the key held before or leaving
			// a marker that may itself have expired by now.
		case !ok || (!f.Found && f.Marker == ""):
			c.lost = append(c.lost, fmt.Sprintf("%s %q by client %d acknowledged at revision %d, but key %q has no message at all", op.Op, op.Value, op.Client, op.Rev, op.Key))
		case f.Rev < op.Rev:
			c.lost = append(c.lost, fmt.Sprintf("%s %q by client %d acknowledged at revision %d, but key %q ends at revision %d", op.Op, op.Value, op.Client, op.Rev, op.Key, f.Rev))
		case f.Rev == op.Rev && f.Read != op.Value:
			c.lost = append(c.lost, fmt.Sprintf("%s %q by client %d acknowledged at revision %d, but the final message there is %q", op.Op, op.Value, op.Client, op.Rev, f.Read))
		}
	}
}

func (c *noLostWrites) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckNoLostWrites}
	if c.end == nil || !c.end.FinalReads {
		cr.Result = Unknown
		cr.Detail = "no final reads in the history (run interrupted before the final phase)"
		if c.end != nil && c.end.Cut {
			cr.Detail = notRecorded(c.end, "not every key's final read is in it")
		}
		return cr, nil
	}
	if len(c.lost) == 0 {
		cr.Result = Pass
		how := "final reads"
		if c.end.WatchComplete {
			how += " and the complete watch stream"
		}
		cr.Detail = fmt.Sprintf("%d acknowledged writes all present or overwritten (%s)", c.acked, how)
		return cr, nil
	}
	cr.Result = Fail
	cr.Detail = fmt.Sprintf("%d of %d acknowledged writes lost; first: %s", len(c.lost), c.acked, c.lost[0])
	return cr, notesFor(CheckNoLostWrites, c.lost)
}
