package checker

import (
	"slices"
	"strings"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// Per-key TTLs: a key's last message expires without a watch event when
// the bucket keeps older ones (workload's TestServerTTLFacts); the key falls
// back to the message before. A watcher then ends past the final revision —
// fine once that write's TTL ran out before the end, a failure otherwise.
func TestWatchCompleteAllowsAnExpiredLastRevision(t *testing.T) {
	run := func(ttlMs int64) *history.History {
		h := hist(
			put(1, "a", "v1", 1, at(0, 10)),
			del(1, "a", at(20, 30)),
			withTTL(create(2, "a", "v2", 3, at(40, 50)), ttlMs),
			final("a", "", 0),
		)
		h.Final[0].Marker, h.Final[0].Rev = history.MarkerDel, 2 // the old marker is back
		h.End.At = ms(5000)
		h.Meta.Watchers = []history.WatcherSpec{{ID: 1, Mode: history.WatchUpdates}}
		return addRecs(h, delivered(1, "a", "v1", 1, 5), delivered(1, "a", "", 2, 25), delivered(1, "a", "v2", 3, 45))
	}
	wantCheck(t, run(1000), CheckWatchComplete, Unknown) // passes the final-state rule; stored messages not read
	wantCheck(t, run(60_000), CheckWatchComplete, Fail, []string{"last delivered revision 3, the key's final revision is 2"})
}

// A delivery that arrives before its write was invoked is a phantom even
// where the linearizability checks (which also catch it) are skipped.
func TestWatchNoPhantomsBeforeInvoke(t *testing.T) {
	h := watched(append(inOrder(2),
		delivered(1, "a", "v1", 1, 5),
		delivered(1, "a", "v2", 2, 15), // v2 was invoked at 20
		delivered(1, "b", "w1", 3, 45),
	)...)
	wantCheck(t, h, CheckWatchNoPhantoms, Fail, []string{"watcher 1", `"v2"`, "before its put was invoked"})
}

// A revision a scenario watcher or History() names must not name two messages.
func TestRevisionsUniqueSeesDeliveriesAndHistories(t *testing.T) {
	h := watched(append(inOrder(2),
		delivered(1, "a", "v1", 1, 5),
		delivered(1, "a", "v2", 3, 25), // v2 is at 2; 3 is w1
		delivered(1, "b", "w1", 3, 45),
	)...)
	wantCheck(t, h, CheckRevisionsUnique, Fail)
}

func TestDefaultRequiredForShapes(t *testing.T) {
	has := func(req []string, c string) bool { return slices.Contains(req, c) }
	ttl := DefaultRequiredFor(Shape{Replicas: 3, TTL: true, Pattern: history.PatternSessions})
	if has(ttl, CheckLinearizableWrites) || !has(ttl, CheckTTLExpiry) || !has(ttl, CheckNoLostWrites) {
		t.Errorf("TTL shape requires %v: want ttl-expiry and no-lost-writes, not linearizable-writes", ttl)
	}
	mixTTL := DefaultRequiredFor(Shape{Replicas: 1, TTL: true})
	if has(mixTTL, CheckLinearizableWrites) || has(mixTTL, CheckLinearizableReads) || !has(mixTTL, CheckTTLExpiry) {
		t.Errorf("a plain mix with a TTL requires %v: the skipped checks must not be required", mixTTL)
	}
	leader1 := DefaultRequiredFor(Shape{Replicas: 1, LeaderReads: true, NoDirectReads: true})
	if !has(leader1, CheckLinearizableReadsLeader) || has(leader1, CheckLinearizableReads) {
		t.Errorf("R1 with leader gets only requires %v: want the leader read check, not the direct one", leader1)
	}
	if has(DefaultRequiredFor(Shape{Replicas: 3, LeaderReads: true}), CheckLinearizableReadsLeader) {
		t.Error("R3 leader reads are reported, not required")
	}
	lease := DefaultRequiredFor(Shape{Replicas: 3, TTL: true, Pattern: history.PatternLease, Watchers: true})
	for _, c := range append([]string{CheckMutualExclusion, CheckHistoryMatches}, WatchChecks...) {
		if !has(lease, c) {
			t.Errorf("lease shape requires %v: lacks %s", lease, c)
		}
	}
}

// The soak's leader-election under corrupt (2.15.2, seed 2): watcher 1's
// consumer was on the stream leader, killed at 5 s; nats.go recreates a
// consumer only at its 10 s activity checks, and at 20 s the cluster had
// no meta leader. By its 30 s check the key's final revision — the marker
// the server put in place of an expired lease, itself living 2 s — was
// gone: the complete dump after the watchers' wait held nothing of the
// key. The watcher cannot be held to a final state the bucket no longer
// holds; had the dump still held it, it would fail.
func TestWatchCompleteFinalRevisionGoneByTheDump(t *testing.T) {
	run := func(held bool) *history.History {
		h := hist(
			withTTL(create(1, "k", "c1-1", 10, at(0, 10)), 2000),
			final("k", "", 19),
		)
		h.Final[0].Marker = history.MarkerPurge // the server's marker for the expired lease
		h.End.StoredComplete = true
		h.End.At = ms(54_000)
		h.Meta.Watchers = []history.WatcherSpec{{ID: 1, Mode: history.WatchLatest}, {ID: 2, Mode: history.WatchLatest}}
		addRecs(h, delivered(1, "k", "c1-1", 10, 5), delivered(2, "k", "c1-1", 10, 6),
			history.Record{Kind: history.KindWatch, Watcher: 2, Key: "k", Rev: 19, Marker: history.MarkerPurge, At: ms(23_000)})
		if held {
			addRecs(h, history.Record{Kind: history.KindStored, Key: "k", Rev: 19, Marker: history.MarkerPurge, At: ms(50_000)})
		}
		return h
	}
	res := wantCheck(t, run(false), CheckWatchComplete, Pass)
	if c := checkNamed(t, res, CheckWatchComplete); !strings.Contains(c.Detail, "no longer held") {
		t.Errorf("detail does not say what it allowed for: %s", c.Detail)
	}
	wantCheck(t, run(true), CheckWatchComplete, Fail, []string{"watcher 1", "never delivered revision(s) 19"})
}

// TestRecordedWatcherShortOfAnExpiredFinal: the recorded history (6 kB
// compressed) of that run — leader-election, spawned v2.15.2, --faults
// corrupt --duration 20s --seed 2, from make soak-faults. It passes, and
// says so; with the final marker put back among the stored messages, the
// watcher short of it fails again.
func TestRecordedWatcherShortOfAnExpiredFinal(t *testing.T) {
	h := recordedPasses(t, "watch-complete-expired-final.jsonl.zst", CheckWatchComplete, "no longer held")
	for _, f := range h.Final {
		if f.Key == "k0000" {
			h.Stored = append(h.Stored, history.Record{Kind: history.KindStored, Key: f.Key, Rev: f.Rev, Marker: f.Marker, Read: f.Read})
		}
	}
	wantCheck(t, h, CheckWatchComplete, Fail, []string{`watcher 1, key "k0000"`, "19"})
}
