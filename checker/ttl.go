package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kvharness/kvharness/history"
)

// CheckTTLExpiry: a value written with a per-message TTL is gone once the
// TTL has run out. The server stores the write before its acknowledgement
// comes back (or, for a write of unknown outcome, before the first time it
// was seen), so it expires by then + TTL; a read that starts later than that
// plus the tolerance (history.Meta.TTLToleranceMs: the server removes
// expired messages on a timer, not at the instant) and still returns the
// value read an expired key. Final reads count too: a key that never
// expired is caught by them.
const CheckTTLExpiry = "ttl-expiry"

// DefaultTTLTolerance is how late after its TTL a key may still be read
// when the scenario does not say.
const DefaultTTLTolerance = time.Second

type ttlExpiry struct {
	tol                         time.Duration
	written, reads, afterExpiry int
	maxLate                     time.Duration
	problems                    []string
	// excused counts reads later than the tolerance only because of time
	// a fault may have left the stream without a leader or a quorum (see
	// leaderless); maxExcused is the latest of them.
	excused    int
	maxExcused time.Duration
	// observed: the windows come from the stream's leadership as the run
	// saw it (unled), not from its faults; gaps is the time between its
	// stretches.
	observed      bool
	gaps, gapsAll time.Duration
	stretches     int
	// followed counts keys whose value was followed after the run
	// (history.End.Expiry), gone those seen to go away; maxGone is the
	// latest any went away after its expiry.
	followed, gone int
	maxGone        time.Duration
}

// The stream leader removes an expired message, and the removal commits
// only with a quorum: NATS promises nothing about expiry while a fault
// leaves the stream without either. A fault may cost the stream its leader
// from its start until a new one can have been elected — raft's longest
// election timeout after the fault began (maxElection, nats-server's
// maxElectionTimeoutDefault), or the fault's end if later — plus catchUp
// for the leader to find the expired messages again. Latency faults slow
// the routes but keep the leader.
const (
	maxElection = 9 * time.Second
	catchUp     = time.Second
)

// leaderless lists the windows, ns since run start, in which a fault may
// have left the stream without a leader or a quorum.
func leaderless(faults []history.Fault) [][2]int64 {
	var out [][2]int64
	for _, f := range faults {
		switch f.Kind {
		case "latency":
			continue
		case "heal": // the wait for a healthy cluster: unhealthy until it ended
			out = append(out, [2]int64{f.Start, f.End})
			continue
		}
		end := max(f.End, f.Start+int64(maxElection)) + int64(catchUp)
		out = append(out, [2]int64{f.Start, end})
	}
	return out
}

// unled lists the windows, ns since run start, in which the run saw no
// leader in contact with a quorum (all: with every replica) — outside the
// leadership stretches (history.Unled) — and a fault may have cost the
// stream its leader or quorum (bound: leaderless). Observation narrows the
// bound, never widens it: a poll unanswered because the observer or a
// busy server was slow, or time after the observer stopped, excuses
// nothing a fault did not. Each window reaches observedCatchUp past its
// end: the leader, again able to commit, finds the overdue messages on its
// next expiry pass (at most 250 ms apart for overdue ones, nats-server's
// resetAgeChk) and the removal must commit.
func unled(stretches []history.Leadership, all bool, bound [][2]int64) [][2]int64 {
	var out [][2]int64
	for _, w := range intersect(history.Unled(stretches, all), bound) {
		out = append(out, [2]int64{w[0], satAdd(w[1], int64(observedCatchUp))})
	}
	return out
}

// observedCatchUp: see unled.
const observedCatchUp = time.Second

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// merged sorts windows and joins those that overlap or touch.
func merged(windows [][2]int64) [][2]int64 {
	sorted := slices.Clone(windows)
	slices.SortFunc(sorted, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]int64
	for _, w := range sorted {
		if n := len(out); n > 0 && w[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], w[1])
			continue
		}
		out = append(out, w)
	}
	return out
}

// intersect is the time both lists of windows cover.
func intersect(a, b [][2]int64) [][2]int64 {
	a, b = merged(a), merged(b)
	var out [][2]int64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		if lo, hi := max(a[i][0], b[j][0]), min(a[i][1], b[j][1]); hi > lo {
			out = append(out, [2]int64{lo, hi})
		}
		if a[i][1] < b[j][1] {
			i++
		} else {
			j++
		}
	}
	return out
}

// overlap is how much of [from, to] the windows cover (counting time that
// several windows cover once).
func overlap(windows [][2]int64, from, to int64) int64 {
	var covered, reach int64 = 0, from
	sorted := slices.Clone(windows)
	slices.SortFunc(sorted, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	for _, w := range sorted {
		lo, hi := max(w[0], reach), min(w[1], to)
		if hi > lo {
			covered += hi - lo
			reach = hi
		}
	}
	return covered
}

func (c *ttlExpiry) add(g *keyGroup) {
	h, ops := g.h, g.r.ops
	writes := map[string]*history.Record{}
	for _, op := range ops {
		// An unknown write that was never seen has no bound on when it was
		// stored (its Complete is when its client gave up): left out.
		if op.TTL > 0 && op.Value != "" && op.Complete > 0 && op.Outcome != history.Fail && (op.Outcome == history.OK || op.Rev != 0) {
			writes[op.Value] = op
		}
	}
	c.written += len(writes)
	c.tol = DefaultTTLTolerance
	if h.Meta != nil && h.Meta.TTLToleranceMs > 0 {
		c.tol = time.Duration(h.Meta.TTLToleranceMs) * time.Millisecond
	}
	if len(writes) == 0 {
		return
	}
	// Where the run watched the stream's leadership, what it saw; else
	// what its faults may have done. Reads through the leader (its gets,
	// the final reads, the following after the run) need a leader with a
	// quorum to have removed the key; a direct get, which any replica may
	// answer, also needs the replica that answered to have the removal:
	// for it, time the leader was out of contact with any replica counts.
	leaderReads := leaderless(h.Faults)
	directGets := leaderReads
	if h.Meta != nil && h.Meta.ObservesLeadership {
		leaderReads, directGets = unled(h.Leadership, false, leaderReads), unled(h.Leadership, true, leaderReads)
		c.observed = true
		c.gaps, c.gapsAll = interior(history.Unled(h.Leadership, false)), interior(history.Unled(h.Leadership, true))
		c.stretches = len(h.Leadership)
	}
	check := func(r *history.Record, who func() string) {
		if !r.Found {
			return
		}
		w, ok := writes[r.Read]
		if !ok {
			return
		}
		c.reads++
		expires := w.Complete + w.TTL
		if r.Invoke <= expires {
			return
		}
		c.afterExpiry++
		late := time.Duration(r.Invoke - expires)
		c.maxLate = max(c.maxLate, late)
		windows := leaderReads
		if r.Kind == history.KindOp && history.PathOf(r) == history.PathDirect {
			windows = directGets
		}
		if late > c.tol && late-time.Duration(overlap(windows, expires, r.Invoke)) <= c.tol {
			c.excused++
			c.maxExcused = max(c.maxExcused, late)
			return
		}
		if late > c.tol {
			c.problems = append(c.problems, fmt.Sprintf("%s of key %q at %.3fs returned %s, written with TTL %s by %.3fs: %s past its expiry (tolerance %s)",
				who(), r.Key, sec(r.Invoke), r.Read, time.Duration(w.TTL), sec(w.Complete), late.Round(time.Millisecond), c.tol))
		}
	}
	for _, op := range ops {
		if op.Op == history.OpGet && op.Outcome == history.OK {
			check(op, func() string { return fmt.Sprintf("get by client %d", op.Client) })
		}
	}
	for i := range h.Final {
		check(&h.Final[i], func() string { return "final read" })
	}
	if h.End == nil {
		return
	}
	// After the run: a key followed until its value went away is not read
	// again, but one still there when the following ended is — the value
	// did not expire while it was watched.
	for _, e := range h.End.Expiry {
		w, ok := writes[e.Read]
		if !ok || w.Key != e.Key {
			continue // another group's key, or a value without a TTL
		}
		expires := w.Complete + w.TTL
		if e.Gone != 0 || e.Seen != 0 {
			c.followed++
		}
		if e.Gone != 0 {
			c.gone++
			c.maxGone = max(c.maxGone, time.Duration(e.Gone-expires))
		}
		if e.Seen != 0 {
			// The last read that still found it: gone later or not, it
			// was there then.
			still := history.Record{Key: e.Key, Found: true, Read: e.Read, Invoke: e.Seen}
			check(&still, func() string { return "the last read of the key after the run that still found it" })
		}
	}
}

func (c *ttlExpiry) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckTTLExpiry}
	if c.written == 0 {
		cr.Result, cr.Detail = Skipped, "no write with a TTL happened"
		return cr, nil
	}
	detail := fmt.Sprintf("%d reads of values written with a TTL; %d after expiry (the latest %s after; tolerance %s)", c.reads, c.afterExpiry, c.maxLate.Round(time.Millisecond), c.tol)
	if c.followed > 0 {
		detail += fmt.Sprintf("; after the run %d of %d keys followed saw their value go away", c.gone, c.followed)
		if c.gone > 0 {
			detail += fmt.Sprintf(", the latest %s after its expiry", c.maxGone.Round(time.Millisecond))
		}
	}
	switch {
	case c.excused > 0 && c.observed:
		detail += fmt.Sprintf("; %d later than the tolerance but while a fault left the stream, as the run saw it, without a leader in contact with a quorum to remove them (for direct gets: with every replica), or within %s after (up to %s after expiry)",
			c.excused, observedCatchUp, c.maxExcused.Round(time.Millisecond))
	case c.excused > 0:
		detail += fmt.Sprintf("; %d later than the tolerance but within a fault that may have left the stream without a leader or quorum to remove them (up to %s after expiry)",
			c.excused, c.maxExcused.Round(time.Millisecond))
	}
	switch {
	case c.observed && c.stretches == 0:
		detail += "; the run never saw the stream's leader in contact with its replicas, so faults' windows are allowed for whole"
	case c.observed:
		detail += fmt.Sprintf("; the stream was seen without a leader in contact with a quorum for %s of the run, with every replica for %s",
			c.gaps.Round(time.Millisecond), c.gapsAll.Round(time.Millisecond))
	}
	if len(c.problems) > 0 {
		cr.Result, cr.Detail = Fail, fmt.Sprintf("%d reads returned a value more than %s past its TTL; ", len(c.problems), c.tol)+detail
		return cr, notesFor(CheckTTLExpiry, c.problems)
	}
	cr.Result, cr.Detail = Pass, detail
	return cr, nil
}

// interior is the time between stretches, the run's edges aside (before
// the first stretch: setting up; after the last: the observer stopped).
func interior(windows [][2]int64) time.Duration {
	var d time.Duration
	for _, w := range windows {
		if w[0] > 0 && w[1] != math.MaxInt64 {
			d += time.Duration(w[1] - w[0])
		}
	}
	return d
}
