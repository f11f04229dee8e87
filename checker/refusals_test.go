package checker

import (
	"strings"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// busy turns a write into the refusal an R3 stream leader answers with
// 10164, as nats.go reports it.
func busy(r history.Record) history.Record {
	r.Outcome, r.Rev = history.Fail, 0
	r.Error, r.ErrClass = "nats: nats: API error: code=400 err_code=10164 description=wrong last sequence: nats: key revision mismatch", history.ClassBusy
	return r
}

// The shape recorded on nats-server 2.15.2 (the built-in partition-leader,
// seed 2): after a partition healed, updates refused with 10164 within a
// millisecond were stored by the new stream leader.
func refusedButStored() *history.History {
	h := watchComplete(hist(
		put(1, "k", "a", 1, at(10, 12)),
		watch("k", "a", 1, 13),
		busy(update(2, "k", "b", 1, 0, at(1_000, 1_001))), // refused, yet stored at 2
		watch("k", "b", 2, 1_002),
		get(3, "k", "b", 2, at(1_005, 1_006)),
		conflict(update(1, "k", "c", 1, 0, at(1_010, 1_011))), // refused, not stored
		update(1, "k", "d", 2, 3, at(1_020, 1_022)),
		watch("k", "d", 3, 1_023),
		final("k", "d", 3),
	))
	h.Faults = []history.Fault{{Kind: "partition", Target: "n2", Start: ms(200), End: ms(999)}}
	return h
}

func TestRefusedWriteInTheStreamFailsOneCheck(t *testing.T) {
	res, _ := runCheck(t, refusedButStored())
	// The anomaly is reported once, by its own check; the others take the
	// write as one that happened and find nothing else wrong.
	wantStatus(t, res, map[string]Status{
		CheckRefusalsDefinite:   Fail,
		CheckLinearizableWrites: Pass,
		CheckLinearizableReads:  Pass,
		CheckReadsValid:         Pass,
		CheckNoLostWrites:       Pass,
		CheckRevisionsUnique:    Pass,
	})
	c := checkNamed(t, res, CheckRefusalsDefinite)
	for _, want := range []string{"1 of 2 refused writes", `update of key "k" (value "b", expecting revision 1)`, "err_code=10164", "is revision 2", "within 0.00s after a fault healed"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("detail %q lacks %q", c.Detail, want)
		}
	}
	if !c.Required || res.Verdict != Fail {
		t.Errorf("required = %v, verdict = %s; a refused write that was stored fails the run", c.Required, res.Verdict)
	}
}

func TestRefusedWritesNotInTheStreamPass(t *testing.T) {
	h := refusedButStored()
	h.Ops = h.Ops[:0]
	h.Watch = h.Watch[:0]
	for _, r := range []history.Record{
		put(1, "k", "a", 1, at(10, 12)),
		busy(update(2, "k", "b", 1, 0, at(1_000, 1_001))),
		conflict(update(1, "k", "c", 5, 0, at(1_010, 1_011))),
		update(1, "k", "d", 1, 2, at(1_020, 1_022)),
	} {
		h.Ops = append(h.Ops, r)
	}
	h.Watch = append(h.Watch, watch("k", "a", 1, 13), watch("k", "d", 2, 1_023))
	h.Final = []history.Record{final("k", "d", 2)}
	h.End.LastSeq = 2
	res, _ := runCheck(t, h)
	wantStatus(t, res, map[string]Status{CheckRefusalsDefinite: Pass, CheckLinearizableWrites: Pass, CheckReadsValid: Pass})
	if c := checkNamed(t, res, CheckRefusalsDefinite); !strings.Contains(c.Detail, "none of 2 refused writes") {
		t.Errorf("detail: %s", c.Detail)
	}
}

// A required list from before the check existed (a recorded history's meta
// line, a scenario's expect list) requires it wherever it requires
// reads-valid or linearizable-writes, which used to catch the same write: an
// old history re-checked must not pass where it failed.
func TestOldRequiredListsRequireRefusalsDefinite(t *testing.T) {
	for _, old := range [][]string{{CheckLinearizableWrites, CheckReadsValid}, {CheckLinearizableWrites}, {CheckReadsValid}} {
		h := refusedButStored()
		h.Meta.Required = old
		res, _ := runCheck(t, h)
		if c := checkNamed(t, res, CheckRefusalsDefinite); !c.Required || res.Verdict != Fail {
			t.Errorf("required list %v: refusals-definite required = %v, verdict = %s", old, c.Required, res.Verdict)
		}
	}
}

func TestShortError(t *testing.T) {
	got := shortError("nats: nats: API error: code=400 err_code=10164 description=wrong last sequence: nats: key revision mismatch")
	if got != "err_code=10164 wrong last sequence" {
		t.Errorf("shortError = %q", got)
	}
	if got := shortError("nats: no responders available for request"); got != "no responders available for request" {
		t.Errorf("shortError = %q", got)
	}
}

// Under faults the recording watcher misses messages; a get that returned
// the refused write's value is evidence enough.
func TestRefusedWriteReadByAGetFails(t *testing.T) {
	h := hist(
		put(1, "k", "a", 1, at(10, 12)),
		busy(update(2, "k", "b", 1, 0, at(1_000, 1_001))),
		get(3, "k", "b", 2, at(1_005, 1_006)),
		final("k", "b", 2),
	)
	h.Final = nil // nothing but the get shows "b"
	h.End.FinalReads = false
	res, _ := runCheck(t, h)
	wantStatus(t, res, map[string]Status{CheckRefusalsDefinite: Fail, CheckReadsValid: Pass})
	if c := checkNamed(t, res, CheckRefusalsDefinite); !strings.Contains(c.Detail, "is revision 2") {
		t.Errorf("detail: %s", c.Detail)
	}
}

// Checked from a file, a group at a time, the refusal is described as
// checked in memory: the check keeps its own copy of the write, not a
// pointer into a group whose lists are recycled (poisoned in these tests).
func TestRefusedWriteDescribedFromAFile(t *testing.T) {
	h := refusedButStored()
	h.Ops = append(h.Ops, put(4, "other", "x", 4, at(2_000, 2_001))) // a second group, checked after k's
	h.Watch = append(h.Watch, watch("other", "x", 4, 2_002))
	h.Final = append(h.Final, final("other", "x", 4))
	h.Meta.Keys = []string{"k", "other"}
	mem, _ := runCheck(t, h)
	file := checkFileSpans(t, h, noSpans)
	want, got := checkNamed(t, mem, CheckRefusalsDefinite), checkNamed(t, file, CheckRefusalsDefinite)
	if got.Result != Fail || got.Detail != want.Detail {
		t.Errorf("from a file: %s %q\nin memory: %s %q", got.Result, got.Detail, want.Result, want.Detail)
	}
	if file.Groups < 2 {
		t.Errorf("checked in %d groups: the refusal's group was not followed by another", file.Groups)
	}
}
