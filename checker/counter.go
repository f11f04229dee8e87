package checker

import (
	"fmt"
	"sort"

	"github.com/kvharness/kvharness/history"
)

// CheckCounterExact (counter pattern): each increment reads the counter and
// writes count + 1 with a CAS on the revision it read, so every increment
// that happened stores a different count and the final count is the number
// of increments that happened. Acknowledged ones happened; those of unknown
// outcome that the stream shows happened; the rest may or may not have, and
// widen the range the final count must fall in.
const CheckCounterExact = "counter-exact"

type counterExact struct {
	meta       *history.Meta
	end        *history.End
	keys       int
	anyUnknown bool
	summary    []string
	problems   []string
}

func (c *counterExact) add(g *keyGroup) {
	h, ops := g.h, g.r.ops
	c.meta, c.end = h.Meta, h.End
	if h.Meta == nil || h.Meta.Pattern != history.PatternCounter || h.End == nil || !h.End.FinalReads {
		return
	}
	type tally struct {
		happened, unknown int
		countOf           map[int64]string // count -> value of the increment that stored it
	}
	byKey := map[string]*tally{}
	writeOf := map[string]*history.Record{}
	for _, op := range ops {
		if op.Count == 0 || !history.IsWrite(op.Op) || op.Outcome == history.Fail {
			continue
		}
		writeOf[op.Value] = op
		t := byKey[op.Key]
		if t == nil {
			t = &tally{countOf: map[int64]string{}}
			byKey[op.Key] = t
		}
		if op.Outcome == history.Unknown && op.Rev == 0 {
			t.unknown++ // resolution could not tell
			continue
		}
		t.happened++
		if other, dup := t.countOf[op.Count]; dup {
			c.problems = append(c.problems, fmt.Sprintf("key %q: increments %s and %s both stored count %d: one of them overwrote the other (a lost increment)", op.Key, other, op.Value, op.Count))
		}
		t.countOf[op.Count] = op.Value
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c.keys += len(keys)
	finals := map[string]history.Record{}
	for _, f := range h.Final {
		finals[f.Key] = f
	}
	for _, key := range keys {
		t := byKey[key]
		var final int64
		if f := finals[key]; f.Found {
			w, ok := writeOf[f.Read]
			if !ok {
				c.problems = append(c.problems, fmt.Sprintf("key %q: final value %q is not an increment of this run", key, f.Read))
				continue
			}
			final = w.Count
		}
		lo, hi := int64(t.happened), int64(t.happened+t.unknown)
		switch {
		case final < lo:
			c.problems = append(c.problems, fmt.Sprintf("key %q: final count %d, but %d increments happened (%d lost)", key, final, lo, lo-final))
		case final > hi:
			c.problems = append(c.problems, fmt.Sprintf("key %q: final count %d, but at most %d increments happened", key, final, hi))
		}
		line := fmt.Sprintf("%q = %d after %d increments", key, final, t.happened)
		if t.unknown > 0 {
			c.anyUnknown = true
			line += fmt.Sprintf(" (+ %d of unknown outcome: allowed %d..%d)", t.unknown, lo, hi)
		}
		c.summary = append(c.summary, line)
	}
}

func (c *counterExact) result() (CheckResult, []string) {
	cr := CheckResult{Name: CheckCounterExact}
	switch {
	case c.meta == nil || c.meta.Pattern != history.PatternCounter:
		cr.Result, cr.Detail = Skipped, "not a counter scenario"
		return cr, nil
	case c.end == nil || !c.end.FinalReads:
		cr.Result, cr.Detail = Unknown, notRecorded(c.end, "no final read of every key")
		return cr, nil
	case c.keys == 0:
		cr.Result, cr.Detail = Unknown, "no increment happened"
		return cr, nil
	}
	detail := firstFew(c.summary, 3, "; ")
	if c.anyUnknown {
		detail += "; increments of unknown outcome bound the final count to a range"
	}
	if len(c.problems) > 0 {
		cr.Result, cr.Detail = Fail, detail
		return cr, notesFor(CheckCounterExact, c.problems)
	}
	cr.Result, cr.Detail = Pass, detail
	return cr, nil
}
