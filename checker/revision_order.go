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
// (facts.observed), and each write with a revision is held to the one
// before its invocation.
const CheckRevisionOrder = "revision-order"

type revisionOrder struct {
	writes   int
	problems []orderProblem
	skips    []string // the recording watcher's, see recordingWatcherSkips
	f        *facts
}

// orderProblem is a write whose revision was not above one seen before it
// was invoked. It holds what explains it, not the record: its group is
// long gone by the time the check's result is written.
type orderProblem struct {
	op, value, key string
	client         int
	invoke         int64
	rev, seen      uint64
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
		seen := g.f.observed.before(op.Invoke)
		if seen < op.Rev {
			continue
		}
		c.problems = append(c.problems, orderProblem{op: op.Op, value: op.Value, key: op.Key, client: op.Client, invoke: op.Invoke, rev: op.Rev, seen: seen})
	}
}

// explain words the problems, naming who first saw each revision they
// were held to (one more pass over the history, so only on failure).
func (c *revisionOrder) explain() []string {
	seen := make([]uint64, len(c.problems))
	for i, p := range c.problems {
		seen[i] = p.seen
	}
	who, err := c.f.firstSightings(seen)
	out := make([]string, len(c.problems))
	for i, p := range c.problems {
		by := who[p.seen].String()
		if err != nil {
			by = fmt.Sprintf("who saw it could not be found again: %v", err)
		}
		out[i] = fmt.Sprintf("%s %q of key %q by client %d, invoked at %.3fs, got revision %d, but revision %d was seen in millisecond %.3fs (%s)",
			p.op, p.value, p.key, p.client, float64(p.invoke)/1e9, p.rev, p.seen, float64(c.f.observed.firstReaching(p.seen))/1e3, by)
	}
	return out
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
		problems := c.explain()
		if len(problems) > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d writes got a revision not above one seen before they were invoked; first: %s", len(problems), c.writes, problems[0]))
		}
		if disordered > 0 {
			parts = append(parts, fmt.Sprintf("the recording watcher delivered %d revisions out of stream order; first: %s", disordered, disorder[0]))
		}
		if len(c.skips) > 0 {
			parts = append(parts, fmt.Sprintf("the recording watcher skipped %d revisions the stream still held; first: %s", len(c.skips), c.skips[0]))
		}
		cr.Detail = strings.Join(parts, "; ")
		return cr, notesFor(CheckRevisionOrder, append(append(problems, disorder...), c.skips...))
	}
	cr.Result = Pass
	cr.Detail = fmt.Sprintf("%d writes each got a revision above every revision seen (acknowledged, read or delivered, any key) before they were invoked", c.writes)
	return cr, nil
}
