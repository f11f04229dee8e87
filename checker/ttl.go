package checker

import (
	"fmt"
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

func checkTTLExpiry(h *history.History, ops []history.Record) (CheckResult, []string) {
	c := CheckResult{Name: CheckTTLExpiry}
	writes := map[string]history.Record{}
	for _, op := range ops {
		// An unknown write that was never seen has no bound on when it was
		// stored (its Complete is when its client gave up): left out.
		if op.TTL > 0 && op.Value != "" && op.Complete > 0 && op.Outcome != history.Fail && (op.Outcome == history.OK || op.Rev != 0) {
			writes[op.Value] = op
		}
	}
	if len(writes) == 0 {
		c.Result, c.Detail = Skipped, "no write with a TTL happened"
		return c, nil
	}
	tol := DefaultTTLTolerance
	if h.Meta != nil && h.Meta.TTLToleranceMs > 0 {
		tol = time.Duration(h.Meta.TTLToleranceMs) * time.Millisecond
	}
	var problems []string
	reads, afterExpiry := 0, 0
	var maxLate time.Duration
	check := func(r history.Record, who string) {
		if !r.Found {
			return
		}
		w, ok := writes[r.Read]
		if !ok {
			return
		}
		reads++
		expires := w.Complete + w.TTL
		if r.Invoke <= expires {
			return
		}
		afterExpiry++
		late := time.Duration(r.Invoke - expires)
		maxLate = max(maxLate, late)
		if late > tol {
			problems = append(problems, fmt.Sprintf("%s of key %q at %.3fs returned %s, written with TTL %s by %.3fs: %s past its expiry (tolerance %s)",
				who, r.Key, sec(r.Invoke), r.Read, time.Duration(w.TTL), sec(w.Complete), late.Round(time.Millisecond), tol))
		}
	}
	for _, op := range ops {
		if op.Op == history.OpGet && op.Outcome == history.OK {
			check(op, fmt.Sprintf("get by client %d", op.Client))
		}
	}
	for _, f := range h.Final {
		check(f, "final read")
	}
	detail := fmt.Sprintf("%d reads of values written with a TTL; %d after expiry (the latest %s after; tolerance %s)", reads, afterExpiry, maxLate.Round(time.Millisecond), tol)
	if len(problems) > 0 {
		c.Result, c.Detail = Fail, fmt.Sprintf("%d reads returned a value more than %s past its TTL; ", len(problems), tol)+detail
		return c, notesFor(CheckTTLExpiry, problems)
	}
	c.Result, c.Detail = Pass, detail
	return c, nil
}
