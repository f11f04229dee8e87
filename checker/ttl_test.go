package checker

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// withTTL gives a write a per-message TTL of ttlMs milliseconds.
func withTTL(r history.Record, ttlMs int64) history.Record {
	r.TTL = ms(ttlMs)
	return r
}

// The session key "s" is written at 0..10 ms with a TTL of 1 s: it expires
// by 1010 ms, and with the default tolerance of 1 s must not be read from
// 2010 ms on.
func TestTTLExpiry(t *testing.T) {
	write := withTTL(create(1, "s", "v1", 1, at(0, 10)), 1000)
	tests := []struct {
		name        string
		recs        []history.Record
		toleranceMs int64
		want        Status
		note        []string
	}{
		{
			name: "read before expiry",
			recs: []history.Record{write, get(2, "s", "v1", 1, at(900, 905)), finalNone("s")},
			want: Pass,
		},
		{
			name: "read after expiry within the tolerance",
			recs: []history.Record{write, get(2, "s", "v1", 1, at(1500, 1505)), finalNone("s")},
			want: Pass,
		},
		{
			name: "read exactly the tolerance after expiry",
			recs: []history.Record{write, get(2, "s", "v1", 1, at(2010, 2015)), finalNone("s")},
			want: Pass,
		},
		{
			name: "read past the tolerance",
			recs: []history.Record{write, get(2, "s", "v1", 1, at(2100, 2105)), finalNone("s")},
			want: Fail,
			note: []string{`get by client 2 of key "s" at 2.100s returned v1`, "written with TTL 1s by 0.010s", "1.09s past its expiry (tolerance 1s)"},
		},
		{
			name: "read past the tolerance that found nothing",
			recs: []history.Record{write, get(2, "s", "", 0, at(2100, 2105)), finalNone("s")},
			want: Pass,
		},
		{
			// The clock starts at the acknowledgement: a slow write
			// expires later.
			name: "slow acknowledgement moves the expiry",
			recs: []history.Record{withTTL(create(1, "s", "v1", 1, at(0, 1500)), 1000), get(2, "s", "v1", 1, at(3400, 3405)), finalNone("s")},
			want: Pass,
		},
		{
			name: "a newer write has its own TTL",
			recs: []history.Record{
				write,
				withTTL(update(1, "s", "v2", 1, 2, at(800, 810)), 1000),
				get(2, "s", "v2", 2, at(2500, 2505)), // v2 expires by 1810, read 690 ms late
				finalNone("s"),
			},
			want: Pass,
		},
		{
			name: "final read of a key that never expired",
			recs: []history.Record{write, final("s", "v1", 1)},
			want: Fail,
			note: []string{`final read of key "s" at 10.000s returned v1`, "8.99s past its expiry"},
		},
		{
			name: "final read of an expired key",
			recs: []history.Record{write, finalNone("s")},
			want: Pass,
		},
		{
			name: "final read of a value written without a TTL",
			recs: []history.Record{write, put(1, "s", "p1", 2, at(100, 110)), final("s", "p1", 2)},
			want: Pass,
		},
		{
			name:        "a tighter tolerance",
			recs:        []history.Record{write, get(2, "s", "v1", 1, at(1500, 1505)), finalNone("s")},
			toleranceMs: 200,
			want:        Fail,
			note:        []string{`get by client 2 of key "s"`, "490ms past its expiry (tolerance 200ms)"},
		},
		{
			name:        "a looser tolerance",
			recs:        []history.Record{write, get(2, "s", "v1", 1, at(2100, 2105)), finalNone("s")},
			toleranceMs: 5000,
			want:        Pass,
		},
		{
			name:        "a loose tolerance still catches a key that never expired",
			recs:        []history.Record{write, final("s", "v1", 1)},
			toleranceMs: 5000,
			want:        Fail,
			note:        []string{"final read", "(tolerance 5s)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := patternRun(history.PatternSessions, tc.recs...)
			h.Meta.TTLToleranceMs = tc.toleranceMs
			var notes [][]string
			if tc.note != nil {
				notes = append(notes, append([]string{CheckTTLExpiry + ": "}, tc.note...))
			}
			res := wantCheck(t, h, CheckTTLExpiry, tc.want, notes...)
			// The model knows nothing of expiry: the linearizability
			// checks stand aside rather than fail.
			wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Skipped, CheckLinearizableReads: Skipped})
		})
	}
}

func TestTTLExpirySkippedWithoutTTLs(t *testing.T) {
	h := patternRun(history.PatternSessions, put(1, "s", "v1", 1, at(0, 10)), get(2, "s", "v1", 1, at(5000, 5005)), final("s", "v1", 1))
	wantCheck(t, h, CheckTTLExpiry, Skipped)
	// A failed TTL write is no write with a TTL.
	h = patternRun(history.PatternSessions, failed(withTTL(create(1, "s", "v1", 0, at(0, 10)), 1000), history.ClassBadRequest), finalNone("s"))
	wantCheck(t, h, CheckTTLExpiry, Skipped)
}

// A TTL write of unknown outcome expires counting from when it was first
// seen.
func TestTTLExpiryUnknownWriteCountsFromSighting(t *testing.T) {
	h := patternRun(history.PatternSessions,
		unknown(withTTL(create(1, "s", "v1", 0, at(0, 0)), 1000)),
		watch("s", "v1", 1, 50), // in the stream by 50 ms: expires by 1050
		get(2, "s", "v1", 1, at(2100, 2105)),
		finalNone("s"),
	)
	wantCheck(t, h, CheckTTLExpiry, Fail, []string{CheckTTLExpiry + ": ", "written with TTL 1s by 0.050s", "1.05s past its expiry"})
	// Never seen: when it landed is unknown, so nothing can be said.
	h = patternRun(history.PatternSessions,
		unknown(withTTL(create(1, "s", "v1", 0, at(0, 0)), 1000)),
		finalNone("s"),
	)
	wantCheck(t, h, CheckTTLExpiry, Skipped)
}

// The false alarm of the built-in leader-election under leader partitions
// on 2.15.2 (seeds 18 and 19): a lease written with a 2 s TTL by 35.689 s
// expired during a 3 s partition of the stream leader (36.0–39.0 s) and was
// still there at the final read, 40.293 s — no quorum could commit its
// removal. NATS promises nothing about expiry without a leader or a quorum:
// the time a fault may have cost them is not counted. Outside such a
// window, and for a key that stays long after, the check still fails.
func TestTTLExpiryAllowsForFaults(t *testing.T) {
	lease := withTTL(create(2, "k0000", "c2-50", 1, at(35_600, 35_689)), 2000)
	late := history.Record{Kind: history.KindFinal, Key: "k0000", Found: true, Read: "c2-50", Rev: 1,
		Invoke: ms(40_293), Complete: ms(40_294)}
	partition := history.Fault{Kind: "partition", Target: "n1", Start: ms(36_000), End: ms(39_000)}
	run := func(faults []history.Fault, final history.Record) *history.History {
		h := patternRun(history.PatternLease, lease, final)
		h.Faults = faults
		return h
	}
	res := wantCheck(t, run([]history.Fault{partition}, late), CheckTTLExpiry, Pass)
	if c := checkNamed(t, res, CheckTTLExpiry); !strings.Contains(c.Detail, "1 later than the tolerance but within a fault") {
		t.Errorf("detail does not say what it allowed for: %s", c.Detail)
	}
	wantCheck(t, run(nil, late), CheckTTLExpiry, Fail)
	// A latency fault keeps the leader.
	wantCheck(t, run([]history.Fault{{Kind: "latency", Start: ms(36_000), End: ms(39_000)}}, late), CheckTTLExpiry, Fail)
	// Still there 20 s after the partition began: no election takes that long.
	never := late
	never.Invoke, never.Complete = ms(56_000), ms(56_001)
	wantCheck(t, run([]history.Fault{partition}, never), CheckTTLExpiry, Fail)
}

func TestOverlapCountsSharedTimeOnce(t *testing.T) {
	w := [][2]int64{{10, 20}, {15, 30}, {40, 50}}
	for _, tc := range []struct{ from, to, want int64 }{{0, 100, 30}, {12, 45, 23}, {31, 39, 0}, {25, 25, 0}} {
		if got := overlap(w, tc.from, tc.to); got != tc.want {
			t.Errorf("overlap(%d, %d) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}

// After the run the harness follows keys whose last value carries a TTL
// (history.End.Expiry): one that went away late under a fault passes, and
// the detail gives how late; one still there at the end of its following,
// long past its expiry, never expired and fails, fault or not.
func TestTTLExpiryFollowedAfterTheRun(t *testing.T) {
	lease := withTTL(create(2, "k0000", "c2-50", 1, at(35_600, 35_689)), 2000)
	partition := history.Fault{Kind: "partition", Target: "n1", Start: ms(36_000), End: ms(39_000)}
	late := history.Record{Kind: history.KindFinal, Key: "k0000", Found: true, Read: "c2-50", Rev: 1,
		Invoke: ms(40_293), Complete: ms(40_294)}
	run := func(e history.Expiry) *history.History {
		h := patternRun(history.PatternLease, lease, late)
		h.Faults = []history.Fault{partition}
		h.End.Expiry = []history.Expiry{e}
		return h
	}
	res := wantCheck(t, run(history.Expiry{Key: "k0000", Rev: 1, Read: "c2-50", Seen: ms(40_500), Gone: ms(40_700)}), CheckTTLExpiry, Pass)
	if c := checkNamed(t, res, CheckTTLExpiry); !strings.Contains(c.Detail, "1 of 1 keys followed saw their value go away, the latest 3.011s after its expiry") {
		t.Errorf("detail: %s", c.Detail)
	}
	wantCheck(t, run(history.Expiry{Key: "k0000", Rev: 1, Read: "c2-50", Seen: ms(70_300)}), CheckTTLExpiry, Fail,
		[]string{CheckTTLExpiry + ": ", "the last read of the key after the run that still found it", "c2-50"})
	// Gone in the end, but still there long after its expiry with no fault
	// to excuse it: late.
	late2 := run(history.Expiry{Key: "k0000", Rev: 1, Read: "c2-50", Seen: ms(60_000), Gone: ms(60_200)})
	late2.Faults = nil
	late2.Final = nil
	wantCheck(t, late2, CheckTTLExpiry, Fail, []string{CheckTTLExpiry + ": ", "still found it"})
	// Another key's following says nothing about this one.
	wantCheck(t, run(history.Expiry{Key: "k0001", Rev: 1, Read: "c2-50", Seen: ms(70_300)}), CheckTTLExpiry, Pass)
}

// TestRecordedTTLFalseAlarm: the recorded history of the run that showed
// ttl-expiry's false alarm under partitions (leader-election, spawned
// v2.15.2, --faults partition --fault-target leader --fault-interval 6s
// --fault-duration 3s --duration 40s --seed 18). The stream leader was cut
// off from 36 s to 39 s, so key k0000's expiry at 37.7 s fell where no
// quorum could commit its removal; the final read at 40.3 s still saw the
// value. The checker allows for windows where a fault may have left the
// stream without a leader or quorum: it passes, and says so. Without the
// faults' records, the same reads are late, and it fails.
func TestRecordedTTLFalseAlarm(t *testing.T) {
	h := recordedPasses(t, "ttl-expiry-partitioned-leader.jsonl.zst", CheckTTLExpiry, "within a fault")
	h.Faults = nil
	if c := checkNamed(t, Check(h, Options{Timeout: 30 * time.Second}), CheckTTLExpiry); c.Result != Fail {
		t.Errorf("without the faults' records: %s (%s), want fail", c.Result, c.Detail)
	}
}

// Where the run watched the stream's leadership, ttl-expiry allows for the
// time it saw no leader in contact with a quorum (plus observedCatchUp),
// not for the faults' bound: the same late read passes when the stretches
// show the leader cut off across the expiry, and fails when they show a
// leader with its quorum throughout — a fault that did not cost the stream
// its quorum (a follower's partition) excuses nothing.
func TestTTLExpiryAllowsForObservedLeaderlessTime(t *testing.T) {
	lease := withTTL(create(2, "k0000", "c2-50", 1, at(35_600, 35_689)), 2000) // expires 37.689 s
	late := history.Record{Kind: history.KindFinal, Key: "k0000", Found: true, Read: "c2-50", Rev: 1,
		Invoke: ms(40_293), Complete: ms(40_294)} // 2.604 s late
	partition := history.Fault{Kind: "partition", Target: "n1", Start: ms(36_000), End: ms(39_000)}
	run := func(stretches ...history.Leadership) *history.History {
		h := patternRun(history.PatternLease, lease, late)
		h.Faults = []history.Fault{partition}
		h.Meta.ObservesLeadership = true
		h.Leadership = stretches
		return h
	}
	lead := func(from, to int64) history.Leadership {
		return history.Leadership{Leader: "n1", From: ms(from), To: ms(to)}
	}
	// Cut off from its followers at 36.0 s, in contact again at 39.4 s.
	res := wantCheck(t, run(lead(0, 36_000), lead(39_400, 45_000)), CheckTTLExpiry, Pass)
	c := checkNamed(t, res, CheckTTLExpiry)
	for _, want := range []string{"1 later than the tolerance but while a fault left the stream, as the run saw it, without a leader in contact with a quorum", "without a leader in contact with a quorum for 3.4s of the run"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("detail lacks %q: %s", want, c.Detail)
		}
	}
	// In contact throughout: the partition hit a follower, and the removal
	// could commit.
	wantCheck(t, run(lead(0, 45_000)), CheckTTLExpiry, Fail, []string{"final read", "2.604s past its expiry"})
	// Back in contact at 37.9 s: 0.2 s of the lateness is leaderless, 1 s
	// more is catching up, 1.4 s is left, past the 1 s tolerance.
	wantCheck(t, run(lead(0, 37_700), lead(37_900, 45_000)), CheckTTLExpiry, Fail)
	// A new leader elected is a stretch of its own: the time between the
	// two counts whoever was leader.
	elected := history.Leadership{Leader: "n2", From: ms(39_400), To: ms(45_000)}
	wantCheck(t, run(lead(0, 36_000), elected), CheckTTLExpiry, Pass)
	// Nothing observed after 36 s (the observer lost its connection): the
	// late read is not held against the server, within the fault's bound;
	// without a fault, a blind observer excuses nothing.
	wantCheck(t, run(lead(0, 36_000)), CheckTTLExpiry, Pass)
	blind := run(lead(0, 36_000))
	blind.Faults = nil
	wantCheck(t, blind, CheckTTLExpiry, Fail)
}

func TestUnledWindows(t *testing.T) {
	s := func(from, to int64) history.Leadership { return history.Leadership{Leader: "n1", From: from, To: to} }
	all := history.Leadership{Leader: "n1", From: 0, To: 1000, All: true}
	cu := int64(observedCatchUp)
	everything := [][2]int64{{0, math.MaxInt64}}
	// Stretches given out of order and overlapping; the other kind's
	// stretch does not count.
	got := unled([]history.Leadership{s(50, 60), s(-5, 20), all, s(10, 30)}, false, everything)
	if want := [][2]int64{{30, 50 + cu}, {60, math.MaxInt64}}; !slices.Equal(got, want) {
		t.Errorf("unled = %v, want %v", got, want)
	}
	if got := unled(nil, false, everything); !slices.Equal(got, everything) {
		t.Errorf("nothing observed: %v", got)
	}
	// Only where a fault may have cost the stream its leader: the gap
	// 30-50 within a fault of 40-45, the time after the last stretch
	// within one of 100-200.
	got = unled([]history.Leadership{s(0, 30), s(50, 60)}, false, [][2]int64{{100, 200}, {40, 45}})
	if want := [][2]int64{{40, 45 + cu}, {100, 200 + cu}}; !slices.Equal(got, want) {
		t.Errorf("within the faults: %v, want %v", got, want)
	}
	if got := unled([]history.Leadership{s(0, 30)}, false, nil); len(got) != 0 {
		t.Errorf("no fault, nothing excused: %v", got)
	}
}

// A direct get may be answered by any replica: one the leader was out of
// contact with (a follower cut off by a partition) misses the removal
// while the leader, in contact with the rest, has made it. The recorded
// case: sessions under partitions of a random node on 2.15.2 (seed 3), a
// get at 9.143 s returned a value expired at 7.726 s while n1, a
// follower, was cut off from 6.05 to 9.05 s. Direct gets are held to the
// stretches of contact with every replica; reads through the leader to
// the quorum's.
func TestTTLExpiryDirectGetsAllowForReplicasCutOff(t *testing.T) {
	session := withTTL(create(4, "k0000", "c4-67", 1, at(5_700, 5_726)), 2000) // expires 7.726 s
	run := func(path string) *history.History {
		g := get(5, "k0000", "c4-67", 1, at(9_143, 9_150))
		g.Path = path
		h := patternRun(history.PatternSessions, session, g)
		h.Faults = []history.Fault{{Kind: "partition", Target: "n1", Start: ms(6_050), End: ms(9_050)}}
		h.Meta.ObservesLeadership = true
		h.Leadership = []history.Leadership{
			{Leader: "n2", From: 0, To: ms(20_000)},                    // a quorum throughout
			{Leader: "n2", From: 0, To: ms(6_050), All: true},          // n1 cut off ...
			{Leader: "n2", From: ms(9_200), To: ms(20_000), All: true}, // ... and back
		}
		return h
	}
	wantCheck(t, run(""), CheckTTLExpiry, Pass) // direct
	wantCheck(t, run(history.PathLeader), CheckTTLExpiry, Fail, []string{"get by client 5", "1.417s past its expiry"})
}

// TestRecordedDirectGetFromACutOffFollower: the recorded history (cut to
// its one key, k0021) of the false alarm the first observed-leadership
// ttl-expiry raised: sessions, spawned v2.15.2, --faults partition
// --fault-target random --fault-interval 6s --fault-duration 3s
// --duration 20s --seed 3. Follower n1 was cut off from 6.07 to 9.07 s
// while leader n3 kept its quorum; a direct get at 8.853 s, answered by n1,
// returned a value whose TTL ran out at 7.246 s. The leader had removed it
// with n2; n1 could not know. The run observed the leader out of contact
// with n1 from 5.99 to 9.25 s (the stretches of contact with every
// replica), which the check allows for direct gets: it passes. Held to the
// quorum's stretches instead, as the first version held every read, it
// fails.
func TestRecordedDirectGetFromACutOffFollower(t *testing.T) {
	h := recordedPasses(t, "ttl-expiry-follower-cut-off.jsonl.zst", CheckTTLExpiry, "for direct gets: with every replica")
	var quorumOnly []history.Leadership
	for _, s := range h.Leadership {
		if !s.All {
			all := s
			all.All = true
			quorumOnly = append(quorumOnly, s, all)
		}
	}
	h.Leadership = quorumOnly
	wantCheck(t, h, CheckTTLExpiry, Fail, []string{`get by client 6 of key "k0021" at 8.853s`, "1.607s past its expiry"})
}

// recordedPasses checks a recorded history of testdata as `kvharness check`
// does (CheckFile), wants it to pass with the named check passing and
// saying phrase, and returns the history read whole, for the test to take
// the fix's evidence out of and see the check fail again.
func recordedPasses(t *testing.T, file, check, phrase string) *history.History {
	t.Helper()
	path := filepath.Join("testdata", file)
	res, _, err := CheckFile(context.Background(), path, FileOptions{Options: Options{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(t, res, check); c.Result != Pass || !strings.Contains(c.Detail, phrase) {
		t.Errorf("%s: %s (%s)", check, c.Result, c.Detail)
	}
	if res.Verdict != Pass {
		t.Errorf("verdict %s:\n%s", res.Verdict, dump(res))
	}
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
