package checker

import (
	"strings"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// keyHist is one entry of a key's History(): value at rev.
func keyHist(key, value string, rev uint64) history.Record {
	return history.Record{Kind: history.KindHistory, Key: key, Rev: rev, Read: value, At: ms(finalComp)}
}

// keyHistMarker is a del/purge marker among a key's History() entries.
func keyHistMarker(key, marker string, rev uint64) history.Record {
	return history.Record{Kind: history.KindHistory, Key: key, Rev: rev, Marker: marker, At: ms(finalComp)}
}

// historyRead marks h's History() as read for every key, with entries; a
// key without any gets the empty-history record the runner writes.
func historyRead(h *history.History, entries ...history.Record) *history.History {
	h.End.HistoryReads = true
	has := map[string]bool{}
	for _, e := range entries {
		has[e.Key] = true
	}
	for _, k := range h.Meta.Keys {
		if !has[k] {
			entries = append(entries, history.Record{Kind: history.KindHistory, Key: k, At: ms(finalComp)})
		}
	}
	return addRecs(h, entries...)
}

// threeVersions: key "a" is written v1@1, v2@2, v3@3; "z" is never written.
// The stream's last sequence after the run is unknown, so the acknowledged
// revisions do not make every message known: History() is held to the
// writes, not to an exact message list.
func threeVersions() *history.History {
	h := hist(
		put(1, "a", "v1", 1, at(0, 10)),
		put(2, "a", "v2", 2, at(20, 30)),
		put(1, "a", "v3", 3, at(40, 50)),
		final("a", "v3", 3),
		finalNone("z"),
	)
	h.End.LastSeq = 0
	return h
}

func TestHistoryMatches(t *testing.T) {
	a1, a2, a3 := keyHist("a", "v1", 1), keyHist("a", "v2", 2), keyHist("a", "v3", 3)
	tests := []struct {
		name    string
		depth   int // Meta.History; 0 leaves hist's 64
		extra   []history.Record
		entries []history.Record
		want    Status
		note    []string
	}{
		{name: "every version", entries: []history.Record{a1, a2, a3}, want: Pass},
		{name: "the bucket's depth trims the oldest", depth: 2, entries: []history.Record{a2, a3}, want: Pass},
		{
			// Without every message known, a History() that lacks its
			// oldest versions cannot be told from a trimmed one.
			name:    "a missing oldest version is not seen without every message",
			entries: []history.Record{a2, a3}, want: Pass,
		},
		{
			name: "stale: the last entry is older than the final read", entries: []history.Record{a1, a2}, want: Fail,
			note: []string{"ends at revision 2, the key's last message is at 3 (a stale History)"},
		},
		{
			name: "stale: empty for a written key", entries: nil, want: Fail,
			note: []string{"ends at revision 0, the key's last message is at 3"},
		},
		{
			name: "an acknowledged revision missing in the middle", entries: []history.Record{a1, a3}, want: Fail,
			note: []string{"lacks acknowledged revision(s) 2"},
		},
		{
			name: "entries out of order", entries: []history.Record{a1, a3, a2}, want: Fail,
			note: []string{"has revision 2 after 3"},
		},
		{
			name: "an entry repeated", entries: []history.Record{a1, a2, a2, a3}, want: Fail,
			note: []string{"has revision 2 after 2"},
		},
		{
			name: "more entries than the bucket keeps", depth: 2, entries: []history.Record{a1, a2, a3}, want: Fail,
			note: []string{"returned 3 entries, the bucket keeps 2"},
		},
		{
			name: "a value no operation wrote", entries: []history.Record{a1, keyHist("a", "ghost", 2), a3}, want: Fail,
			note: []string{`has "ghost" at revision 2, which no operation wrote`},
		},
		{
			name: "a value at another revision than acknowledged", entries: []history.Record{a1, keyHist("a", "v2", 4)}, want: Fail,
			note: []string{`has "v2" at revision 4, acknowledged at 2`},
		},
		{
			name:    "a value of another key",
			extra:   []history.Record{put(3, "b", "w1", 4, at(60, 70)), final("b", "w1", 4)},
			entries: []history.Record{a1, a2, a3, keyHist("b", "v2", 4)},
			want:    Fail,
			note:    []string{`key "b": History() has "v2", written to key "a"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := threeVersions()
			for _, r := range tc.extra {
				switch r.Kind {
				case history.KindOp:
					h.Ops = append(h.Ops, r)
				case history.KindFinal:
					h.Final = append(h.Final, r)
					h.Meta.Keys = append(h.Meta.Keys, r.Key)
				}
			}
			if tc.depth > 0 {
				h.Meta.History = tc.depth
			}
			historyRead(h, tc.entries...)
			var notes [][]string
			if tc.note != nil {
				key := `key "a": History() `
				if strings.HasPrefix(tc.note[0], "key ") {
					key = ""
				}
				notes = append(notes, append([]string{CheckHistoryMatches + ": " + key}, tc.note...))
			}
			res := wantCheck(t, h, CheckHistoryMatches, tc.want, notes...)
			if c := checkNamed(t, res, CheckHistoryMatches); tc.want == Pass && !strings.Contains(c.Detail, "consistent with the writes") {
				t.Errorf("detail %q: without every message known the check should only claim consistency", c.Detail)
			}
			noNote(t, res, CheckHistoryMatches, `key "z"`)
		})
	}
}

// A refused write whose value History() shows was stored after all: as
// when a watcher shows it, refusals-definite fails, and the other checks,
// History()'s included, take it for a write that happened.
func TestHistoryShowsARefusedWrite(t *testing.T) {
	h := threeVersions()
	h.Ops = append(h.Ops, failed(put(3, "a", "x1", 0, at(60, 70)), history.ClassBadRequest))
	historyRead(h, keyHist("a", "v1", 1), keyHist("a", "v2", 2), keyHist("a", "x1", 3))
	res, _ := runCheck(t, h)
	if c := checkNamed(t, res, CheckRefusalsDefinite); c.Result != Fail || !strings.Contains(c.Detail, `"x1"`) {
		t.Errorf("refusals-definite: %s (%s)", c.Result, c.Detail)
	}
}

func TestHistoryMatchesNeedsHistoryReads(t *testing.T) {
	h := threeVersions()
	addRecs(h, keyHist("a", "v1", 1)) // stale, but not every key was read: undecided
	wantCheck(t, h, CheckHistoryMatches, Unknown)

	h = historyRead(threeVersions(), keyHist("a", "v1", 1))
	h.End = nil
	wantCheck(t, h, CheckHistoryMatches, Unknown)
}

// With every stream sequence seen, History() must be exactly the key's last
// depth messages since its last purge.
func TestHistoryMatchesExactlyWhatTheStreamKept(t *testing.T) {
	// a: v1@1, v2@2, v3@3, each seen by the recording watcher; depth 2.
	seenAll := func(entries ...history.Record) *history.History {
		h := watchComplete(hist(
			put(1, "a", "v1", 1, at(0, 10)), watch("a", "v1", 1, 5),
			put(2, "a", "v2", 2, at(20, 30)), watch("a", "v2", 2, 25),
			put(1, "a", "v3", 3, at(40, 50)), watch("a", "v3", 3, 45),
			final("a", "v3", 3),
		))
		h.Meta.History = 2
		return historyRead(h, entries...)
	}
	t.Run("the last depth messages", func(t *testing.T) {
		res := wantCheck(t, seenAll(keyHist("a", "v2", 2), keyHist("a", "v3", 3)), CheckHistoryMatches, Pass)
		if c := checkNamed(t, res, CheckHistoryMatches); !strings.Contains(c.Detail, "exactly the messages the stream kept") {
			t.Errorf("detail %q does not claim the exact match", c.Detail)
		}
	})
	t.Run("one short", func(t *testing.T) {
		wantCheck(t, seenAll(keyHist("a", "v3", 3)), CheckHistoryMatches, Fail,
			[]string{CheckHistoryMatches + ": ", `key "a"`, "has revisions 3, the stream kept 2, 3"})
		// The same History() without every message known passes: it
		// could be a trimmed one.
		h := seenAll(keyHist("a", "v3", 3))
		h.Watch, h.End.WatchComplete, h.End.LastSeq = nil, false, 0
		wantCheck(t, h, CheckHistoryMatches, Pass)
	})
	t.Run("one short, every sequence acknowledged", func(t *testing.T) {
		// No watcher, but the acknowledgements name every sequence up to
		// the stream's last one: every message is known just the same.
		h := seenAll(keyHist("a", "v3", 3))
		h.Watch, h.End.WatchComplete, h.End.LastSeq = nil, false, 3
		wantCheck(t, h, CheckHistoryMatches, Fail, []string{`key "a"`, "has revisions 3, the stream kept 2, 3"})
	})
	t.Run("per-message TTLs remove messages on their own", func(t *testing.T) {
		h := seenAll(keyHist("a", "v3", 3))
		for i := range h.Ops {
			h.Ops[i].TTL = ms(100_000) // none has run out
		}
		wantCheck(t, h, CheckHistoryMatches, Pass)
	})

	// a: v1@1, v2@2, purged @3, v4@4: the bucket keeps the purge marker and
	// what came after.
	purged := func(entries ...history.Record) *history.History {
		h := watchComplete(hist(
			put(1, "a", "v1", 1, at(0, 10)), watch("a", "v1", 1, 5),
			put(2, "a", "v2", 2, at(20, 30)), watch("a", "v2", 2, 25),
			purge(1, "a", at(40, 50)), watchMarker("a", history.MarkerPurge, 3, 45),
			put(2, "a", "v4", 4, at(60, 70)), watch("a", "v4", 4, 65),
			del(1, "b", at(80, 90)), watchMarker("b", history.MarkerDel, 5, 85),
			final("a", "v4", 4),
			finalMarker("b", history.MarkerDel, 5),
		))
		return historyRead(h, entries...)
	}
	t.Run("since the last purge", func(t *testing.T) {
		wantCheck(t, purged(
			keyHistMarker("a", history.MarkerPurge, 3), keyHist("a", "v4", 4),
			keyHistMarker("b", history.MarkerDel, 5),
		), CheckHistoryMatches, Pass)
	})
	t.Run("from before the purge", func(t *testing.T) {
		wantCheck(t, purged(
			keyHist("a", "v1", 1), keyHist("a", "v2", 2), keyHistMarker("a", history.MarkerPurge, 3), keyHist("a", "v4", 4),
			keyHistMarker("b", history.MarkerDel, 5),
		), CheckHistoryMatches, Fail, []string{`key "a"`, "has revisions 1, 2, 3, 4, the stream kept 3, 4"})
	})
	t.Run("without the purge marker", func(t *testing.T) {
		wantCheck(t, purged(
			keyHist("a", "v4", 4),
			keyHistMarker("b", history.MarkerDel, 5),
		), CheckHistoryMatches, Fail, []string{`key "a"`, "has revisions 4, the stream kept 3, 4"})
	})
	t.Run("without the delete marker", func(t *testing.T) {
		wantCheck(t, purged(
			keyHistMarker("a", history.MarkerPurge, 3), keyHist("a", "v4", 4),
		), CheckHistoryMatches, Fail, []string{`key "b"`, "the stream kept 5"})
	})
}
