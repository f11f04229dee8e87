package checker

import (
	"cmp"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// On R3, linearizable-reads is not required, so reads-valid is what catches
// reads no write explains — and refusals-definite a read of a refused write.
func TestReadsValidOnReplicatedBuckets(t *testing.T) {
	tests := []struct {
		name  string
		h     *history.History
		want  Status
		check string // "": reads-valid
	}{
		{"stale read is allowed", replicated(hist(
			put(1, "k", "v1", 1, at(0, 10)), put(1, "k", "v2", 2, at(20, 30)),
			get(2, "k", "v1", 1, at(40, 50)), final("k", "v2", 2))), Pass, ""},
		{"value never written", replicated(hist(
			put(1, "k", "v1", 1, at(0, 10)),
			get(2, "k", "ghost", 1, at(40, 50)), final("k", "v1", 1))), Fail, ""},
		{"value of another key", replicated(hist(
			put(1, "k", "v1", 1, at(0, 10)), put(1, "j", "w1", 2, at(0, 10)),
			get(2, "k", "w1", 2, at(40, 50)), final("k", "v1", 1), final("j", "w1", 2))), Fail, ""},
		{"value of a failed write", replicated(hist(
			put(1, "k", "v1", 1, at(0, 10)), conflict(update(3, "k", "v9", 7, 0, at(12, 14))),
			get(2, "k", "v9", 3, at(40, 50)), final("k", "v1", 1))), Fail, CheckRefusalsDefinite},
		{"value read before its write was invoked", replicated(hist(
			get(2, "k", "v1", 1, at(0, 5)), put(1, "k", "v1", 1, at(10, 20)), final("k", "v1", 1))), Fail, ""},
		{"value at another revision than its write got", replicated(hist(
			put(1, "k", "v1", 1, at(0, 10)),
			get(2, "k", "v1", 5, at(40, 50)), final("k", "v1", 1))), Fail, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := runCheck(t, tc.h)
			check := cmp.Or(tc.check, CheckReadsValid)
			got := checkNamed(t, res, check)
			if got.Result != tc.want || !got.Required {
				t.Fatalf("%s = %s (required %t), want %s: %s", check, got.Result, got.Required, tc.want, got.Detail)
			}
			if tc.want == Fail && res.Verdict != Fail {
				t.Fatalf("verdict %s with a required reads-valid failure", res.Verdict)
			}
		})
	}
}

// A run in which nothing happened is not a pass.
func TestNoOperationsIsNotAPass(t *testing.T) {
	h := hist(finalNone("k"))
	res, _ := runCheck(t, h)
	if res.Verdict == Pass {
		t.Fatalf("empty run passed:\n%s", dump(res))
	}
}

// With every message seen, unknown deletes are settled by counting markers:
// if the acknowledged deletes account for them all, the unknown ones did not
// happen.
func TestUnknownDeletesSettledByCountingMarkers(t *testing.T) {
	h := watchComplete(hist(
		put(1, "k", "v1", 1, at(0, 10)), watch("k", "v1", 1, 5),
		del(2, "k", at(20, 30)), watchMarker("k", history.MarkerDel, 2, 25),
		unknown(del(3, "k", at(40, 0))),
		put(1, "k", "v2", 3, at(50, 60)), watch("k", "v2", 3, 55),
		final("k", "v2", 3),
	))
	res, _ := runCheck(t, h)
	if got := *res.Resolution[history.OpDelete]; got.NotHappened != 1 || got.StillUnknown != 0 {
		t.Fatalf("delete resolution %+v", got)
	}
	if res.Verdict != Pass {
		t.Fatalf("verdict %s", res.Verdict)
	}
	// One more marker than acknowledged deletes: the unknown one may have
	// written it, so it stays unknown.
	h = watchComplete(hist(
		put(1, "k", "v1", 1, at(0, 10)), watch("k", "v1", 1, 5),
		unknown(del(3, "k", at(20, 0))), watchMarker("k", history.MarkerDel, 2, 25),
		finalMarker("k", history.MarkerDel, 2),
	))
	res, _ = runCheck(t, h)
	if got := *res.Resolution[history.OpDelete]; got.StillUnknown != 1 {
		t.Fatalf("delete resolution %+v", got)
	}
	if res.Verdict != Pass {
		t.Fatalf("verdict %s", res.Verdict)
	}
}
