package checker

import (
	"testing"

	"github.com/kvharness/kvharness/history"
)

// A watcher started while clients write began somewhere between StartSeq
// and StartedBy: it owes every held revision after StartedBy, none before
// (not even the latest at its start, which is not known exactly).
func TestWatchCompleteStartedUnderLoad(t *testing.T) {
	// "a": v1@1, v2@2, v3@3, all held; the watcher began between 1 and 2.
	run := func(spec history.WatcherSpec, deliveries ...history.Record) *history.History {
		h := hist(
			put(1, "a", "v1", 1, at(0, 10)),
			put(1, "a", "v2", 2, at(20, 30)),
			put(1, "a", "v3", 3, at(40, 50)),
			final("a", "v3", 3),
		)
		h.Meta.Watchers = []history.WatcherSpec{spec}
		h.End.StoredComplete = true
		addRecs(h, stored("a", "v1", 1), stored("a", "v2", 2), stored("a", "v3", 3))
		return addRecs(h, deliveries...)
	}
	late := history.WatcherSpec{ID: 1, Mode: history.WatchLatest, StartSeq: 1, StartedBy: 2, StartAt: ms(25)}
	wantCheck(t, run(late, delivered(1, "a", "v2", 2, 26), delivered(1, "a", "v3", 3, 45)), CheckWatchComplete, Pass)
	wantCheck(t, run(late, delivered(1, "a", "v1", 1, 26), delivered(1, "a", "v3", 3, 45)), CheckWatchComplete, Pass)
	wantCheck(t, run(late, delivered(1, "a", "v2", 2, 26)), CheckWatchComplete, Fail,
		[]string{"watcher 1", "never delivered revision(s) 3"})

	// Known exactly (StartedBy unset): the latest at the start is owed.
	exact := history.WatcherSpec{ID: 1, Mode: history.WatchLatest, StartSeq: 1}
	wantCheck(t, run(exact, delivered(1, "a", "v2", 2, 26), delivered(1, "a", "v3", 3, 45)), CheckWatchComplete, Fail,
		[]string{"never delivered revision(s) 1"})

	// A watcher whose start could not be pinned owes only the final state.
	unknown := history.WatcherSpec{ID: 1, Mode: history.WatchUpdates, StartSeq: 1, StartedBy: 1 << 62}
	wantCheck(t, run(unknown, delivered(1, "a", "v3", 3, 45)), CheckWatchComplete, Pass)
}
