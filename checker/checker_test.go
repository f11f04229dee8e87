package checker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// TestCheckCatchesAnomalies feeds the checker histories with one injected
// anomaly each and asserts that the check that claims to catch it fails,
// and that the checks that have nothing to say about it do not.
func TestCheckCatchesAnomalies(t *testing.T) {
	tests := []struct {
		name  string
		h     *history.History
		want  map[string]Status
		notes [][]string // each: substrings that one note must contain
		check func(t *testing.T, res *Result, dir string)
	}{
		{
			name: "lost update: two CAS updates with the same expected revision both acknowledged",
			h:    lostUpdate(),
			want: map[string]Status{
				CheckLinearizableWrites: Fail,
				CheckLinearizableReads:  Fail,
				CheckRevisionsUnique:    Pass,
				CheckNoLostWrites:       Pass,
			},
			notes: [][]string{{CheckLinearizableWrites, `key "k"`, "lost update", "expected revision 1"}},
			check: func(t *testing.T, res *Result, dir string) {
				if !slices.Contains(res.Visualizations, "k.html") {
					t.Errorf("Visualizations = %v, want k.html among them", res.Visualizations)
				}
				b, err := os.ReadFile(filepath.Join(dir, "k.html"))
				if err != nil {
					t.Fatalf("visualization of the failing key: %v", err)
				}
				if !bytes.Contains(b, []byte("<html")) || !bytes.Contains(b, []byte("c2")) {
					t.Errorf("k.html (%d bytes) does not look like a Porcupine view of the key", len(b))
				}
			},
		},
		{
			name: "lost update: two creates of the same key both acknowledged",
			h: hist(
				create(1, "k", "v1", 1, at(0, 10)),
				create(2, "k", "v2", 2, at(1, 11)),
				final("k", "v2", 2),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail, CheckRevisionsUnique: Pass, CheckNoLostWrites: Pass},
		},
		{
			name: "stale read: get returns a value older than a completed write",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				put(1, "k", "v2", 2, at(20, 30)),
				get(2, "k", "v1", 1, at(40, 50)),
				final("k", "v2", 2),
			),
			want: map[string]Status{
				CheckLinearizableWrites: Pass,
				CheckLinearizableReads:  Fail,
				CheckRevisionsUnique:    Pass,
				CheckNoLostWrites:       Pass,
			},
			notes: [][]string{{CheckLinearizableReads, "stale read"}},
			check: func(t *testing.T, res *Result, dir string) {
				// v2 overwrote v1 at 30 ms; the get began at 40 ms.
				want := StaleReads{Gets: 1, Stale: 1, Frac: 1, MaxRevsBehind: 1, P50StaleMs: 10, P99StaleMs: 10, MaxStaleMs: 10}
				if !reflect.DeepEqual(res.StaleReads, want) {
					t.Errorf("StaleReads = %+v, want %+v", res.StaleReads, want)
				}
				if res.Verdict != Fail {
					t.Errorf("verdict on R1 = %s, want fail: reads are required there", res.Verdict)
				}
				if !slices.Contains(res.Visualizations, "k-reads.html") || slices.Contains(res.Visualizations, "k.html") {
					t.Errorf("Visualizations = %v, want only the reads view k-reads.html", res.Visualizations)
				}
			},
		},
		{
			name: "stale read: get finds a value after a completed delete",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				del(1, "k", at(20, 30)),
				get(2, "k", "v1", 1, at(40, 50)),
				finalMarker("k", history.MarkerDel, 2),
			),
			want: map[string]Status{CheckLinearizableWrites: Pass, CheckLinearizableReads: Fail},
		},
		{
			name: "lost read: get finds nothing after a completed put",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				get(2, "k", "", 0, at(20, 30)),
				final("k", "v1", 1),
			),
			want: map[string]Status{CheckLinearizableWrites: Pass, CheckLinearizableReads: Fail},
		},
		{
			name: "write seen before it was invoked: a get returns a value before its put began",
			h: hist(
				put(1, "k", "v1", 1, at(50, 60)),
				get(2, "k", "v1", 1, at(10, 20)),
				final("k", "v1", 1),
			),
			want: map[string]Status{CheckLinearizableWrites: Pass, CheckLinearizableReads: Fail},
		},
		{
			// Resolution dates the write by its sighting, which here
			// predates its invocation: Porcupine must never be handed
			// Return < Call (it used to panic drawing the view).
			name: "write seen before it was invoked: the watcher delivers an unknown write's value early",
			h: watchComplete(hist(
				put(1, "k", "v0", 1, at(0, 5)),
				unknown(put(1, "k", "v1", 0, at(50, 0))),
				put(2, "k", "v2", 3, at(60, 70)),
				watch("k", "v0", 1, 3), watch("k", "v1", 2, 10), watch("k", "v2", 3, 65),
				final("k", "v2", 3),
			)),
			want: map[string]Status{
				CheckLinearizableWrites: Fail,
				CheckLinearizableReads:  Fail,
				CheckRevisionsUnique:    Pass,
				CheckNoLostWrites:       Pass,
			},
			notes: [][]string{{CheckLinearizableWrites, `key "k"`, "seen before it was invoked", "put(v1)", "0.010s"}},
			check: func(t *testing.T, res *Result, dir string) {
				if !slices.Contains(res.Visualizations, "k.html") {
					t.Errorf("Visualizations = %v, want k.html", res.Visualizations)
				}
			},
		},
		{
			name: "write seen before it was invoked: the watcher delivers an acknowledged write's value early",
			h: watchComplete(hist(
				put(1, "k", "v1", 1, at(50, 60)),
				watch("k", "v1", 1, 20),
				final("k", "v1", 1),
			)),
			want: map[string]Status{
				CheckLinearizableWrites: Fail,
				CheckRevisionsUnique:    Pass,
				CheckNoLostWrites:       Pass,
			},
			notes: [][]string{{CheckLinearizableWrites, "seen before it was invoked", "put(v1)", "0.020s"}},
		},
		{
			name: "duplicate revision: one revision returned for writes on two different keys",
			h: hist(
				put(1, "a", "va", 5, at(0, 10)),
				put(2, "b", "vb", 5, at(0, 10)),
				final("a", "va", 5), final("b", "vb", 5),
			),
			want: map[string]Status{
				CheckLinearizableWrites: Pass,
				CheckLinearizableReads:  Pass,
				CheckRevisionsUnique:    Fail,
				// Revision 5 holds one message: each write, as
				// acknowledged, conflicts with a read of the other.
				CheckNoLostWrites: Fail,
			},
			notes: [][]string{{CheckRevisionsUnique, "revision 5", `"va"`, `"vb"`}, {CheckNoLostWrites, `put "va"`, "revision 5 holds", `"vb"`}},
		},
		{
			name: "duplicate revision: one revision returned for two writes on the same key",
			h: hist(
				put(1, "k", "v1", 3, at(0, 10)),
				put(2, "k", "v2", 3, at(20, 30)),
				final("k", "v2", 3),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail, CheckRevisionsUnique: Fail},
		},
		{
			name: "duplicate revision: a get names another key's acknowledged revision",
			h: hist(
				put(1, "a", "va", 1, at(0, 10)),
				put(1, "b", "vb", 2, at(20, 30)),
				get(2, "b", "vb", 1, at(40, 50)),
				final("a", "va", 1), final("b", "vb", 2),
			),
			want: map[string]Status{CheckLinearizableWrites: Pass, CheckRevisionsUnique: Fail},
		},
		{
			name: "get of a value never written",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				get(2, "k", "ghost", 2, at(20, 30)),
				final("k", "v1", 1),
			),
			want:  map[string]Status{CheckLinearizableWrites: Pass, CheckLinearizableReads: Fail},
			notes: [][]string{{CheckLinearizableReads, "never written", "ghost"}},
		},
		{
			name: "get of a value on a key never written at all",
			h: hist(
				get(2, "k", "ghost", 1, at(20, 30)),
				finalNone("k"),
			),
			want: map[string]Status{CheckLinearizableReads: Fail},
		},
		{
			name: "final read of a value never written",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				final("k", "ghost", 2),
			),
			want:  map[string]Status{CheckLinearizableWrites: Fail, CheckLinearizableReads: Fail},
			notes: [][]string{{CheckLinearizableWrites, "never written", "ghost"}},
		},
		{
			name: "acknowledged write missing from the final state",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				put(2, "k", "v2", 2, at(20, 30)),
				final("k", "v1", 1),
			),
			want: map[string]Status{
				CheckLinearizableWrites: Fail,
				CheckRevisionsUnique:    Pass,
				CheckNoLostWrites:       Fail,
			},
			notes: [][]string{
				{CheckNoLostWrites, `"v2"`, "revision 2", "ends at revision 1"},
				{CheckLinearizableWrites, "acknowledged write lost"},
			},
		},
		{
			name: "acknowledged write on a key that has no message at all",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				finalNone("k"),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail, CheckNoLostWrites: Fail},
		},
		{
			name: "acknowledged write replaced at its own revision in the final state",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				final("k", "other", 1),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail, CheckRevisionsUnique: Fail, CheckNoLostWrites: Fail},
		},
		{
			name: "acknowledged delete lost: the final state still holds the value",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				del(1, "k", at(20, 30)),
				final("k", "v1", 1),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail},
		},
		{
			name: "revision goes backwards on one key",
			h: hist(
				put(1, "k", "v1", 5, at(0, 10)),
				put(2, "k", "v2", 3, at(20, 30)),
			),
			want:  map[string]Status{CheckLinearizableWrites: Fail, CheckRevisionsUnique: Pass},
			notes: [][]string{{CheckLinearizableWrites, "revision went backwards"}},
		},
		{
			name: "revision goes backwards across an update",
			h: hist(
				put(1, "k", "v1", 5, at(0, 10)),
				update(2, "k", "v2", 5, 4, at(20, 30)),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail},
		},
		{
			name: "CAS conflict reported although the expected revision matched",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				conflict(update(2, "k", "v2", 1, 0, at(20, 30))),
				final("k", "v1", 1),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail, CheckNoLostWrites: Pass},
		},
		{
			name: "CAS conflict on a delete with a matching last revision",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				conflict(delExpect(2, "k", 1, at(20, 30))),
				final("k", "v1", 1),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail},
		},
		{
			name: "create conflict on a key that never had a message",
			h: hist(
				conflict(create(1, "k", "v1", 0, at(0, 10))),
				finalNone("k"),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail},
		},
		{
			name: "CAS update succeeds with an expected revision the key never had",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				update(2, "k", "v2", 7, 2, at(20, 30)),
				final("k", "v2", 2),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail},
		},
		{
			name: "create succeeds on a live key",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				create(2, "k", "v2", 2, at(20, 30)),
				final("k", "v2", 2),
			),
			want: map[string]Status{CheckLinearizableWrites: Fail, CheckRevisionsUnique: Pass, CheckNoLostWrites: Pass},
		},
		{
			name: "watch shows a different value at an acknowledged write's revision",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				watch("k", "other", 1, 5),
				final("k", "v1", 1),
			),
			want: map[string]Status{
				CheckLinearizableWrites: Pass,
				CheckRevisionsUnique:    Fail,
				// The stream held another message where the write was
				// acknowledged: lost, even though the final read agrees.
				CheckNoLostWrites: Fail,
			},
			notes: [][]string{{CheckRevisionsUnique, "revision 1", `"v1"`, `"other"`}, {CheckNoLostWrites, `put "v1"`, `revision 1 holds "other"`}},
		},
		{
			name: "watch shows a marker at an acknowledged write's revision",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				watchMarker("k", history.MarkerDel, 1, 5),
				final("k", "v1", 1),
			),
			want: map[string]Status{CheckRevisionsUnique: Fail},
		},
		{
			name: "watch shows one value at two revisions",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				watch("k", "v1", 1, 5), watch("k", "v1", 2, 6),
				final("k", "v1", 1),
			),
			want: map[string]Status{CheckRevisionsUnique: Fail},
		},
		{
			name: "complete watch never saw an acknowledged write that was later overwritten",
			h: watchComplete(hist(
				put(1, "k", "v1", 1, at(0, 10)),
				put(2, "k", "v2", 2, at(20, 30)),
				watch("k", "v2", 2, 25),
				final("k", "v2", 2),
			)),
			want: map[string]Status{
				CheckLinearizableWrites: Pass,
				CheckRevisionsUnique:    Pass,
				CheckNoLostWrites:       Fail,
			},
			notes: [][]string{{CheckNoLostWrites, `"v1"`, "never appeared in the stream"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, dir := runCheck(t, tc.h)
			wantStatus(t, res, tc.want)
			for _, subs := range tc.notes {
				if !notesContain(res, subs...) {
					t.Errorf("no note contains all of %q; notes:\n%s", subs, strings.Join(res.Notes, "\n"))
				}
			}
			if res.Verdict != Fail {
				t.Errorf("verdict = %s, want fail (every check is required on R1)", res.Verdict)
			}
			for _, v := range res.Visualizations {
				if _, err := os.Stat(filepath.Join(dir, v)); err != nil {
					t.Errorf("listed visualization %s: %v", v, err)
				}
			}
			if tc.check != nil {
				tc.check(t, res, dir)
			}
		})
	}
}

// realistic is a linearizable history of three clients on two keys with
// overlapping operations, every op kind, plain and CAS writes, conflicts,
// create over a delete marker, purge, and gets that race with writes.
// Revisions are bucket-wide: the stream, in order of linearization, is
//
//	1 a=a1  2 b=b1  3 a=a2  4 b=b2  5 a:del  6 a=a3  7 b:purge  8 a=a4  9 b=b3  10 a=a5
func realistic() *history.History {
	return watchComplete(hist(
		// client 1
		put(1, "a", "a1", 1, at(0, 10)),
		conflict(update(1, "a", "a-lost", 1, 0, at(12, 22))), // a2 won at 15
		delExpect(1, "a", 3, at(25, 35)),
		put(1, "a", "a4", 8, at(50, 70)),
		get(1, "b", "b3", 9, at(71, 80)),
		// client 2
		create(2, "b", "b1", 2, at(2, 12)),
		update(2, "b", "b2", 2, 4, at(14, 24)),
		get(2, "a", "a2", 3, at(28, 40)),    // concurrent with the delete: sees the old value
		create(2, "a", "a3", 6, at(41, 50)), // over the delete marker
		get(2, "a", "a3", 6, at(55, 62)),    // concurrent with put a4: sees the old value
		put(2, "b", "b3", 9, at(63, 75)),
		conflict(delExpect(2, "a", 8, at(76, 90))), // a5 won at 80
		// client 3
		get(3, "a", "a1", 1, at(6, 9)),
		update(3, "a", "a2", 1, 3, at(10, 20)),
		get(3, "a", "", 0, at(36, 45)),
		conflict(create(3, "b", "b-lost", 0, at(46, 52))),
		purge(3, "b", at(53, 60)),
		get(3, "b", "", 0, at(61, 66)),
		get(3, "a", "a4", 8, at(67, 69)), // concurrent with put a4's ack: sees the new value
		update(3, "a", "a5", 8, 10, at(70, 85)),
		// the recording watcher
		watch("a", "a1", 1, 6), watch("b", "b1", 2, 7), watch("a", "a2", 3, 16), watch("b", "b2", 4, 19),
		watchMarker("a", history.MarkerDel, 5, 31), watch("a", "a3", 6, 46),
		watchMarker("b", history.MarkerPurge, 7, 56), watch("a", "a4", 8, 66), watch("b", "b3", 9, 73),
		watch("a", "a5", 10, 81),
		final("a", "a5", 10), final("b", "b3", 9),
	))
}

// TestCheckPassesLinearizableHistories feeds the checker histories that are
// what NATS KV promises and asserts that every check passes.
func TestCheckPassesLinearizableHistories(t *testing.T) {
	tests := []struct {
		name  string
		h     *history.History
		check func(t *testing.T, res *Result)
	}{
		{
			name: "realistic concurrent history of every op kind",
			h:    realistic(),
			check: func(t *testing.T, res *Result) {
				want := StaleReads{Gets: 5}
				if !reflect.DeepEqual(res.StaleReads, want) {
					t.Errorf("StaleReads = %+v, want %+v", res.StaleReads, want)
				}
			},
		},
		{
			name: "realistic history without a watcher",
			h: func() *history.History {
				h := realistic()
				h.Watch, h.End.WatchComplete = nil, false
				return h
			}(),
		},
		{
			name: "create over a delete marker",
			h: watchComplete(hist(
				put(1, "k", "v1", 1, at(0, 10)),
				del(1, "k", at(20, 30)),
				create(2, "k", "v2", 3, at(40, 50)),
				get(3, "k", "v2", 3, at(60, 70)),
				watch("k", "v1", 1, 5), watchMarker("k", history.MarkerDel, 2, 25), watch("k", "v2", 3, 45),
				final("k", "v2", 3),
			)),
		},
		{
			name: "create over a purge marker, on a bucket whose other key moved the revision",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				purge(1, "k", at(20, 30)),
				put(2, "other", "o1", 3, at(31, 35)),
				create(2, "k", "v2", 4, at(40, 50)),
				final("k", "v2", 4), final("other", "o1", 3),
			),
		},
		{
			name: "create conflict on a deleted key: another writer slipped in between nats.go's two requests",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				del(1, "k", at(20, 30)),
				conflict(create(2, "k", "v2", 0, at(40, 60))),
				create(3, "k", "v3", 3, at(41, 50)),
				final("k", "v3", 3),
			),
		},
		{
			name: "create conflict on a live key",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				conflict(create(2, "k", "v2", 0, at(20, 30))),
				final("k", "v1", 1),
			),
		},
		{
			name: "delete and purge of a key never written leave markers",
			h: hist(
				del(1, "k", at(0, 10)),
				get(2, "k", "", 0, at(20, 30)),
				purge(1, "k", at(40, 50)),
				finalMarker("k", history.MarkerPurge, 2),
			),
		},
		{
			name: "CAS delete with the right revision, then CAS update on the marker's revision",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				delExpect(1, "k", 1, at(20, 30)),
				update(2, "k", "v2", 2, 3, at(40, 50)),
				final("k", "v2", 3),
			),
		},
		{
			name: "concurrent puts acknowledged in the other order than invoked",
			h: hist(
				put(1, "k", "v1", 2, at(0, 20)),
				put(2, "k", "v2", 1, at(5, 15)),
				get(3, "k", "v1", 2, at(25, 30)),
				final("k", "v1", 2),
			),
		},
		{
			name: "concurrent gets during a write return the old or the new value",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				put(1, "k", "v2", 2, at(20, 50)),
				get(2, "k", "v1", 1, at(21, 60)), // spans the whole put
				get(3, "k", "v1", 1, at(22, 28)),
				get(4, "k", "v2", 2, at(25, 35)),
				get(5, "k", "v1", 1, at(26, 33)), // overlaps the get that saw v2
				get(6, "k", "v2", 2, at(36, 45)),
				get(3, "k", "v2", 2, at(55, 58)),
				final("k", "v2", 2),
			),
			check: func(t *testing.T, res *Result) {
				if res.StaleReads.Stale != 0 || res.StaleReads.Gets != 6 {
					t.Errorf("StaleReads = %+v, want 6 gets, none stale", res.StaleReads)
				}
			},
		},
		{
			name: "CAS updates by several clients, the losers told conflict",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				update(1, "k", "u1", 1, 2, at(20, 30)),
				conflict(update(2, "k", "u2", 1, 0, at(20, 30))),
				conflict(update(3, "k", "u3", 1, 0, at(21, 31))),
				update(2, "k", "u4", 2, 3, at(40, 50)),
				conflict(update(3, "k", "u5", 2, 0, at(40, 50))),
				final("k", "u4", 3),
			),
		},
		{
			name: "CAS with revisions taken from a bucket shared by other keys",
			h: hist(
				put(1, "a", "a1", 1, at(0, 10)),
				put(2, "b", "b1", 2, at(0, 10)),
				update(1, "a", "a2", 1, 3, at(20, 30)),
				update(2, "b", "b2", 2, 4, at(20, 30)),
				conflict(update(3, "a", "a3", 2, 0, at(40, 50))), // 2 is b's revision
				final("a", "a2", 3), final("b", "b2", 4),
			),
		},
		{
			name: "failures that wrote nothing say nothing about the key",
			h: watchComplete(hist(
				put(1, "k", "v1", 1, at(0, 10)),
				failed(put(1, "k", "never", 0, at(20, 30)), history.ClassNoResponders),
				failed(get(2, "k", "", 0, at(40, 50)), history.ClassUnavailable),
				unknown(get(3, "k", "", 0, at(40, 0))),
				watch("k", "v1", 1, 5),
				final("k", "v1", 1),
			)),
		},
		{
			name: "unknown CAS update whose effect a later get observes",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				unknown(update(2, "k", "v2", 1, 0, at(20, 0))),
				get(3, "k", "v2", 2, at(40, 50)),
				put(1, "k", "v3", 3, at(60, 70)),
				final("k", "v3", 3),
			),
			check: func(t *testing.T, res *Result) {
				// Nothing in the stream names v2 now, so it stays unknown;
				// the get is explained by linearizing the update before it.
				if got := res.Resolution[history.OpUpdate]; got == nil || *got != (Resolution{StillUnknown: 1}) {
					t.Errorf("Resolution[update] = %+v, want 1 still unknown", got)
				}
			},
		},
		{
			name: "unknown CAS update resolved from the final read, observed earlier by a get",
			h: hist(
				put(1, "k", "v1", 1, at(0, 10)),
				unknown(update(2, "k", "v2", 1, 0, at(20, 0))),
				get(3, "k", "v2", 2, at(40, 50)),
				final("k", "v2", 2),
			),
			check: func(t *testing.T, res *Result) {
				if got := res.Resolution[history.OpUpdate]; got == nil || *got != (Resolution{Happened: 1}) {
					t.Errorf("Resolution[update] = %+v, want 1 happened", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, dir := runCheck(t, tc.h)
			wantStatus(t, res, allPass)
			if res.Verdict != Pass {
				t.Errorf("verdict = %s, want pass", res.Verdict)
			}
			if len(res.Notes) != 0 || len(res.Visualizations) != 0 {
				t.Errorf("notes %q and views %q on a passing history", res.Notes, res.Visualizations)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%d files written to VisualizeDir on a passing history", len(entries))
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// TestUnknownWritesResolution: unknown writes are resolved from what the
// stream holds — seen means happened, unseen by a complete watcher means not
// happened, otherwise still unknown — and none of the three is a violation.
func TestUnknownWritesResolution(t *testing.T) {
	base := func(extra ...history.Record) []history.Record {
		return append([]history.Record{
			put(1, "k", "v1", 1, at(0, 10)),
			watch("k", "v1", 1, 5),
		}, extra...)
	}
	tests := []struct {
		name string
		h    *history.History
		want map[string]Resolution
	}{
		{
			name: "put seen by the watcher happened",
			h: hist(base(
				unknown(put(2, "k", "v2", 0, at(20, 0))),
				watch("k", "v2", 2, 25),
				get(3, "k", "v2", 2, at(30, 40)),
				final("k", "v2", 2),
			)...),
			want: map[string]Resolution{history.OpPut: {Happened: 1}},
		},
		{
			name: "put seen by a complete watcher, since overwritten, happened",
			h: watchComplete(hist(base(
				unknown(put(2, "k", "v2", 0, at(20, 0))),
				watch("k", "v2", 2, 25),
				put(1, "k", "v3", 3, at(30, 40)),
				watch("k", "v3", 3, 35),
				final("k", "v3", 3),
			)...)),
			want: map[string]Resolution{history.OpPut: {Happened: 1}},
		},
		{
			name: "put missed by a complete watcher did not happen",
			h: watchComplete(hist(base(
				unknown(put(2, "k", "v2", 0, at(20, 0))),
				get(3, "k", "v1", 1, at(30, 40)),
				final("k", "v1", 1),
			)...)),
			want: map[string]Resolution{history.OpPut: {NotHappened: 1}},
		},
		{
			name: "put missed by an incomplete watcher is still unknown",
			h: hist(base(
				unknown(put(2, "k", "v2", 0, at(20, 0))),
				get(3, "k", "v1", 1, at(30, 40)),
				final("k", "v1", 1),
			)...),
			want: map[string]Resolution{history.OpPut: {StillUnknown: 1}},
		},
		{
			name: "unknown creates, updates and deletes of every fate",
			h: watchComplete(hist(base(
				unknown(update(2, "k", "u-yes", 1, 0, at(20, 0))),
				watch("k", "u-yes", 2, 25),
				unknown(update(3, "k", "u-no", 1, 0, at(21, 0))),
				unknown(del(4, "k", at(30, 0))), // deletes carry no value: never resolvable
				watchMarker("k", history.MarkerDel, 3, 35),
				unknown(create(5, "k", "c-yes", 0, at(40, 0))),
				watch("k", "c-yes", 4, 45),
				unknown(create(6, "k", "c-no", 0, at(50, 0))),
				get(1, "k", "c-yes", 4, at(60, 70)),
				final("k", "c-yes", 4),
			)...)),
			want: map[string]Resolution{
				history.OpUpdate: {Happened: 1, NotHappened: 1},
				history.OpDelete: {StillUnknown: 1},
				history.OpCreate: {Happened: 1, NotHappened: 1},
			},
		},
		{
			// nats.go Create: the first request times out but wrote; another
			// client deletes; the retry over the marker conflicts; Create
			// reports the conflict. The value in the stream says it happened.
			name: "create reported failed but found in the stream happened",
			h: watchComplete(hist(
				conflict(create(2, "k", "c2", 0, at(20, 90))),
				watch("k", "c2", 1, 30),
				del(3, "k", at(40, 50)),
				watchMarker("k", history.MarkerDel, 2, 45),
				finalMarker("k", history.MarkerDel, 2),
			)),
			want: map[string]Resolution{history.OpCreate: {FailedButSeen: 1}},
		},
		{
			name: "many concurrent unknown puts, one of which the final read saw",
			h: hist(base(
				unknown(put(2, "k", "x2", 0, at(20, 0))),
				unknown(put(3, "k", "x3", 0, at(21, 0))),
				unknown(put(4, "k", "x4", 0, at(22, 0))),
				unknown(put(5, "k", "x5", 0, at(23, 0))),
				unknown(put(6, "k", "x6", 0, at(24, 0))),
				final("k", "x4", 9),
			)...),
			want: map[string]Resolution{history.OpPut: {Happened: 1, StillUnknown: 4}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := runCheck(t, tc.h)
			wantStatus(t, res, allPass)
			got := map[string]Resolution{}
			for op, r := range res.Resolution {
				got[op] = *r
			}
			if len(got) != len(tc.want) {
				t.Errorf("Resolution = %+v, want %+v", got, tc.want)
			}
			for op, w := range tc.want {
				if got[op] != w {
					t.Errorf("Resolution[%s] = %+v, want %+v", op, got[op], w)
				}
			}
		})
	}
}

// hardHistory is linearizable but takes Porcupine exponential time: n
// concurrent unknown puts of which only the first happened (the final read
// sees it, at its revision), and nothing says the others did not. Every
// order that lets one of the others land before the final read has to be
// ruled out first, so no machine decides it in the tests' tiny budgets.
// The stream's last sequence is not known, so neither is the key's message
// sequence, and the sweep cannot take the search's place.
func hardHistory(n int) *history.History {
	h := knownSequenceHardHistory(n)
	h.End.LastSeq = 0
	return h
}

// knownSequenceHardHistory is hardHistory with the stream's last sequence
// known: then the key's only message is known, the unknown puts never seen
// did not take effect, and the sweep decides it in linear time.
func knownSequenceHardHistory(n int) *history.History {
	var recs []history.Record
	for i := 1; i <= n; i++ {
		recs = append(recs, unknown(put(i, "k", fmt.Sprintf("x%d", i), 0, at(int64(i), 0))))
	}
	first := recs[0].Value
	recs = append(recs, final("k", first, 1))
	return hist(recs...)
}

// TestKnownSequenceDecidesWithoutSearch: what takes Porcupine exponential
// time takes the sweep one pass when the key's messages are known.
func TestKnownSequenceDecidesWithoutSearch(t *testing.T) {
	res := Check(knownSequenceHardHistory(40), Options{Timeout: 20 * time.Millisecond, VisualizeDir: t.TempDir()})
	wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Pass, CheckLinearizableReads: Pass})
	if c := checkNamed(t, res, CheckLinearizableReads); !strings.Contains(c.Detail, "every key by its message sequence") {
		t.Errorf("detail %q: the key was searched", c.Detail)
	}
	// The read check's operations include the writes: its pass settles
	// the write check.
	if c := checkNamed(t, res, CheckLinearizableWrites); !strings.Contains(c.Detail, "shown by linearizable-reads") {
		t.Errorf("detail %q: the write check was not settled by the read check", c.Detail)
	}
}

// TestTimeoutIsUnknownNotPass: a check that cannot finish in its budget is
// reported unknown, and so is the verdict.
func TestTimeoutIsUnknownNotPass(t *testing.T) {
	for _, timeout := range []time.Duration{time.Nanosecond, time.Millisecond, 20 * time.Millisecond} {
		t.Run(timeout.String(), func(t *testing.T) {
			h := hardHistory(40)
			start := time.Now()
			res := Check(h, Options{Timeout: timeout, VisualizeDir: t.TempDir()})
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Check took %s with a %s budget", took, timeout)
			}
			wantStatus(t, res, map[string]Status{
				CheckLinearizableWrites: Unknown,
				CheckLinearizableReads:  Unknown,
				CheckRevisionsUnique:    Pass,
				CheckNoLostWrites:       Pass,
			})
			if c := checkNamed(t, res, CheckLinearizableWrites); !strings.Contains(c.Detail, "timed out") {
				t.Errorf("detail %q does not say the check timed out", c.Detail)
			}
			if res.Verdict != Unknown {
				t.Errorf("verdict = %s, want unknown", res.Verdict)
			}
			if got := *res.Resolution[history.OpPut]; got != (Resolution{Happened: 1, StillUnknown: 39}) {
				t.Errorf("Resolution[put] = %+v", got)
			}
		})
	}
}

// TestHardHistorySmallEnoughPasses shows that hardHistory is linearizable:
// small instances pass when the budget suffices, so the timeout test above
// measures the budget, not a violation.
func TestHardHistorySmallEnoughPasses(t *testing.T) {
	res, _ := runCheck(t, hardHistory(8))
	wantStatus(t, res, allPass)
}

func TestVerdict(t *testing.T) {
	row := func(name string, st Status, required bool) CheckResult {
		return CheckResult{Name: name, Result: st, Required: required}
	}
	tests := []struct {
		name   string
		checks []CheckResult
		want   Status
	}{
		{"nothing to fold", nil, Pass},
		{"all required pass", []CheckResult{row("a", Pass, true), row("b", Pass, true)}, Pass},
		{"required fail", []CheckResult{row("a", Pass, true), row("b", Fail, true)}, Fail},
		{"required unknown", []CheckResult{row("a", Pass, true), row("b", Unknown, true)}, Unknown},
		{"required skipped is inconclusive", []CheckResult{row("a", Skipped, true)}, Unknown},
		{"required fail beats an earlier unknown", []CheckResult{row("a", Unknown, true), row("b", Fail, true)}, Fail},
		{"required fail beats a later unknown", []CheckResult{row("a", Fail, true), row("b", Unknown, true)}, Fail},
		{"non-required fail", []CheckResult{row("a", Pass, true), row("b", Fail, false)}, Pass},
		{"non-required unknown", []CheckResult{row("a", Pass, true), row("b", Unknown, false)}, Pass},
		{"non-required fail beside a required unknown", []CheckResult{row("a", Unknown, true), row("b", Fail, false)}, Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Verdict(tc.checks); got != tc.want {
				t.Errorf("Verdict = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDefaultRequired(t *testing.T) {
	if got := DefaultRequired(1); !slices.Equal(got, slices.DeleteFunc(slices.Clone(coreChecks), func(c string) bool { return c == CheckReplicasConverge })) {
		t.Errorf("DefaultRequired(1) = %v, want every check but replicas-converge", got)
	}
	got := DefaultRequired(3)
	if slices.Contains(got, CheckLinearizableReads) {
		t.Errorf("DefaultRequired(3) = %v: reads must not be required on replicated buckets", got)
	}
	for _, c := range []string{CheckLinearizableWrites, CheckRevisionsUnique, CheckNoLostWrites, CheckReadsValid, CheckReplicasConverge, CheckBucketIntact} {
		if !slices.Contains(got, c) {
			t.Errorf("DefaultRequired(3) = %v lacks %s", got, c)
		}
	}
	if ext := DefaultRequiredExternal(3); slices.Contains(ext, CheckReplicasConverge) || !slices.Contains(ext, CheckNoLostWrites) {
		t.Errorf("DefaultRequiredExternal(3) = %v: replicas-converge reported only, the rest required", ext)
	}
	// The result is the caller's to change: changing it changes neither the
	// next call's result nor the package's lists.
	for _, replicas := range []int{1, 3} {
		want := slices.Clone(DefaultRequired(replicas))
		DefaultRequired(replicas)[0] = "changed"
		if got := DefaultRequired(replicas); !slices.Equal(got, want) {
			t.Errorf("after changing one result, DefaultRequired(%d) = %v, want %v: results share a slice", replicas, got, want)
		}
	}
	if AllChecks[0] != CheckLinearizableWrites || coreChecks[0] != CheckLinearizableWrites {
		t.Fatalf("DefaultRequired shares its slice with AllChecks or coreChecks")
	}
}

// TestCheckVerdictFolding: which checks are required decides the verdict.
func TestCheckVerdictFolding(t *testing.T) {
	staleRead := func() *history.History {
		return hist(
			put(1, "k", "v1", 1, at(0, 10)),
			put(1, "k", "v2", 2, at(20, 30)),
			get(2, "k", "v1", 1, at(40, 50)),
			final("k", "v2", 2),
		)
	}
	lostUpdate := func() *history.History {
		return hist(
			put(1, "k", "v1", 1, at(0, 10)),
			update(1, "k", "c1", 1, 2, at(20, 30)),
			update(2, "k", "c2", 1, 3, at(21, 31)),
			final("k", "c2", 3),
		)
	}
	tests := []struct {
		name     string
		h        *history.History
		required []string
		want     Status
		// requiredChecks are the checks the result must mark required.
		requiredChecks []string
	}{
		{
			name: "stale read on R1: reads required, fail",
			h:    staleRead(), want: Fail, requiredChecks: DefaultRequired(1),
		},
		{
			name: "stale read on R3: reads measured but not required, pass",
			h:    replicated(staleRead()), want: Pass,
			requiredChecks: DefaultRequired(3),
		},
		{
			name: "stale read on R3 whose scenario requires reads: fail",
			h: func() *history.History {
				h := replicated(staleRead())
				h.Meta.Required = []string{CheckLinearizableReads}
				return h
			}(),
			want: Fail, requiredChecks: []string{CheckLinearizableReads, CheckMonotonicReads, CheckReadYourWrites},
		},
		{
			name: "lost update, options require only revisions-unique: pass",
			h:    lostUpdate(), required: []string{CheckRevisionsUnique}, want: Pass,
			// revision-order comes with revisions-unique, whose order it checks.
			requiredChecks: []string{CheckRevisionsUnique, CheckRevisionOrder},
		},
		{
			name: "options override the history's own list",
			h: func() *history.History {
				h := lostUpdate()
				h.Meta.Required = []string{CheckRevisionsUnique}
				return h
			}(),
			required: []string{CheckLinearizableWrites}, want: Fail,
			// refusals-definite comes with the write check it was split
			// from, revision-order with the order it assumes.
			requiredChecks: []string{CheckLinearizableWrites, CheckRefusalsDefinite, CheckRevisionOrder},
		},
		{
			name: "history without meta: R1 defaults",
			h: func() *history.History {
				h := staleRead()
				h.Meta = nil
				return h
			}(),
			want: Fail, requiredChecks: DefaultRequired(1),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Check(tc.h, Options{Timeout: 10 * time.Second, VisualizeDir: t.TempDir(), Required: tc.required})
			if res.Verdict != tc.want {
				t.Errorf("verdict = %s, want %s\n%s", res.Verdict, tc.want, dump(res))
			}
			if len(res.Checks) != len(AllChecks) {
				t.Errorf("%d checks reported, want %d", len(res.Checks), len(AllChecks))
			}
			for _, c := range res.Checks {
				if want := slices.Contains(tc.requiredChecks, c.Name); c.Required != want {
					t.Errorf("%s required = %t, want %t", c.Name, c.Required, want)
				}
			}
		})
	}
}

// TestManyFailingKeys: every failing key is named and drawn, only the
// failing ones, while the explanations stay bounded.
func TestManyFailingKeys(t *testing.T) {
	const bad = maxNotesPerCheck + 3
	var recs []history.Record
	rev := uint64(0)
	for i := 0; i < bad+2; i++ {
		key := fmt.Sprintf("key/%d", i) // not a safe file name as it is
		base := int64(100 * i)
		rev++
		recs = append(recs, put(1, key, key+"-v1", rev, at(base, base+10)))
		if i < bad { // a lost update on this key
			recs = append(recs,
				update(1, key, key+"-c1", rev, rev+1, at(base+20, base+30)),
				update(2, key, key+"-c2", rev, rev+2, at(base+21, base+31)),
				final(key, key+"-c2", rev+2))
			rev += 2
		} else {
			recs = append(recs, final(key, key+"-v1", rev))
		}
	}
	res, dir := runCheck(t, hist(recs...))
	wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Fail, CheckRevisionsUnique: Pass, CheckNoLostWrites: Pass})

	c := checkNamed(t, res, CheckLinearizableWrites)
	if !strings.Contains(c.Detail, fmt.Sprintf("%d of %d keys", bad, bad+2)) {
		t.Errorf("detail %q does not count %d of %d keys", c.Detail, bad, bad+2)
	}
	explained := 0
	for _, n := range res.Notes {
		if strings.HasPrefix(n, CheckLinearizableWrites+": key ") {
			explained++
		}
	}
	if explained == 0 || explained > maxNotesPerCheck {
		t.Errorf("%d keys explained in notes, want 1..%d", explained, maxNotesPerCheck)
	}
	for i := 0; i < bad+2; i++ {
		view := fmt.Sprintf("key_%d.html", i)
		_, err := os.Stat(filepath.Join(dir, view))
		if drawn := err == nil; drawn != (i < bad) || slices.Contains(res.Visualizations, view) != drawn {
			t.Errorf("key/%d: view written %t, listed %t; want both %t", i, drawn, slices.Contains(res.Visualizations, view), i < bad)
		}
	}
}

// TestInterruptedRun: without the final phase nothing shows whether
// acknowledged writes survived, so no-lost-writes is unknown, not pass.
func TestInterruptedRun(t *testing.T) {
	ops := func() *history.History {
		return hist(
			put(1, "k", "v1", 1, at(0, 10)),
			update(2, "k", "v2", 1, 2, at(20, 30)),
			get(3, "k", "v2", 2, at(40, 50)),
			unknown(put(1, "k", "v3", 0, at(60, 0))),
			watch("k", "v1", 1, 5), watch("k", "v2", 2, 25),
		)
	}
	tests := []struct {
		name string
		h    *history.History
	}{
		{"killed: no end record", func() *history.History { h := ops(); h.End = nil; return h }()},
		{"interrupted before the final phase", func() *history.History {
			h := ops()
			h.End = &history.End{Interrupted: true, At: ms(70), LastSeq: 2}
			return h
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := runCheck(t, tc.h)
			// The linearizability checks held on what was recorded, but a
			// pass needs the final reads (a lost write shows there).
			wantStatus(t, res, map[string]Status{
				CheckLinearizableWrites: Unknown,
				CheckLinearizableReads:  Unknown,
				CheckRevisionsUnique:    Pass,
				CheckNoLostWrites:       Unknown,
			})
			for _, name := range []string{CheckLinearizableWrites, CheckLinearizableReads} {
				if c := checkNamed(t, res, name); !strings.Contains(c.Detail, "before the final reads") && !strings.Contains(c.Detail, "the run did not finish") || !strings.Contains(c.Detail, "on what was recorded") {
					t.Errorf("%s says %q", name, c.Detail)
				}
			}
			if res.Verdict != Unknown {
				t.Errorf("verdict = %s, want unknown", res.Verdict)
			}
			if got := *res.Resolution[history.OpPut]; got != (Resolution{StillUnknown: 1}) {
				t.Errorf("Resolution[put] = %+v, want still unknown: the watcher cannot vouch for the end", got)
			}
			// Whatever the required list says: no pass without the end.
			only := Check(tc.h, Options{Timeout: 10 * time.Second, Required: []string{CheckLinearizableWrites}})
			if only.Verdict != Unknown {
				t.Errorf("requiring only %s: verdict %s, want unknown", CheckLinearizableWrites, only.Verdict)
			}
		})
	}
}

// TestEmptyHistory: nothing to check is inconclusive, not a pass.
func TestEmptyHistory(t *testing.T) {
	res, _ := runCheck(t, hist())
	wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Skipped, CheckLinearizableReads: Skipped})
	if res.Verdict == Pass {
		t.Errorf("verdict of an empty history = pass")
	}
}

// TestCheckLeavesHistoryAlone: resolution rewrites copies, never the
// caller's records, so checking twice gives the same answer.
func TestCheckLeavesHistoryAlone(t *testing.T) {
	h := watchComplete(hist(
		put(1, "k", "v1", 1, at(0, 10)),
		unknown(put(2, "k", "v2", 0, at(20, 0))),
		unknown(put(3, "k", "v3", 0, at(21, 0))),
		watch("k", "v1", 1, 5), watch("k", "v2", 2, 25),
		final("k", "v2", 2),
	))
	before := *h
	before.Ops = slices.Clone(h.Ops)
	first, _ := runCheck(t, h)
	if !reflect.DeepEqual(before.Ops, h.Ops) {
		t.Errorf("Check modified the history's ops:\nbefore %+v\nafter  %+v", before.Ops, h.Ops)
	}
	second, _ := runCheck(t, h)
	// Details carry durations; compare what does not depend on timing.
	outcome := func(r *Result) string {
		s := fmt.Sprint(r.Verdict, r.Notes, r.ResolutionLine(), r.StaleReads)
		for _, c := range r.Checks {
			s += fmt.Sprint(c.Name, c.Result, c.Required)
		}
		return s
	}
	if outcome(first) != outcome(second) {
		t.Errorf("second check differs:\n%s\nfirst:\n%s", dump(second), dump(first))
	}
}

// TestCheckOfflineRoundTrip: a history written as JSONL and read back, as
// `kvharness check` does, reaches the same results as the one in memory.
func TestCheckOfflineRoundTrip(t *testing.T) {
	for _, h := range []*history.History{realistic(), watchComplete(hist(
		put(1, "k", "v1", 1, at(0, 10)),
		update(1, "k", "c1", 1, 2, at(20, 30)),
		update(2, "k", "c2", 1, 3, at(21, 31)),
		unknown(put(3, "k", "gone", 0, at(22, 0))),
		update(3, "k", "zero", 0, 4, at(40, 50)), // a real precondition of 0, wrongly acknowledged
		watch("k", "v1", 1, 5), watch("k", "c1", 2, 25), watch("k", "c2", 3, 26), watch("k", "zero", 4, 45),
		final("k", "zero", 4),
	))} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(enc.Encode(history.Record{Kind: history.KindMeta, Meta: h.Meta}))
		for _, group := range [][]history.Record{h.Ops, h.Watch, h.Final} {
			for _, r := range group {
				must(enc.Encode(r))
			}
		}
		must(enc.Encode(history.Record{Kind: history.KindEnd, End: h.End}))
		back, err := history.Read(&buf)
		must(err)

		want, _ := runCheck(t, h)
		got, _ := runCheck(t, back)
		if got.Verdict != want.Verdict || len(got.Checks) != len(want.Checks) {
			t.Fatalf("offline:\n%s\nin memory:\n%s", dump(got), dump(want))
		}
		for i := range got.Checks {
			if got.Checks[i].Result != want.Checks[i].Result {
				t.Errorf("offline %s = %s, in memory %s", got.Checks[i].Name, got.Checks[i].Result, want.Checks[i].Result)
			}
		}
	}
}

// Views are drawn for failing keys of required checks; a check that is only
// reported (linearizable-reads on R3: direct gets may be stale) gets them
// on request, for they cost more disk than the history on a long run.
func TestViewsOfReportedChecksOnRequest(t *testing.T) {
	h := replicated(hist(
		put(1, "k", "v1", 1, at(0, 1)),
		put(1, "k", "v2", 2, at(2, 3)),
		get(2, "k", "v1", 1, at(5, 6)), // stale: v2 was acknowledged before
		final("k", "v2", 2),
	))
	for _, all := range []bool{false, true} {
		res := Check(h, Options{Timeout: 10 * time.Second, VisualizeDir: t.TempDir(), AllViews: all})
		reads := checkNamed(t, res, CheckLinearizableReads)
		if reads.Result != Fail || reads.Required {
			t.Fatalf("linearizable-reads on R3 with a stale get: %s, required %v", reads.Result, reads.Required)
		}
		if drawn := len(res.Visualizations) > 0; drawn != all {
			t.Errorf("AllViews %v: views %v", all, res.Visualizations)
		}
	}
}
