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

func checkCounterExact(h *history.History, ops []history.Record) (CheckResult, []string) {
	c := CheckResult{Name: CheckCounterExact}
	if h.Meta == nil || h.Meta.Pattern != history.PatternCounter {
		c.Result, c.Detail = Skipped, "not a counter scenario"
		return c, nil
	}
	if h.End == nil || !h.End.FinalReads {
		c.Result, c.Detail = Unknown, "no final reads: the run did not finish"
		return c, nil
	}
	type tally struct {
		happened, unknown int
		countOf           map[int64]string // count -> value of the increment that stored it
	}
	byKey := map[string]*tally{}
	writeOf := map[string]history.Record{}
	var problems []string
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
			problems = append(problems, fmt.Sprintf("key %q: increments %s and %s both stored count %d: one of them overwrote the other (a lost increment)", op.Key, other, op.Value, op.Count))
		}
		t.countOf[op.Count] = op.Value
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	finals := map[string]history.Record{}
	for _, f := range h.Final {
		finals[f.Key] = f
	}
	var summary []string
	anyUnknown := false
	for _, key := range keys {
		t := byKey[key]
		var final int64
		if f := finals[key]; f.Found {
			w, ok := writeOf[f.Read]
			if !ok {
				problems = append(problems, fmt.Sprintf("key %q: final value %q is not an increment of this run", key, f.Read))
				continue
			}
			final = w.Count
		}
		lo, hi := int64(t.happened), int64(t.happened+t.unknown)
		switch {
		case final < lo:
			problems = append(problems, fmt.Sprintf("key %q: final count %d, but %d increments happened (%d lost)", key, final, lo, lo-final))
		case final > hi:
			problems = append(problems, fmt.Sprintf("key %q: final count %d, but at most %d increments happened", key, final, hi))
		}
		line := fmt.Sprintf("%q = %d after %d increments", key, final, t.happened)
		if t.unknown > 0 {
			anyUnknown = true
			line += fmt.Sprintf(" (+ %d of unknown outcome: allowed %d..%d)", t.unknown, lo, hi)
		}
		summary = append(summary, line)
	}
	if len(byKey) == 0 {
		c.Result, c.Detail = Unknown, "no increment happened"
		return c, nil
	}
	detail := firstFew(summary, 3, "; ")
	if anyUnknown {
		detail += "; increments of unknown outcome bound the final count to a range"
	}
	if len(problems) > 0 {
		c.Result, c.Detail = Fail, detail
		return c, notesFor(CheckCounterExact, problems)
	}
	c.Result, c.Detail = Pass, detail
	return c, nil
}
