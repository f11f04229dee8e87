package checker

import (
	"fmt"
	"strings"

	"github.com/kvharness/kvharness/history"
)

// CheckRevisionOrder: a key's revision is a sequence of the bucket's one
// stream, assigned in order by its leader. So once revision R was seen to
// exist — a write acknowledged with it, a get or a watcher returning it,
// whatever the key — every write invoked after that gets a revision above
// R. Resolution (window.covers) and the key sequences build on this order;
// this check verifies it, across keys, in one pass over the history: the
// facts keep, per millisecond, the highest revision seen by then
// (facts.observedBefore), and each write with a revision is held to the
// one before its invocation.
const CheckRevisionOrder = "revision-order"

type revisionOrder struct {
	writes   int
	problems []string
	skips    []string // the recording watcher's, see recordingWatcherSkips
	f        *facts
}

func (c *revisionOrder) add(g *keyGroup) {
	c.f = g.f
	c.skips = append(c.skips, recordingWatcherSkips(g)...)
	for _, op := range g.r.ops {
		// A write with a revision: acknowledged, or resolved from the
		// stream (an unknown outcome, a refusal that was stored).
		if !history.IsWrite(op.Op) || op.Rev == 0 || g.isContext(op) {
			continue
		}
		c.writes++
		seen, by := g.f.observedBefore(op.Invoke)
		if seen < op.Rev {
			continue
		}
		c.problems = append(c.problems, fmt.Sprintf("%s %q of key %q by client %d, invoked at %.3fs, got revision %d, but revision %d was seen in millisecond %.3fs (%s)",
			op.Op, op.Value, op.Key, op.Client, float64(op.Invoke)/1e9, op.Rev, seen, float64(by.ms)/1e3, by.String(g.f.keys)))
	}
}

func (c *revisionOrder) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckRevisionOrder}
	// The recording watcher is an ordered consumer of the whole bucket:
	// its deliveries are the stream's order as it was seen.
	var disorder []string
	var disordered int
	if c.f != nil {
		disorder, disordered = c.f.disorderOf(true)
	}
	if len(c.problems) > 0 || disordered > 0 || len(c.skips) > 0 {
		cr.Result = Fail
		var parts []string
		if len(c.problems) > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d writes got a revision not above one seen before they were invoked; first: %s", len(c.problems), c.writes, c.problems[0]))
		}
		if disordered > 0 {
			parts = append(parts, fmt.Sprintf("the recording watcher delivered %d revisions out of stream order; first: %s", disordered, disorder[0]))
		}
		if len(c.skips) > 0 {
			parts = append(parts, fmt.Sprintf("the recording watcher skipped %d revisions the stream still held; first: %s", len(c.skips), c.skips[0]))
		}
		cr.Detail = strings.Join(parts, "; ")
		return cr, notesFor(CheckRevisionOrder, append(append(c.problems, disorder...), c.skips...))
	}
	cr.Result = Pass
	cr.Detail = fmt.Sprintf("%d writes each got a revision above every revision seen (acknowledged, read or delivered, any key) before they were invoked", c.writes)
	return cr, nil
}
