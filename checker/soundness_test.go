// Tests of what the checker must catch across keys and records: the
// bucket's revision order, writes lost at a revision that holds another
// message, watch order, keys with TTLs left out one by one.

package checker

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// TestRevisionOrder: a write invoked after a revision was seen — by an
// acknowledgement, a get or a watcher, of any key — must get a higher one;
// writes that overlap may get theirs in either order.
func TestRevisionOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		h      func() *history.History
		want   Status
		detail string
	}{
		{"ack then write to another key", func() *history.History {
			return hist(put(1, "k1", "a", 5, at(0, 1)), put(2, "k2", "b", 4, at(3, 4)),
				final("k1", "a", 5), final("k2", "b", 4))
		}, Fail, `put "b" of key "k2" by client 2, invoked at 0.003s, got revision 4, but revision 5 was seen in millisecond 0.001s (the acknowledgement of a write of key "k1" to client 1)`},
		{"get then write", func() *history.History {
			return hist(put(1, "k1", "a", 5, at(0, 10)), get(3, "k1", "a", 5, at(2, 3)), put(2, "k2", "b", 4, at(5, 6)),
				final("k1", "a", 5), final("k2", "b", 4))
		}, Fail, `revision 5 was seen in millisecond 0.003s (a get of key "k1" by client 3)`},
		{"delivery then write", func() *history.History {
			return hist(put(1, "k1", "a", 5, at(0, 10)), watch("k1", "a", 5, 2), put(2, "k2", "b", 3, at(4, 6)),
				final("k1", "a", 5), final("k2", "b", 3))
		}, Fail, `the recording watcher's delivery of key "k1"`},
		{"ack and get in one millisecond: the first is named", func() *history.History {
			return hist(put(1, "k1", "a", 5, at(0, 1)), get(3, "k1", "a", 5, at(0, 1)), put(2, "k2", "b", 4, at(3, 4)),
				final("k1", "a", 5), final("k2", "b", 4))
		}, Fail, `revision 5 was seen in millisecond 0.001s (the acknowledgement of a write of key "k1" to client 1)`},
		{"overlapping writes in either order", func() *history.History {
			return hist(put(1, "k1", "a", 5, at(0, 10)), put(2, "k2", "b", 4, at(2, 8)), put(3, "k3", "c", 6, at(11, 12)),
				final("k1", "a", 5), final("k2", "b", 4), final("k3", "c", 6))
		}, Pass, "3 writes each got a revision above"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := runCheck(t, tc.h())
			c := checkNamed(t, res, CheckRevisionOrder)
			if c.Result != tc.want || !c.Required || !strings.Contains(c.Detail, tc.detail) {
				t.Errorf("%s (required %v): %s\nwant %s with %q", c.Result, c.Required, c.Detail, tc.want, tc.detail)
			}
			// Read from a file, one key per group, who saw the revision
			// is found by reading the file again: the same words.
			path := filepath.Join(t.TempDir(), "history.jsonl")
			writeHistory(t, path, tc.h())
			apart, _, err := CheckFile(context.Background(), path, FileOptions{Options: Options{Timeout: 10 * time.Second}, GroupRecords: 1})
			if err != nil {
				t.Fatal(err)
			}
			if apart.Groups < 2 {
				t.Fatalf("checked in %d group(s), want each key apart", apart.Groups)
			}
			inFile := checkNamed(t, apart, CheckRevisionOrder)
			if inFile.Result != c.Result || inFile.Detail != c.Detail {
				t.Errorf("from the file, in groups: %s: %s\nin memory: %s: %s", inFile.Result, inFile.Detail, c.Result, c.Detail)
			}
		})
	}
}

// The order holds across keys checked in different groups: the timeline is
// a fact of the whole history.
func TestRevisionOrderAcrossGroups(t *testing.T) {
	h := hist(put(1, "k1", "a", 5, at(0, 1)), put(2, "k2", "b", 4, at(3, 4)), final("k1", "a", 5), final("k2", "b", 4))
	res := checkFileInGroups(t, h, 2)
	if res.Groups < 2 {
		t.Fatalf("checked in %d group(s), want the two keys apart", res.Groups)
	}
	if c := checkNamed(t, res, CheckRevisionOrder); c.Result != Fail {
		t.Errorf("across groups: %s (%s)", c.Result, c.Detail)
	}
}

// A write acknowledged at a revision that, per any other record, holds
// another message is lost, even when its key was overwritten since and the
// final read agrees with the writes — as when servers lost acknowledged
// writes in a crash and reused their sequences. Checked whole and in
// groups that put the two keys apart.
func TestLostWriteWhoseRevisionHoldsAnotherMessage(t *testing.T) {
	h := hist(
		put(1, "k1", "a", 3, at(0, 1)),
		put(1, "k1", "b", 5, at(2, 3)),
		put(2, "k2", "c", 6, at(4, 5)),
		final("k1", "b", 5), final("k2", "c", 6),
	)
	// After a crash, revision 3 came back holding a message of k2 (the
	// watcher had a gap: it is not complete).
	h.Watch = append(h.Watch, watch("k2", "x", 3, 7))
	res, _ := runCheck(t, h)
	c := checkNamed(t, res, CheckNoLostWrites)
	if c.Result != Fail || !strings.Contains(c.Detail, `put "a" by client 1 acknowledged at revision 3, but revision 3 holds`) {
		t.Errorf("checked whole: %s (%s)", c.Result, c.Detail)
	}
	res = checkFileInGroups(t, h, 4)
	if c := checkNamed(t, res, CheckNoLostWrites); res.Groups < 2 || c.Result != Fail || !strings.Contains(c.Detail, `a message of key "k2"`) {
		t.Errorf("checked in %d groups: %s (%s)", res.Groups, c.Result, c.Detail)
	}

	// A run killed before its final reads still proves this loss.
	killed := *h
	killed.Final, killed.End = nil, nil
	res, _ = runCheck(t, &killed)
	if c := checkNamed(t, res, CheckNoLostWrites); c.Result != Fail || !strings.Contains(c.Detail, "did not finish") {
		t.Errorf("killed before the final reads: %s (%s)", c.Result, c.Detail)
	}

	// Without the conflicting delivery it passes, and says what a watch
	// stream with gaps leaves unestablished.
	h.Watch = nil
	res, _ = runCheck(t, h)
	if c := checkNamed(t, res, CheckNoLostWrites); c.Result != Pass || !strings.Contains(c.Detail, "the watch stream has gaps") {
		t.Errorf("no conflict: %s (%s)", c.Result, c.Detail)
	}
}

// The recording watcher is one ordered consumer of the bucket: a delivery
// below one it made before, for another key, is out of the stream's order,
// whichever group of keys each one falls in.
func TestRecordingWatcherOutOfStreamOrder(t *testing.T) {
	h := hist(put(1, "k1", "a", 1, at(0, 1)), put(2, "k2", "b", 2, at(0, 1)),
		watch("k2", "b", 2, 2), watch("k1", "a", 1, 3),
		final("k1", "a", 1), final("k2", "b", 2))
	res, _ := runCheck(t, h)
	want := `the recording watcher delivered revision 1 (key "k1") at 0.003s after revision 2 (key "k2")`
	if c := checkNamed(t, res, CheckRevisionOrder); c.Result != Fail || !strings.Contains(c.Detail, want) {
		t.Errorf("checked whole: %s (%s)", c.Result, c.Detail)
	}
	res = checkFileInGroups(t, h, 3)
	if c := checkNamed(t, res, CheckRevisionOrder); res.Groups < 2 || c.Result != Fail || !strings.Contains(c.Detail, want) {
		t.Errorf("in %d groups: %s (%s)", res.Groups, c.Result, c.Detail)
	}
	// In stream order it passes.
	h.Watch[0], h.Watch[1] = h.Watch[1], h.Watch[0]
	h.Watch[0].At, h.Watch[1].At = h.Watch[1].At, h.Watch[0].At
	res, _ = runCheck(t, h)
	if c := checkNamed(t, res, CheckRevisionOrder); c.Result != Pass {
		t.Errorf("in order: %s (%s)", c.Result, c.Detail)
	}
}

// Keys written with a TTL are left to ttl-expiry; the other keys of the
// same history are still held to linearizability (one TTL write used to
// skip the checks for every key).
func TestTTLKeysLeftOutOneByOne(t *testing.T) {
	ttl := func(r history.Record) history.Record { r.TTL = int64(2 * time.Second); return r }
	legal := hist(ttl(put(1, "a", "x", 1, at(0, 1))), put(1, "b", "v1", 2, at(2, 3)), put(1, "b", "v2", 3, at(4, 5)),
		final("a", "x", 1), final("b", "v2", 3))
	res, _ := runCheck(t, legal)
	if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != Pass || !strings.Contains(c.Detail, "1 keys written with a TTL left out") {
		t.Errorf("legal: %s (%s)", c.Result, c.Detail)
	}
	// b's acknowledged v2 is overwritten by nothing, yet b ends at v1.
	illegal := hist(ttl(put(1, "a", "x", 1, at(0, 1))), put(1, "b", "v1", 2, at(2, 3)), put(1, "b", "v2", 3, at(4, 5)),
		final("a", "x", 1), final("b", "v1", 2))
	res, _ = runCheck(t, illegal)
	if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != Fail || !strings.Contains(c.Detail, `"b"`) {
		t.Errorf("illegal key without TTL: %s (%s)", c.Result, c.Detail)
	}
	// Every key with a TTL: nothing left to check.
	all := hist(ttl(put(1, "a", "x", 1, at(0, 1))), final("a", "x", 1))
	res, _ = runCheck(t, all)
	if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != Skipped {
		t.Errorf("all keys with a TTL: %s (%s)", c.Result, c.Detail)
	}
}

// The messages the stream kept after the run are a suffix of each key's,
// which lets an unknown write that is not among them be called "did not
// happen" — but not on a key written with a TTL: there the value can have
// expired while an older delete marker stays.
func TestRetainedWindowLeavesTTLKeysOut(t *testing.T) {
	ttl := func(r history.Record) history.Record { r.TTL = int64(time.Second); return r }
	build := func(withTTL bool) *history.History {
		w := unknown(put(2, "k", "u", 0, at(20, 0)))
		if withTTL {
			w = ttl(w)
		}
		// The delete's marker is revision 1; "u" took revision 2 and
		// expired; the stream kept the marker.
		h := hist(del(1, "k", at(0, 10)), w, put(3, "other", "o", 3, at(5000, 5001)), finalMarker("k", history.MarkerDel, 1), final("other", "o", 3))
		h.Watch = append(h.Watch, watchMarker("k", history.MarkerDel, 1, 11))
		h.End.StoredComplete = true
		h.Stored = []history.Record{{Kind: history.KindStored, Key: "k", Rev: 1, Marker: history.MarkerDel, At: ms(finalComp)},
			{Kind: history.KindStored, Key: "other", Rev: 3, Read: "o", Found: true, At: ms(finalComp)}}
		return h
	}
	res, _ := runCheck(t, build(false))
	if got := *res.Resolution[history.OpPut]; got.NotHappened != 1 {
		t.Fatalf("without a TTL the suffix rule decides: %+v", got)
	}
	res, _ = runCheck(t, build(true))
	if got := *res.Resolution[history.OpPut]; got != (Resolution{StillUnknown: 1}) {
		t.Errorf("with a TTL: %+v, want still unknown", got)
	}
}

// Session guarantees per client and key: a client's get never goes below
// a revision it read before (monotonic-reads) or one it wrote and had
// acknowledged (read-your-writes). Required where reads are (R1), measured
// and reported on R3, where direct gets may come from a replica behind.
func TestSessionGuarantees(t *testing.T) {
	goesBack := func() *history.History {
		return hist(
			put(1, "k", "v1", 1, at(0, 1)),
			put(1, "k", "v2", 2, at(2, 3)),
			get(2, "k", "v2", 2, at(4, 5)),
			get(2, "k", "v1", 1, at(6, 7)), // client 2 read v2 before
			get(1, "k", "v1", 1, at(8, 9)), // client 1 wrote v2 before
			final("k", "v2", 2),
		)
	}
	res, _ := runCheck(t, goesBack())
	for name, want := range map[string]string{
		CheckMonotonicReads: `client 2, key "k": get (direct) at 0.006s returned revision 1, below revision 2 it had read`,
		CheckReadYourWrites: `client 1, key "k": get (direct) at 0.008s returned revision 1, below revision 2 it had written`,
	} {
		c := checkNamed(t, res, name)
		if c.Result != Fail || !c.Required || !strings.Contains(c.Detail, "direct gets: 1 of 3 went back") || !notesContain(res, name, want) {
			t.Errorf("R1: %s %s (required %v): %s\nnotes: %v", name, c.Result, c.Required, c.Detail, res.Notes)
		}
	}
	res, _ = runCheck(t, replicated(goesBack()))
	if c := checkNamed(t, res, CheckMonotonicReads); c.Result != Fail || c.Required {
		t.Errorf("R3: monotonic-reads %s, required %v: reported, not required", c.Result, c.Required)
	}
	// In order, both hold.
	inOrder := hist(put(1, "k", "v1", 1, at(0, 1)), get(2, "k", "v1", 1, at(2, 3)), put(1, "k", "v2", 2, at(4, 5)),
		get(1, "k", "v2", 2, at(6, 7)), get(2, "k", "v2", 2, at(8, 9)), final("k", "v2", 2))
	res, _ = runCheck(t, inOrder)
	wantStatus(t, res, map[string]Status{CheckMonotonicReads: Pass, CheckReadYourWrites: Pass})
}

// What the scenario's watchers, History() and the replicas saw of the
// stream counts as the recording watcher's does: for knowing every
// message (the key sequences, and counting delete markers), and for
// resolving unknown writes.
func TestEveryReadOfTheStreamFeedsResolution(t *testing.T) {
	// The recording watcher missed revision 2, a delete's marker that a
	// scenario watcher delivered; with it every message is known, and the
	// one marker is the acknowledged delete's: the unknown delete did not
	// happen.
	h := hist(
		put(1, "k", "v1", 1, at(0, 10)),
		del(2, "k", at(20, 30)),
		unknown(del(3, "k", at(60, 0))),
		put(1, "k", "v3", 3, at(100, 110)),
		watch("k", "v1", 1, 11), watch("k", "v3", 3, 111),
		final("k", "v3", 3),
	)
	h.Meta.Watchers = []history.WatcherSpec{{Keys: []string{"k"}}}
	addRecs(h, history.Record{Kind: history.KindWatch, Watcher: 1, Key: "k", Rev: 2, Marker: history.MarkerDel, At: ms(31)})
	res, _ := runCheck(t, h)
	if got := res.Resolution[history.OpDelete]; got == nil || *got != (Resolution{NotHappened: 1}) {
		t.Errorf("a scenario watcher's delivery completes the stream: delete resolution %+v, want 1 not happened\n%s", got, dump(res))
	}
	if c := checkNamed(t, res, CheckLinearizableReads); c.Result != Pass || !strings.Contains(c.Detail, "message sequence") {
		t.Errorf("linearizable-reads: %s (%s)", c.Result, c.Detail)
	}

	// An unknown write only History() shows after the run happened.
	h = hist(
		put(1, "k", "v1", 1, at(0, 10)),
		unknown(put(2, "k", "v2", 0, at(20, 0))),
		put(1, "k", "v3", 3, at(100, 110)),
		final("k", "v3", 3),
	)
	addRecs(h, history.Record{Kind: history.KindHistory, Key: "k", Rev: 2, Read: "v2", At: ms(finalComp)},
		history.Record{Kind: history.KindHistory, Key: "k", Rev: 3, Read: "v3", At: ms(finalComp)})
	res, _ = runCheck(t, h)
	if got := res.Resolution[history.OpPut]; got == nil || got.Happened != 1 {
		t.Errorf("History() shows the unknown put: resolution %+v, want 1 happened", got)
	}
}

// Unknown deletes are resolved by counting markers only where every
// message is known. A complete watch is not enough when the stream's
// revisions are beyond what the facts index (no key sequences): there no
// marker would be counted, and a delete whose marker is in plain sight
// would be called "did not happen".
func TestDeletesResolvedOnlyWithSequences(t *testing.T) {
	const base = maxFactRev + 10
	h := hist(
		put(1, "k", "v1", base+1, at(0, 10)),
		unknown(del(2, "k", at(20, 0))),
		watch("k", "v1", base+1, 11), watchMarker("k", history.MarkerDel, base+2, 25),
		finalMarker("k", history.MarkerDel, base+2),
	)
	watchComplete(h)
	res, _ := runCheck(t, h)
	if got := res.Resolution[history.OpDelete]; got == nil || *got != (Resolution{StillUnknown: 1}) {
		t.Errorf("delete resolution %+v, want still unknown", got)
	}
	if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != Pass {
		t.Errorf("linearizable-writes: %s (%s)", c.Result, c.Detail)
	}
}

// A CAS refusal that names the key's revision ("wrong last sequence: N")
// says the key had reached it: checked by the sweep and by the search
// alike. A refusal whose text names no revision is one whose
// precondition was never compared (busy), whatever its code.
func TestRefusalNamesTheKeysRevision(t *testing.T) {
	base := func(refusal history.Record) *history.History {
		return hist(
			put(1, "k", "v1", 1, at(0, 10)),
			put(1, "k", "v2", 2, at(20, 30)),
			refusal,
			put(1, "k", "v3", 3, at(100, 110)),
			final("k", "v3", 3),
		)
	}
	for _, tc := range []struct {
		name    string
		refusal history.Record
		want    Status
	}{
		{"the revision the key held", conflictAt(update(2, "k", "x", 1, 0, at(40, 50)), 2), Pass},
		// Between v2's acknowledgement and v3's invocation the key was at
		// 2; a refusal then that names 3 saw a message not yet written.
		{"a revision the key did not hold yet", conflictAt(update(2, "k", "x", 1, 0, at(40, 50)), 3), Fail},
		// An older revision than the key's: a stream leader that was cut
		// off answers from its stale store; it refuses nothing it should
		// not, so this is no violation.
		{"an older revision (a stale leader)", conflictAt(update(2, "k", "x", 3, 0, at(40, 50)), 1), Pass},
		// The server says the key was at the expected revision, yet refused.
		{"the expected revision", conflictAt(update(2, "k", "x", 2, 0, at(40, 50)), 2), Fail},
		// A create's first request expects nothing yet.
		{"a create", conflictAt(create(2, "k", "x", 0, at(40, 50)), 2), Pass},
		// No number: never compared, so refusing the right expectation is no
		// violation (a bare "wrong last sequence", as 10164 and older
		// releases' in-flight refusals answer).
		{"no revision named", func() history.Record {
			r := conflict(update(2, "k", "x", 2, 0, at(40, 50)))
			r.Error = "nats: API error: code=400 err_code=10071 description=wrong last sequence"
			return r
		}(), Pass},
	} {
		h := base(tc.refusal)
		for _, sweep := range []bool{true, false} {
			res := Check(h, Options{Timeout: 10 * time.Second, searchOnly: !sweep, eachAlone: true})
			if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != tc.want {
				t.Errorf("%s (sweep %t): %s (%s), want %s", tc.name, sweep, c.Result, c.Detail, tc.want)
			}
		}
	}
}

// A watcher may skip a revision only if the stream no longer held it when
// the watcher went past it: with history 2, revision 3 is gone only once
// two newer messages of its key were stored. Here only one was when the
// watcher delivered revision 4; the fifth came later, so by the end the
// bucket holds 4 and 5 and the check of what it holds sees nothing wrong.
func TestWatcherSkipsOnlyWhatTheStreamDropped(t *testing.T) {
	build := func(fifthAt int64) *history.History {
		h := hist(
			put(1, "k", "v1", 1, at(0, 10)), put(1, "k", "v2", 2, at(20, 30)), put(1, "k", "v3", 3, at(40, 50)),
			put(1, "k", "v4", 4, at(60, 70)), put(2, "k", "v5", 5, at(fifthAt, fifthAt+10)),
			final("k", "v5", 5),
		)
		h.Meta.History = 2
		h.Meta.Watchers = []history.WatcherSpec{{ID: 1, Mode: history.WatchHistory}}
		h.End.StoredComplete = true
		h.Stored = []history.Record{stored("k", "v4", 4), stored("k", "v5", 5)}
		return addRecs(h, delivered(1, "k", "v1", 1, 11), delivered(1, "k", "v2", 2, 31), delivered(1, "k", "v4", 4, 90),
			delivered(1, "k", "v5", 5, max(fifthAt+11, 91)))
	}
	res, _ := runCheck(t, build(200))
	if c := checkNamed(t, res, CheckWatchComplete); c.Result != Fail || !notesContain(res, "skipped revision 3, still in the stream") {
		t.Errorf("skipped while held: %s (%s)\n%s", c.Result, c.Detail, dump(res))
	}
	// v5 written before the watcher went past 3: two newer messages, gone.
	res, _ = runCheck(t, build(62))
	if c := checkNamed(t, res, CheckWatchComplete); c.Result != Pass {
		t.Errorf("skipped once dropped: %s (%s)\n%s", c.Result, c.Detail, dump(res))
	}

	// The recording watcher is held to the same, in revision-order.
	recording := func(fifthAt int64) *history.History {
		h := build(fifthAt)
		h.Meta.Watchers, h.Delivered = nil, nil
		h.Watch = []history.Record{watch("k", "v1", 1, 11), watch("k", "v2", 2, 31), watch("k", "v4", 4, 90), watch("k", "v5", 5, max(fifthAt+11, 91))}
		return h
	}
	res, _ = runCheck(t, recording(200))
	if c := checkNamed(t, res, CheckRevisionOrder); c.Result != Fail || !strings.Contains(c.Detail, "the recording watcher skipped 1 revisions the stream still held") {
		t.Errorf("the recording watcher skipped while held: %s (%s)", c.Result, c.Detail)
	}
	res, _ = runCheck(t, recording(62))
	if c := checkNamed(t, res, CheckRevisionOrder); c.Result != Pass {
		t.Errorf("the recording watcher skipped once dropped: %s (%s)", c.Result, c.Detail)
	}
}

// conflictOf on the texts real refusals carry (nats.go v1.55.0 wrapping).
func TestConflictOfServerTexts(t *testing.T) {
	for _, tc := range []struct {
		class, text string
		conflict    bool
		rev         uint64
	}{
		{history.ClassConflict, "nats: nats: API error: code=400 err_code=10071 description=wrong last sequence: 10486: nats: key revision mismatch", true, 10486},
		{history.ClassConflict, "nats: nats: API error: code=400 err_code=10071 description=wrong last sequence: 7: key exists", true, 7},
		{history.ClassConflict, "nats: nats: API error: code=400 err_code=10071 description=wrong last sequence: 12", true, 12},
		{history.ClassConflict, "nats: API error: code=400 err_code=10071 description=wrong last sequence", false, 0},
		{history.ClassConflict, "wrong last sequence: nats: key revision mismatch", false, 0},
		{history.ClassConflict, "", true, 0},
		{history.ClassBusy, "nats: nats: API error: code=400 err_code=10164 description=wrong last sequence", false, 0},
	} {
		r := history.Record{ErrClass: tc.class, Error: tc.text}
		if c, rev := conflictOf(&r); c != tc.conflict || rev != tc.rev {
			t.Errorf("%s %q: conflict %t at %d, want %t at %d", tc.class, tc.text, c, rev, tc.conflict, tc.rev)
		}
	}
}

// Deletes and purges keep their marker's revision (the workload publishes
// the marker as nats.go does and keeps the acknowledgement): they are
// placed exactly and held to no-lost-writes like any write.
func TestDeletesWithRevisions(t *testing.T) {
	withRev := func(r history.Record, rev uint64) history.Record { r.Rev = rev; return r }
	legal := hist(
		put(1, "k", "v1", 1, at(0, 10)), withRev(del(2, "k", at(20, 30)), 2), put(1, "k", "v3", 3, at(40, 50)),
		withRev(purge(2, "k", at(60, 70)), 4),
		watch("k", "v1", 1, 11), watchMarker("k", history.MarkerDel, 2, 31), watch("k", "v3", 3, 51), watchMarker("k", history.MarkerPurge, 4, 71),
		finalMarker("k", history.MarkerPurge, 4),
	)
	watchComplete(legal)
	res, _ := runCheck(t, legal)
	wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Pass, CheckNoLostWrites: Pass, CheckRevisionsUnique: Pass, CheckRevisionOrder: Pass})
	if c := checkNamed(t, res, CheckNoLostWrites); !strings.Contains(c.Detail, "4 acknowledged writes") {
		t.Errorf("no-lost-writes counts the deletes: %s", c.Detail)
	}

	// The delete was acknowledged at 2, but the key ends at 1.
	lost := hist(put(1, "k", "v1", 1, at(0, 10)), withRev(del(2, "k", at(20, 30)), 2), final("k", "v1", 1))
	res, _ = runCheck(t, lost)
	if c := checkNamed(t, res, CheckNoLostWrites); c.Result != Fail || !strings.Contains(c.Detail, `delete by client 2 acknowledged at revision 2, but key "k" ends at revision 1`) {
		t.Errorf("lost delete: %s (%s)", c.Result, c.Detail)
	}

	// Revision 2 holds another key's value per a watcher: the delete's
	// marker is not there.
	other := hist(put(1, "k", "v1", 1, at(0, 10)), withRev(del(2, "k", at(20, 30)), 2), put(3, "j", "x", 3, at(40, 50)),
		finalMarker("k", history.MarkerDel, 2), final("j", "x", 3))
	other.Watch = append(other.Watch, watch("j", "y", 2, 35))
	res, _ = runCheck(t, other)
	if c := checkNamed(t, res, CheckNoLostWrites); c.Result != Fail || !strings.Contains(c.Detail, "delete by client 2 acknowledged at revision 2, but revision 2 holds") {
		t.Errorf("another message at the delete's revision: %s (%s)", c.Result, c.Detail)
	}
}

// nats.go's Create is two requests: a first that wrote but whose answer was
// lost, another client's delete, and the retry over that marker write the
// value twice. That is not two messages claiming one value; anything else
// putting a create's value at two revisions still is.
func TestCreateWritesTwiceAroundADelete(t *testing.T) {
	withRev := func(r history.Record, rev uint64) history.Record { r.Rev = rev; return r }
	build := func(between history.Record, betweenWatch history.Record) *history.History {
		h := hist(
			put(1, "k", "v0", 1, at(0, 10)), withRev(del(1, "k", at(12, 15)), 2),
			create(2, "k", "c", 5, at(20, 80)),
			get(4, "k", "c", 3, at(25, 28)),
			between,
			watch("k", "v0", 1, 11), watchMarker("k", history.MarkerDel, 2, 16), watch("k", "c", 3, 24), betweenWatch, watch("k", "c", 5, 60),
			final("k", "c", 5),
		)
		return watchComplete(h)
	}
	res, _ := runCheck(t, build(withRev(del(3, "k", at(30, 35)), 4), watchMarker("k", history.MarkerDel, 4, 36)))
	wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Pass, CheckLinearizableReads: Pass, CheckRevisionsUnique: Pass, CheckReadsValid: Pass, CheckNoLostWrites: Pass})
	if got := res.Resolution[history.OpCreate]; got == nil || got.WroteTwice != 1 {
		t.Errorf("resolution of creates: %+v, want one that wrote twice", got)
	}
	if c := checkNamed(t, res, CheckRevisionsUnique); !strings.Contains(c.Detail, "1 creates wrote their value twice") {
		t.Errorf("revisions-unique says %q", c.Detail)
	}

	// A value between them, not a marker: the retry could not have run.
	res, _ = runCheck(t, build(put(3, "k", "x", 4, at(30, 35)), watch("k", "x", 4, 36)))
	if c := checkNamed(t, res, CheckRevisionsUnique); c.Result != Fail {
		t.Errorf("no delete between: revisions-unique %s (%s)", c.Result, c.Detail)
	}
}

// The stream's last sequence read after the run is not the end of time: a
// revision seen above it (a write that landed after that read) shows more
// may have landed there, so a complete watch up to it no longer proves
// that an unseen write did not happen.
func TestRevisionAboveTheLastSequence(t *testing.T) {
	build := func(lateRev uint64) *history.History {
		h := watchComplete(hist(
			put(1, "k", "v1", 1, at(0, 10)), put(1, "k", "v2", 2, at(20, 30)),
			unknown(put(2, "k", "u", 0, at(40, 0))),
			put(3, "j", "late", lateRev, at(50, 60)),
			watch("k", "v1", 1, 11), watch("k", "v2", 2, 31),
			final("k", "v2", 2), final("j", "late", lateRev),
		))
		h.End.LastSeq = 3
		return h
	}
	res, _ := runCheck(t, build(3))
	if got := *res.Resolution[history.OpPut]; got.NotHappened != 1 {
		t.Fatalf("everything within the last sequence: %+v, want 1 not happened", got)
	}
	res, _ = runCheck(t, build(5))
	if got := *res.Resolution[history.OpPut]; got != (Resolution{StillUnknown: 1}) {
		t.Errorf("a revision above the last sequence: %+v, want still unknown", got)
	}
}

// When a watcher went past a revision is a fact of all its deliveries,
// whatever keys a group holds: checked whole or in groups, the recording
// watcher's skip of b's revision 2 (depth 1; b's next write came after the
// watcher had delivered a's revision 3) fails revision-order alike.
func TestWatcherSkipsWholeAndSplit(t *testing.T) {
	h := watchComplete(hist(
		put(1, "a", "a1", 1, at(0, 20)), put(2, "b", "b1", 2, at(40, 60)),
		put(1, "a", "a2", 3, at(80, 100)), put(2, "b", "b2", 4, at(140, 160)),
		watch("a", "a1", 1, 20), watch("a", "a2", 3, 120), watch("b", "b2", 4, 180),
		final("a", "a2", 3), final("b", "b2", 4)))
	h.Meta.History = 1
	opts := Options{Timeout: 10 * time.Second}
	for n, res := range map[int]*Result{1: Check(h, opts), 2: checkSplit(h, 2, opts)} {
		if c := checkNamed(t, res, CheckRevisionOrder); c.Result != Fail || !strings.Contains(c.Detail, "skipped revision 2") {
			t.Errorf("%d groups: %s (%s)", n, c.Result, c.Detail)
		}
	}
}

// A create that wrote twice is recognised whichever record shows which
// sighting first: here a scenario watcher saw the first write, and the
// recording watcher, lagging, only the second.
func TestCreateWritesTwiceSeenInAnyOrder(t *testing.T) {
	withRev := func(r history.Record, rev uint64) history.Record { r.Rev = rev; return r }
	for _, scenarioSeesThree := range []bool{false, true} {
		h := watchComplete(hist(
			create(1, "k", "v", 3, at(0, 5)), withRev(del(2, "k", at(2, 3)), 2), put(3, "k", "w", 4, at(6, 7)),
			watch("k", "v", 3, 50), watch("k", "w", 4, 60),
			final("k", "w", 4)))
		h.Meta.History = 1
		h.Meta.Watchers = []history.WatcherSpec{{ID: 1, Mode: history.WatchHistory}}
		h.Delivered = []history.Delivery{
			{Watcher: 1, Key: "k", Rev: 1, Read: "v", At: ms(1)},
			{Watcher: 1, Key: "k", Rev: 2, Marker: history.MarkerDel, At: ms(4)},
		}
		if scenarioSeesThree {
			h.Delivered = append(h.Delivered, history.Delivery{Watcher: 1, Key: "k", Rev: 3, Read: "v", At: ms(6)},
				history.Delivery{Watcher: 1, Key: "k", Rev: 4, Read: "w", At: ms(8)})
		}
		res, _ := runCheck(t, h)
		if c := checkNamed(t, res, CheckRevisionsUnique); c.Result != Pass {
			t.Errorf("scenario watcher sees the second write too: %t: %s (%s)", scenarioSeesThree, c.Result, c.Detail)
		}
	}
}

// A lease released by a delete (which has its revision), then taken by a
// TTL create that expired with its marker before the final read (history
// 1): the delete was pushed out by the create, not lost.
func TestReleasedLeaseThenExpired(t *testing.T) {
	for _, release := range []string{history.OpDelete, history.OpPut} {
		c1 := create(1, "l", "v1", 1, at(0, 1))
		c1.TTL = int64(time.Second)
		m := put(1, "l", "p", 2, at(2, 3))
		if release == history.OpDelete {
			m = delExpect(1, "l", 1, at(2, 3))
			m.Rev = 2
		}
		c2 := create(2, "l", "v2", 3, at(4, 5))
		c2.TTL = int64(time.Second)
		h := hist(c1, m, c2, finalNone("l"))
		h.Meta.History = 1
		res, _ := runCheck(t, h)
		if c := checkNamed(t, res, CheckNoLostWrites); c.Result != Pass {
			t.Errorf("released by %s: %s (%s)", release, c.Result, c.Detail)
		}
	}
}

// checkFileInGroups checks h as `kvharness check` checks a file, with a
// memory budget of records records, so that its keys fall in groups.
func checkFileInGroups(t *testing.T, h *history.History, records int64) *Result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	writeHistory(t, path, h)
	res, _, err := CheckFile(context.Background(), path, FileOptions{Options: Options{Timeout: 10 * time.Second}, MemoryBudget: records * bytesPerRecord})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
