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

func checkReadsValid(ops, finals, replicas []history.Record) (CheckResult, []string) {
	c := CheckResult{Name: CheckReadsValid}
	writes := writesByValue(ops)
	var bad []string
	reads := 0
	check := func(r history.Record, who string) {
		if !r.Found {
			return
		}
		reads++
		w, ok := writes[r.Read]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s of key %q returned %q at revision %d, which no operation wrote", who, r.Key, r.Read, r.Rev))
		case w.Key != r.Key:
			bad = append(bad, fmt.Sprintf("%s of key %q returned %q, written to key %q", who, r.Key, r.Read, w.Key))
		case w.Outcome == history.Fail:
			bad = append(bad, fmt.Sprintf("%s of key %q returned %q from a %s that failed (%s)", who, r.Key, r.Read, w.Op, w.ErrClass))
		case w.Invoke > r.Complete:
			bad = append(bad, fmt.Sprintf("%s of key %q returned %q before its %s by client %d was invoked", who, r.Key, r.Read, w.Op, w.Client))
		case w.Rev != 0 && w.Rev != r.Rev:
			bad = append(bad, fmt.Sprintf("%s of key %q returned %q at revision %d; the write got revision %d", who, r.Key, r.Read, r.Rev, w.Rev))
		}
	}
	for _, op := range ops {
		if op.Op == history.OpGet && op.Outcome == history.OK {
			check(op, fmt.Sprintf("get by client %d", op.Client))
		}
	}
	for _, f := range finals {
		check(f, "final read")
	}
	for _, r := range replicas {
		if r.Error == "" {
			check(r, "replica read on "+r.Node)
		}
	}
	if len(bad) == 0 {
		c.Result = Pass
		c.Detail = fmt.Sprintf("%d reads each returned a value written to that key at that revision", reads)
		return c, nil
	}
	c.Result = Fail
	c.Detail = fmt.Sprintf("%d of %d reads returned what no write explains; first: %s", len(bad), reads, bad[0])
	return c, notesFor(CheckReadsValid, bad)
}

// writesByValue indexes the writes by their value, which is unique per
// write: any read, delivery or History() entry names the write it saw.
func writesByValue(ops []history.Record) map[string]history.Record {
	writes := make(map[string]history.Record, len(ops))
	for _, op := range ops {
		if history.IsWrite(op.Op) && op.Value != "" {
			writes[op.Value] = op
		}
	}
	return writes
}
