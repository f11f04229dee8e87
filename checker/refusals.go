package checker

import (
	"fmt"
	"strings"
	"time"

	"github.com/kvharness/kvharness/history"
)

// CheckRefusalsDefinite: a write the server refused — a CAS conflict, a
// bad request, no responders — was not written. Clients rely on it: a
// refused Update is retried from a fresh read, a refused Create means
// someone else holds the key. A refused write whose value is in the stream
// breaks that promise. It is its own check so that the others, which then
// take the write as one that happened, say whether anything else is wrong.
//
// Creates are the exception, counted in unknown_resolution instead:
// nats.go's Create is two requests, and the second can be refused after the
// first wrote (see resolve).
//
// It was part of reads-valid (a read of a refused write's value) and
// linearizable-writes before it was its own check, so a history or a
// scenario that requires reads-valid or linearizable-writes requires it
// too.
const CheckRefusalsDefinite = "refusals-definite"

type refusalsDefinite struct {
	refused int
	stored  []refusal
	faults  []history.Fault
	seen    bool // every stream message was seen: a stored value cannot hide
}

func (c *refusalsDefinite) add(g *keyGroup) {
	c.refused += g.r.refused
	c.stored = append(c.stored, g.r.refusedStored...)
	c.faults = g.h.Faults
	c.seen = g.h.End != nil && g.h.End.WatchComplete
}

func (c *refusalsDefinite) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckRefusalsDefinite}
	switch {
	case c.refused == 0:
		// A pass, not skipped: a required check that is skipped makes the
		// verdict unknown, and nothing here is left undecided.
		cr.Result, cr.Detail = Pass, "no write was refused"
		return cr, nil
	case len(c.stored) == 0:
		cr.Result = Pass
		cr.Detail = fmt.Sprintf("none of %d refused writes is in the stream", c.refused)
		if !c.seen {
			cr.Detail += " (the recording watcher missed messages: a refused write overwritten and discarded since would not be seen)"
		}
		return cr, nil
	}
	problems := make([]string, len(c.stored))
	for i, r := range c.stored {
		problems[i] = c.describe(r)
	}
	cr.Result = Fail
	cr.Detail = fmt.Sprintf("%d of %d refused writes are in the stream anyway; first: %s", len(c.stored), c.refused, problems[0])
	if after := c.afterHeals(); after != "" {
		cr.Detail += "; " + after
	}
	return cr, notesFor(CheckRefusalsDefinite, problems)
}

func (c *refusalsDefinite) describe(r refusal) string {
	op := r.op
	expect := ""
	if op.HasExpect {
		expect = fmt.Sprintf(", expecting revision %d", op.ExpectRev)
	}
	return fmt.Sprintf("client %d %s of key %q (value %q%s) refused at %.3fs with %s (%s) is revision %d",
		op.Client, op.Op, op.Key, op.Value, expect, float64(op.Complete)/1e9, shortError(op.Error), op.ErrClass, r.seen.rev)
}

// afterHeals says how the refusals sit against the faults: refusals that
// came soon after a fault healed point at a deposed leader still answering.
func (c *refusalsDefinite) afterHeals() string {
	within, worst := 0, int64(0)
	for _, r := range c.stored {
		lag, ok := sinceHeal(c.faults, r.op.Complete)
		if ok && lag <= refusalHealWindow {
			within++
			worst = max(worst, lag)
		}
	}
	if within == 0 {
		return ""
	}
	return fmt.Sprintf("%d of them within %.2fs after a fault healed (a stream leader cut off by the fault may answer before it learns it was replaced)",
		within, float64(worst)/1e9)
}

// refusalHealWindow is how soon after a fault's end a refusal counts as
// "right after it healed" in the check's detail.
const refusalHealWindow = int64(5 * time.Second)

// sinceHeal is how long before at the latest fault ended (false: none had).
func sinceHeal(faults []history.Fault, at int64) (int64, bool) {
	best, ok := int64(0), false
	for _, f := range faults {
		if f.Kind == "heal" || f.End > at {
			continue
		}
		if lag := at - f.End; !ok || lag < best {
			best, ok = lag, true
		}
	}
	return best, ok
}

// shortError is the server's answer in a client error: "err_code=N
// description" for a JetStream API error, else the error without nats.go's
// "nats: " prefixes.
func shortError(err string) string {
	if i := strings.Index(err, "err_code="); i >= 0 {
		code, rest, _ := strings.Cut(err[i:], " ")
		desc := ""
		if d, ok := strings.CutPrefix(rest, "description="); ok {
			desc, _, _ = strings.Cut(d, ":")
		}
		return strings.TrimSpace(code + " " + desc)
	}
	for strings.HasPrefix(err, "nats: ") {
		err = strings.TrimPrefix(err, "nats: ")
	}
	return err
}
