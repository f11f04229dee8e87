package checker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// delivered is scenario watcher `watcher` (> 0) receiving value at rev.
func delivered(watcher int, key, value string, rev uint64, atMs int64) history.Record {
	return history.Record{Kind: history.KindWatch, Watcher: watcher, Key: key, Rev: rev, Read: value, At: ms(atMs)}
}

// stored is a message the stream still held after the run.
func stored(key, value string, rev uint64) history.Record {
	return history.Record{Kind: history.KindStored, Key: key, Rev: rev, Read: value, At: ms(finalComp)}
}

// addRecs files records hist does not take: scenario watchers' deliveries,
// stored messages and History() entries; and more operations.
func addRecs(h *history.History, recs ...history.Record) *history.History {
	for _, r := range recs {
		switch {
		case r.Kind == history.KindWatch && r.Watcher > 0:
			h.Delivered = append(h.Delivered, history.DeliveryOf(r))
		case r.Kind == history.KindWatch:
			h.Watch = append(h.Watch, r)
		case r.Kind == history.KindStored:
			h.Stored = append(h.Stored, r)
		case r.Kind == history.KindHistory:
			h.KeyHistory = append(h.KeyHistory, r)
		case r.Kind == history.KindOp:
			h.Ops = append(h.Ops, r)
		default:
			panic("addRecs: unexpected record kind " + string(r.Kind))
		}
	}
	return h
}

// checkOnly runs every check over h and returns the named one.
func checkOnly(t *testing.T, h *history.History, name string) (CheckResult, *Result) {
	t.Helper()
	res, _ := runCheck(t, h)
	return checkNamed(t, res, name), res
}

// wantCheck asserts the named check's status and, for each of notes, that
// some note of the result contains every substring.
func wantCheck(t *testing.T, h *history.History, name string, want Status, notes ...[]string) *Result {
	t.Helper()
	c, res := checkOnly(t, h, name)
	if c.Result != want {
		t.Errorf("%s = %s, want %s (detail: %s)\n%s", name, c.Result, want, c.Detail, dump(res))
	}
	for _, subs := range notes {
		if !notesContain(res, subs...) {
			t.Errorf("no note contains all of %q:\n%s", subs, dump(res))
		}
	}
	return res
}

// noNote asserts that no note of the check mentions sub.
func noNote(t *testing.T, res *Result, check, sub string) {
	t.Helper()
	for _, n := range res.Notes {
		if strings.HasPrefix(n, check+":") && strings.Contains(n, sub) {
			t.Errorf("note should not mention %q: %s", sub, n)
		}
	}
}

// watched is a consistent two-key run with two history watchers: "a" gets
// v1@1 and v2@2, "b" gets w1@3; the stream holds all three messages and
// both watchers delivered each of them once, in order. Further deliveries
// are appended to it.
func watched(extra ...history.Record) *history.History {
	h := hist(
		put(1, "a", "v1", 1, at(0, 10)),
		put(1, "a", "v2", 2, at(20, 30)),
		put(2, "b", "w1", 3, at(40, 50)),
		final("a", "v2", 2),
		final("b", "w1", 3),
	)
	h.Meta.Watchers = []history.WatcherSpec{{ID: 1, Mode: history.WatchHistory}, {ID: 2, Mode: history.WatchHistory}}
	h.End.StoredComplete = true
	addRecs(h, stored("a", "v1", 1), stored("a", "v2", 2), stored("b", "w1", 3))
	return addRecs(h, extra...)
}

// inOrder is what each watcher of watched delivers in a consistent run.
func inOrder(watcher int) []history.Record {
	return []history.Record{
		delivered(watcher, "a", "v1", 1, 5),
		delivered(watcher, "a", "v2", 2, 25),
		delivered(watcher, "b", "w1", 3, 45),
	}
}

func TestWatchChecksPassOnAConsistentHistory(t *testing.T) {
	h := watched(append(inOrder(1), inOrder(2)...)...)
	res, _ := runCheck(t, h)
	wantStatus(t, res, map[string]Status{
		CheckWatchOrder:        Pass,
		CheckWatchComplete:     Pass,
		CheckWatchNoPhantoms:   Pass,
		CheckLinearizableReads: Pass,
	})
	if res.Verdict != Pass {
		t.Errorf("verdict %s, want pass:\n%s", res.Verdict, dump(res))
	}
}

func TestWatchChecksSkippedWithoutWatchers(t *testing.T) {
	// Deliveries without a watcher spec: the checks have nothing to hold
	// them to.
	h := watched(inOrder(1)...)
	h.Meta.Watchers = nil
	res, _ := runCheck(t, h)
	wantStatus(t, res, map[string]Status{
		CheckWatchOrder:      Skipped,
		CheckWatchComplete:   Skipped,
		CheckWatchNoPhantoms: Skipped,
	})
	for _, name := range WatchChecks {
		if c := checkNamed(t, res, name); c.Required {
			t.Errorf("%s required without watchers", name)
		}
	}
}

func TestWatchOrder(t *testing.T) {
	t.Run("duplicate delivery", func(t *testing.T) {
		h := watched(append(inOrder(2),
			delivered(1, "a", "v1", 1, 5),
			delivered(1, "a", "v1", 1, 6), // again
			delivered(1, "a", "v2", 2, 25),
			delivered(1, "b", "w1", 3, 45),
		)...)
		res := wantCheck(t, h, CheckWatchOrder, Fail,
			[]string{CheckWatchOrder + ": ", "watcher 1", `key "a"`, "revision 1 delivered twice"})
		noNote(t, res, CheckWatchOrder, "watcher 2")
		noNote(t, res, CheckWatchOrder, `key "b"`)
		// Nothing is missing or invented: only the order check fails.
		wantStatus(t, res, map[string]Status{CheckWatchComplete: Pass, CheckWatchNoPhantoms: Pass})
	})
	t.Run("out of order delivery", func(t *testing.T) {
		h := watched(append(inOrder(1),
			delivered(2, "b", "w1", 3, 45),
			delivered(2, "a", "v2", 2, 46),
			delivered(2, "a", "v1", 1, 47), // after 2
		)...)
		res := wantCheck(t, h, CheckWatchOrder, Fail,
			[]string{CheckWatchOrder + ": ", "watcher 2", `key "a"`, "revision 1 delivered after 2"},
			// A watch is one ordered consumer: b@3 before a@2 is out of
			// stream order too, across keys.
			[]string{CheckWatchOrder + ": ", "watcher 2 delivered revision 2 (key \"a\")", `after revision 3 (key "b")`})
		noNote(t, res, CheckWatchOrder, "watcher 1")
	})
	t.Run("across keys out of stream order", func(t *testing.T) {
		h := watched(append(inOrder(1),
			delivered(2, "b", "w1", 3, 45),
			delivered(2, "a", "v1", 1, 46),
			delivered(2, "a", "v2", 2, 47),
		)...)
		res := wantCheck(t, h, CheckWatchOrder, Fail,
			[]string{CheckWatchOrder + ": ", "watcher 2 delivered revision 1 (key \"a\")", `after revision 3 (key "b")`})
		noNote(t, res, CheckWatchOrder, "watcher 1")
	})
	t.Run("keys interleaved in stream order", func(t *testing.T) {
		h := watched(append(inOrder(1),
			delivered(2, "a", "v1", 1, 45),
			delivered(2, "a", "v2", 2, 46),
			delivered(2, "b", "w1", 3, 47),
		)...)
		wantCheck(t, h, CheckWatchOrder, Pass)
	})
}

func TestWatchCompleteMissedRevision(t *testing.T) {
	// Watcher 2 never got a@1, which the bucket still holds.
	h := watched(append(inOrder(1),
		delivered(2, "a", "v2", 2, 25),
		delivered(2, "b", "w1", 3, 45),
	)...)
	res := wantCheck(t, h, CheckWatchComplete, Fail,
		[]string{CheckWatchComplete + ": ", "watcher 2", `key "a"`, "never delivered revision(s) 1"})
	noNote(t, res, CheckWatchComplete, "watcher 1")
	wantStatus(t, res, map[string]Status{CheckWatchOrder: Pass, CheckWatchNoPhantoms: Pass})

	// Without the stored messages the miss cannot be seen: each watcher is
	// at the final state, which is no pass either.
	h = watched(append(inOrder(1),
		delivered(2, "a", "v2", 2, 25),
		delivered(2, "b", "w1", 3, 45),
	)...)
	h.Stored, h.End.StoredComplete = nil, false
	wantCheck(t, h, CheckWatchComplete, Unknown)

	// A message trimmed from the stream is owed to nobody.
	h = watched(append(inOrder(1),
		delivered(2, "a", "v2", 2, 25),
		delivered(2, "b", "w1", 3, 45),
	)...)
	h.Stored = h.Stored[1:] // a@1 is gone (history depth 1)
	wantCheck(t, h, CheckWatchComplete, Pass)
}

func TestWatchCompleteBehindFinalState(t *testing.T) {
	// Watcher 1 stopped after a@1; a's final revision is 2. The stored
	// messages are not known, so only the final state can be compared.
	h := watched(append(inOrder(2),
		delivered(1, "a", "v1", 1, 5),
		delivered(1, "b", "w1", 3, 45),
	)...)
	h.Stored, h.End.StoredComplete = nil, false
	res := wantCheck(t, h, CheckWatchComplete, Fail,
		[]string{CheckWatchComplete + ": ", "watcher 1", `key "a"`, "last delivered revision 1, the key's final revision is 2"})
	noNote(t, res, CheckWatchComplete, "watcher 2")
	noNote(t, res, CheckWatchComplete, `key "b"`)

	// A watcher that got nothing of a key is behind too.
	h = watched(append(inOrder(2),
		delivered(1, "a", "v1", 1, 5),
		delivered(1, "a", "v2", 2, 25),
	)...)
	h.Stored, h.End.StoredComplete = nil, false
	wantCheck(t, h, CheckWatchComplete, Fail,
		[]string{"watcher 1", `key "b"`, "last delivered revision 0, the key's final revision is 3"})
}

func TestWatchCompleteFilteredWatcher(t *testing.T) {
	// Watcher 2 filters on "b": it owes nothing of "a".
	h := watched(append(inOrder(1), delivered(2, "b", "w1", 3, 45))...)
	h.Meta.Watchers[1].Keys = []string{"b"}
	wantCheck(t, h, CheckWatchComplete, Pass)
	// ... but all of "b".
	h = watched(append(inOrder(1), delivered(2, "a", "v2", 2, 25))...)
	h.Meta.Watchers[1].Keys = []string{"b"}
	wantCheck(t, h, CheckWatchComplete, Fail, []string{"watcher 2", `key "b"`, "never delivered revision(s) 3"})
}

// Key "a" is written at revisions 1..4; the bucket holds them all (or, with
// trimmed, only 3 and 4). A watcher starts at StartSeq: an updates-only one
// owes what came after, a latest one also the key's latest revision at
// start (if still held), a history one everything held.
func TestWatchCompleteModes(t *testing.T) {
	tests := []struct {
		mode     string
		startSeq uint64
		trimmed  bool     // the stream holds only revisions 3 and 4
		got      []uint64 // revisions delivered
		want     Status
		missing  string // the note's list of missed revisions
	}{
		{mode: history.WatchUpdates, startSeq: 2, got: []uint64{3, 4}, want: Pass},
		{mode: history.WatchUpdates, startSeq: 2, got: []uint64{4}, want: Fail, missing: "3"},
		{mode: history.WatchUpdates, startSeq: 2, got: []uint64{2, 3, 4}, want: Pass}, // more than owed is fine
		{mode: history.WatchUpdates, startSeq: 4, got: nil, want: Pass},               // nothing written since it began
		{mode: history.WatchLatest, startSeq: 2, got: []uint64{2, 3, 4}, want: Pass},
		{mode: history.WatchLatest, startSeq: 2, got: []uint64{3, 4}, want: Fail, missing: "2"},
		{mode: history.WatchLatest, startSeq: 2, got: []uint64{1, 3, 4}, want: Fail, missing: "2"},
		{mode: history.WatchLatest, startSeq: 4, got: []uint64{4}, want: Pass},
		{mode: history.WatchLatest, startSeq: 4, got: nil, want: Fail, missing: "4"},
		{mode: history.WatchLatest, startSeq: 2, trimmed: true, got: []uint64{3, 4}, want: Pass}, // latest at start no longer held
		{mode: history.WatchHistory, startSeq: 2, got: []uint64{1, 2, 3, 4}, want: Pass},
		{mode: history.WatchHistory, startSeq: 2, got: []uint64{2, 3, 4}, want: Fail, missing: "1"},
		{mode: history.WatchHistory, startSeq: 4, got: []uint64{4}, want: Fail, missing: "1, 2, 3"},
		{mode: history.WatchHistory, startSeq: 2, trimmed: true, got: []uint64{3, 4}, want: Pass},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s from %d got %v", tc.mode, tc.startSeq, tc.got)
		if tc.trimmed {
			name += " trimmed"
		}
		t.Run(name, func(t *testing.T) {
			h := hist(
				put(1, "a", "v1", 1, at(0, 10)),
				put(1, "a", "v2", 2, at(20, 30)),
				put(1, "a", "v3", 3, at(40, 50)),
				put(1, "a", "v4", 4, at(60, 70)),
				final("a", "v4", 4),
			)
			h.Meta.Watchers = []history.WatcherSpec{{ID: 1, Mode: tc.mode, StartSeq: tc.startSeq}}
			h.End.StoredComplete = true
			for rev := uint64(1); rev <= 4; rev++ {
				if !tc.trimmed || rev >= 3 {
					addRecs(h, stored("a", fmt.Sprintf("v%d", rev), rev))
				}
			}
			for _, rev := range tc.got {
				addRecs(h, delivered(1, "a", fmt.Sprintf("v%d", rev), rev, int64(rev)*20))
			}
			var notes [][]string
			if tc.missing != "" {
				notes = append(notes, []string{CheckWatchComplete + ": ", "watcher 1", `key "a"`, "never delivered revision(s) " + tc.missing + " that"})
			}
			wantCheck(t, h, CheckWatchComplete, tc.want, notes...)
		})
	}
}

func TestWatchNoPhantoms(t *testing.T) {
	tests := []struct {
		name  string
		extra []history.Record // ops beside watched's, and watcher 2's deliveries
		want  Status
		note  []string
	}{
		{
			name:  "value never written",
			extra: []history.Record{delivered(2, "a", "ghost", 4, 60)},
			want:  Fail,
			note:  []string{"watcher 2", `key "a"`, `value "ghost" at revision 4 was never written`},
		},
		{
			name:  "value at a revision other than its acknowledged one",
			extra: []history.Record{delivered(2, "a", "v1", 5, 60)},
			want:  Fail,
			note:  []string{"watcher 2", `key "a"`, `value "v1" delivered at revision 5, acknowledged at 1`},
		},
		{
			name:  "value delivered for another key",
			extra: []history.Record{delivered(2, "b", "v2", 2, 60)},
			want:  Fail,
			note:  []string{"watcher 2", `value "v2" delivered for key "b", written to "a"`},
		},
		{
			name: "value of a definitely failed put",
			extra: []history.Record{
				failed(put(3, "a", "x1", 0, at(60, 70)), history.ClassBadRequest),
				delivered(2, "a", "x1", 4, 65),
			},
			want: Fail,
			note: []string{"watcher 2", `key "a"`, `value "x1" of a put that failed (bad-request) was delivered at revision 4`},
		},
		{
			name: "value of a conflicted update",
			extra: []history.Record{
				conflict(update(3, "a", "x1", 1, 0, at(60, 70))),
				delivered(2, "a", "x1", 4, 65),
			},
			want: Fail,
			note: []string{"watcher 2", `value "x1" of a update that failed (conflict)`},
		},
		{
			// A create reported failed may have landed by its second
			// request: seeing it is no phantom (resolve counts it).
			name: "value of a failed create",
			extra: []history.Record{
				conflict(create(3, "c", "x1", 0, at(60, 70))),
				delivered(2, "c", "x1", 4, 65),
			},
			want: Pass,
		},
		{
			name: "value of an unknown put, at any revision",
			extra: []history.Record{
				unknown(put(3, "a", "x1", 0, at(60, 0))),
				delivered(2, "a", "x1", 4, 65),
			},
			want: Pass,
		},
		{
			name: "markers are not values",
			extra: []history.Record{
				del(3, "a", at(60, 70)),
				{Kind: history.KindWatch, Watcher: 2, Key: "a", Rev: 4, Marker: history.MarkerDel, At: ms(65)},
			},
			want: Pass,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := watched(inOrder(1)...)
			for _, r := range tc.extra {
				if r.Kind == history.KindOp {
					h.Ops = append(h.Ops, r)
				} else {
					addRecs(h, r)
				}
			}
			var notes [][]string
			if tc.note != nil {
				notes = append(notes, append([]string{CheckWatchNoPhantoms + ": "}, tc.note...))
			}
			res := wantCheck(t, h, CheckWatchNoPhantoms, tc.want, notes...)
			noNote(t, res, CheckWatchNoPhantoms, "watcher 1")
		})
	}
}

// A delivered marker needs a delete (purge) of its key invoked before it
// arrived, as a delivered value needs its write.
func TestWatchNoPhantomMarkers(t *testing.T) {
	marker := func(watcher int, key, kind string, rev uint64, atMs int64) history.Record {
		r := delivered(watcher, key, "", rev, atMs)
		r.Marker = kind
		return r
	}
	// b@4 as a del marker, with no delete of b anywhere: a phantom.
	h := watched(append(append(inOrder(1), inOrder(2)...), marker(2, "b", history.MarkerDel, 4, 60))...)
	wantCheck(t, h, CheckWatchNoPhantoms, Fail, []string{CheckWatchNoPhantoms + ": ", "watcher 2", `key "b"`, "del marker at revision 4", "no delete of the key had been invoked"})

	// With the delete invoked before the delivery, the marker is explained.
	h = watched(append(append(inOrder(1), inOrder(2)...), del(2, "b", at(55, 58)), marker(2, "b", history.MarkerDel, 4, 60))...)
	c, res := checkOnly(t, h, CheckWatchNoPhantoms)
	if c.Result != Pass || !strings.Contains(c.Detail, "all 1 markers by a delete or purge") {
		t.Errorf("explained marker: %s (%s)\n%s", c.Result, c.Detail, dump(res))
	}
}
