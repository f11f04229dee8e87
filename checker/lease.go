package checker

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/kvharness/kvharness/history"
)

// CheckMutualExclusion (lease pattern): no two candidates ever both hold the
// lease.
//
// The clock reasoning. Every time in the history is read from one monotonic
// clock of the harness process; the server runs on its own clock, and we
// assume only that it advances at the same rate (the same host, or hosts
// whose clocks drift by far less than a lease's TTL). A candidate's write
// with a per-message TTL is stored by the server at some instant after the
// candidate invoked it, and the server removes it no earlier than TTL after
// storing it. So a lease written (create) or renewed (CAS update) by
// invocation time t is the candidate's at least until t + TTL, whatever the
// network delays: that deadline is what a correct candidate may rely on, and
// it does not depend on when the acknowledgement came back.
//
// A candidate holds the lease from the acknowledgement of its acquire until
// its deadline; each acknowledged renewal invoked before the deadline moves
// the deadline to its own invocation + TTL (one invoked later starts a new
// tenure at its acknowledgement). A release (delete with the lease's
// revision) ends the tenure at its invocation: the candidate stops acting
// before it lets go. A write of unknown outcome grants nothing. Two
// candidates' tenures that overlap are a violation: the server let one
// acquire a lease whose holder could still rely on it.
//
// Late expiry leaves this sound. The reasoning uses only a lower bound on
// when a lease goes away (not before its deadline), never an upper one. A
// server that removes an expired lease late — as it may while a fault leaves
// the stream without a leader or a quorum (see ttl-expiry, which reports
// such lateness) — keeps the old value longer. Another candidate's create
// then meets an existing key and its CAS a newer revision, so the next
// tenure can only start later. It cannot start earlier, so no two tenures
// can overlap because of it.
const CheckMutualExclusion = "mutual-exclusion"

type tenure struct {
	client     int
	key        string
	start, end int64
	by         string // the writes that made it, for the note
}

func leaseTenures(ops []history.Record) []tenure {
	byClient := map[int][]history.Record{}
	for _, op := range ops {
		if history.IsWrite(op.Op) {
			byClient[op.Client] = append(byClient[op.Client], op)
		}
	}
	var out []tenure
	for client, list := range byClient {
		sort.Slice(list, func(i, j int) bool { return list[i].Invoke < list[j].Invoke })
		var cur *tenure
		closeAt := func(t int64) {
			if cur != nil {
				if t < cur.end {
					cur.end = t
				}
				out = append(out, *cur)
				cur = nil
			}
		}
		for _, op := range list {
			acked := op.Outcome == history.OK
			switch {
			case op.Op == history.OpCreate && acked && op.TTL > 0:
				closeAt(op.Invoke)
				cur = &tenure{client: client, key: op.Key, start: op.Complete, end: op.Invoke + op.TTL, by: op.Value}
			case op.Op == history.OpUpdate && acked && op.TTL > 0:
				if cur != nil && cur.key == op.Key && op.Invoke < cur.end {
					cur.end, cur.by = op.Invoke+op.TTL, op.Value // the renewal now sets the deadline
					continue
				}
				closeAt(op.Invoke)
				cur = &tenure{client: client, key: op.Key, start: op.Complete, end: op.Invoke + op.TTL, by: op.Value}
			case op.Op == history.OpDelete || op.Op == history.OpPurge:
				if cur != nil && cur.key == op.Key {
					closeAt(op.Invoke)
				}
			}
		}
		if cur != nil {
			out = append(out, *cur)
		}
	}
	return out
}

type mutualExclusion struct {
	meta     *history.Meta
	tenures  int
	leaders  map[int]bool
	held     time.Duration
	problems []string
}

func (c *mutualExclusion) add(g *keyGroup) {
	c.meta = g.h.Meta
	if c.meta == nil || c.meta.Pattern != history.PatternLease {
		return
	}
	tenures := leaseTenures(g.h.Ops)
	sort.Slice(tenures, func(i, j int) bool {
		if tenures[i].key != tenures[j].key {
			return tenures[i].key < tenures[j].key
		}
		return tenures[i].start < tenures[j].start
	})
	// An acquire acknowledged after its own deadline gave its candidate
	// nothing to rely on: an empty tenure overlaps nothing.
	tenures = slices.DeleteFunc(tenures, func(t tenure) bool { return t.end <= t.start })
	c.tenures += len(tenures)
	for i, t := range tenures {
		c.leaders[t.client] = true
		c.held += time.Duration(t.end - t.start)
		// The latest-ending earlier tenure of another candidate on this key.
		for j := i - 1; j >= 0 && tenures[j].key == t.key; j-- {
			p := tenures[j]
			if p.client != t.client && p.end > t.start {
				c.problems = append(c.problems, fmt.Sprintf("key %q: candidate %d acquired at %.3fs (%s) while candidate %d held it until %.3fs (%s): both leaders for %s",
					t.key, t.client, sec(t.start), t.by, p.client, sec(p.end), p.by, time.Duration(min(p.end, t.end)-t.start).Round(time.Microsecond)))
				break
			}
		}
	}
}

func (c *mutualExclusion) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckMutualExclusion}
	switch {
	case c.meta == nil || c.meta.Pattern != history.PatternLease:
		cr.Result, cr.Detail = Skipped, "not a lease (leader election) scenario"
		return cr, nil
	case c.tenures == 0:
		cr.Result, cr.Detail = Unknown, "no candidate ever held the lease"
		return cr, nil
	}
	detail := fmt.Sprintf("%d tenures by %d candidates, %.1fs held in all", c.tenures, len(c.leaders), c.held.Seconds())
	if len(c.problems) > 0 {
		cr.Result, cr.Detail = Fail, detail+fmt.Sprintf("; %d overlapping", len(c.problems))
		return cr, notesFor(CheckMutualExclusion, c.problems)
	}
	cr.Result, cr.Detail = Pass, detail+", never two at once (a holder relies on its lease until invoke + TTL)"
	return cr, nil
}

func sec(ns int64) float64 { return float64(ns) / 1e9 }
