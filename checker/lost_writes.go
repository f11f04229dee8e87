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
func checkNoLostWrites(ops []history.Record, h *history.History) (CheckResult, []string) {
	c := CheckResult{Name: CheckNoLostWrites}
	if h.End == nil || !h.End.FinalReads {
		c.Result = Unknown
		c.Detail = "no final reads in the history (run interrupted before the final phase)"
		return c, nil
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
	var lost []string
	acked := 0
	for _, op := range ops {
		if !history.IsWrite(op.Op) || op.Outcome != history.OK || op.Rev == 0 {
			continue
		}
		acked++
		f, ok := final[op.Key]
		switch {
		case h.End.WatchComplete && watched[op.Rev] != op.Value:
			// every sequence was seen (by the watcher or in the stream after
			// the run), and this write's was not where it was acknowledged
			lost = append(lost, fmt.Sprintf("%s %q by client %d acknowledged at revision %d never appeared in the stream", op.Op, op.Value, op.Client, op.Rev))
		case ok && op.TTL > 0 && f.Invoke > op.Invoke+op.TTL:
			// Its TTL may have run out before the final read (the server
			// stamps a write after its invocation and keeps it TTL from
			// then): removed, revealing what the key held before or leaving
			// a marker that may itself have expired by now.
		case !ok || (!f.Found && f.Marker == ""):
			lost = append(lost, fmt.Sprintf("%s %q by client %d acknowledged at revision %d, but key %q has no message at all", op.Op, op.Value, op.Client, op.Rev, op.Key))
		case f.Rev < op.Rev:
			lost = append(lost, fmt.Sprintf("%s %q by client %d acknowledged at revision %d, but key %q ends at revision %d", op.Op, op.Value, op.Client, op.Rev, op.Key, f.Rev))
		case f.Rev == op.Rev && f.Read != op.Value:
			lost = append(lost, fmt.Sprintf("%s %q by client %d acknowledged at revision %d, but the final message there is %q", op.Op, op.Value, op.Client, op.Rev, f.Read))
		}
	}
	if len(lost) == 0 {
		c.Result = Pass
		how := "final reads"
		if h.End.WatchComplete {
			how += " and the complete watch stream"
		}
		c.Detail = fmt.Sprintf("%d acknowledged writes all present or overwritten (%s)", acked, how)
		return c, nil
	}
	c.Result = Fail
	c.Detail = fmt.Sprintf("%d of %d acknowledged writes lost; first: %s", len(lost), acked, lost[0])
	return c, notesFor(CheckNoLostWrites, lost)
}
