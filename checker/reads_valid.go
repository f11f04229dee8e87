package checker

import (
	"fmt"

	"github.com/kvharness/kvharness/history"
)

// CheckReadsValid is required on every bucket, replicated or not: a read may
// be stale (direct gets on R3), but it must return something that was
// written — by a write invoked before the read completed, to the same key,
// at the revision that write got.
const CheckReadsValid = "reads-valid"

type readsValid struct {
	reads int
	bad   []string
}

func (c *readsValid) add(g *keyGroup) {
	writes := g.writes
	// whoIs names the reader, only for a problem (a get's name made for
	// every get was a third of this check).
	check := func(r *history.Record, whoIs func() string) {
		if !r.Found {
			return
		}
		c.reads++
		w, ok := writes[r.Read]
		switch {
		case !ok:
			c.bad = append(c.bad, fmt.Sprintf("%s of key %q returned %q at revision %d, which no operation wrote", whoIs(), r.Key, r.Read, r.Rev))
		case w.Key != r.Key:
			c.bad = append(c.bad, fmt.Sprintf("%s of key %q returned %q, written to key %q", whoIs(), r.Key, r.Read, w.Key))
		case w.Outcome == history.Fail:
			c.bad = append(c.bad, fmt.Sprintf("%s of key %q returned %q from a %s that failed (%s)", whoIs(), r.Key, r.Read, w.Op, w.ErrClass))
		case w.Invoke > r.Complete:
			c.bad = append(c.bad, fmt.Sprintf("%s of key %q returned %q before its %s by client %d was invoked", whoIs(), r.Key, r.Read, w.Op, w.Client))
		case !g.r.sameWrite(w, r.Rev):
			c.bad = append(c.bad, fmt.Sprintf("%s of key %q returned %q at revision %d; the write got revision %d", whoIs(), r.Key, r.Read, r.Rev, w.Rev))
		}
	}
	for _, op := range g.r.ops {
		if op.Op == history.OpGet && op.Outcome == history.OK {
			check(op, func() string { return fmt.Sprintf("get by client %d", op.Client) })
		}
	}
	for i := range g.h.Final {
		check(&g.h.Final[i], func() string { return "final read" })
	}
	for i := range g.h.Replicas {
		if r := &g.h.Replicas[i]; r.Error == "" {
			check(r, func() string { return "replica read on " + r.Node })
		}
	}
}

func (c *readsValid) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckReadsValid}
	if len(c.bad) == 0 {
		cr.Result = Pass
		cr.Detail = fmt.Sprintf("%d reads each returned a value written to that key at that revision", c.reads)
		return cr, nil
	}
	cr.Result = Fail
	cr.Detail = fmt.Sprintf("%d of %d reads returned what no write explains; first: %s", len(c.bad), c.reads, c.bad[0])
	return cr, notesFor(CheckReadsValid, c.bad)
}

// pointers points at each record of rs.
func pointers(rs []history.Record) []*history.Record {
	out := make([]*history.Record, len(rs))
	for i := range rs {
		out[i] = &rs[i]
	}
	return out
}

// writesByValue indexes the writes by their value, which is unique per
// write: any read, delivery or History() entry names the write it saw.
func writesByValue(ops []*history.Record) map[string]*history.Record {
	n := 0 // counted first: gets are a third of a busy run's ops
	for _, op := range ops {
		if history.IsWrite(op.Op) && op.Value != "" {
			n++
		}
	}
	writes := make(map[string]*history.Record, n)
	for _, op := range ops {
		if history.IsWrite(op.Op) && op.Value != "" {
			writes[op.Value] = op
		}
	}
	return writes
}
