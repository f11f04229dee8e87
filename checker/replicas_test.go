package checker

import (
	"strings"
	"testing"

	"github.com/kvharness/kvharness/history"
)

func findCheck(t *testing.T, res *Result, name string) CheckResult {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s", name)
	return CheckResult{}
}

func twoKeys() *history.History {
	return replicated(hist(
		put(1, "a", "v1", 1, at(0, 10)),
		put(2, "b", "w1", 2, at(5, 15)),
		put(1, "a", "v2", 3, at(20, 30)),
		final("a", "v2", 3),
		final("b", "w1", 2),
	))
}

func TestReplicasConvergePasses(t *testing.T) {
	res, _ := runCheck(t, twoKeys())
	if c := findCheck(t, res, CheckReplicasConverge); c.Result != Pass {
		t.Fatalf("%+v", c)
	}
	if res.Verdict != Pass {
		t.Fatalf("verdict %s\n%s", res.Verdict, dump(res))
	}
}

// Split brain: one node kept an older value of "a" after the run.
func TestReplicasConvergeNamesTheDivergingNodeAndKey(t *testing.T) {
	h := twoKeys()
	for i, r := range h.Replicas {
		if r.Node == "n2" && r.Key == "a" {
			h.Replicas[i].Read, h.Replicas[i].Rev = "v1", 1
		}
	}
	res, _ := runCheck(t, h)
	c := findCheck(t, res, CheckReplicasConverge)
	if c.Result != Fail || res.Verdict != Fail {
		t.Fatalf("diverged replica passed: %+v, verdict %s", c, res.Verdict)
	}
	for _, want := range []string{`key "a"`, "n2 rev 1 v1", "n1 rev 3 v2", "leader rev 3 v2"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("detail lacks %q: %s", want, c.Detail)
		}
	}
}

// Every node's direct get answers an old message while the leader holds a
// newer one (seen on nats-server 2.10.27 after repeated kills: a replica
// that stopped applying answered the direct gets of every node).
func TestReplicasConvergeComparesWithTheLeader(t *testing.T) {
	h := twoKeys()
	for i, r := range h.Replicas {
		if r.Node != history.PathLeader && r.Key == "a" {
			h.Replicas[i].Read, h.Replicas[i].Rev = "v1", 1
		}
	}
	res, _ := runCheck(t, h)
	c := findCheck(t, res, CheckReplicasConverge)
	if c.Result != Fail || !strings.Contains(c.Detail, "leader rev 3 v2") || !strings.Contains(c.Detail, "n3 rev 1 v1") {
		t.Fatalf("replicas agreeing on a stale message passed: %+v", c)
	}
}

// A node whose replica lost a key's tombstone: one says deleted, the
// others still hold the value.
func TestReplicasConvergeCatchesAMarkerOnOneNode(t *testing.T) {
	h := twoKeys()
	for i, r := range h.Replicas {
		if r.Node == "n3" && r.Key == "b" {
			h.Replicas[i] = history.Record{Kind: history.KindReplica, Node: "n3", Key: "b", Rev: 4, Marker: history.MarkerDel}
		}
	}
	res, _ := runCheck(t, h)
	if c := findCheck(t, res, CheckReplicasConverge); c.Result != Fail || !strings.Contains(c.Detail, "n3 rev 4 del marker") {
		t.Fatalf("%+v", c)
	}
}

func TestReplicasConvergeUnknownWhenANodeCannotBeRead(t *testing.T) {
	h := twoKeys()
	h.Replicas = append(h.Replicas, history.Record{Kind: history.KindReplica, Node: "n4", Error: "cannot connect: refused"})
	res, _ := runCheck(t, h)
	if c := findCheck(t, res, CheckReplicasConverge); c.Result != Unknown {
		t.Fatalf("unreadable node: %+v", c)
	}
	if res.Verdict != Unknown {
		t.Fatalf("verdict %s", res.Verdict)
	}
}

// A replica answering with a value nobody wrote is a phantom read.
func TestReplicaPhantomFailsReadsValid(t *testing.T) {
	h := twoKeys()
	for i, r := range h.Replicas {
		if r.Node == "n1" && r.Key == "a" {
			h.Replicas[i].Read = "ghost"
		}
	}
	res, _ := runCheck(t, h)
	if c := findCheck(t, res, CheckReadsValid); c.Result != Fail || !strings.Contains(c.Detail, "replica read on n1") {
		t.Fatalf("%+v", c)
	}
}

func TestBucketIntact(t *testing.T) {
	res, _ := runCheck(t, twoKeys())
	if c := findCheck(t, res, CheckBucketIntact); c.Result != Pass {
		t.Fatalf("%+v", c)
	}

	gone := twoKeys()
	gone.End.BucketMissing = true
	res, _ = runCheck(t, gone)
	if c := findCheck(t, res, CheckBucketIntact); c.Result != Fail || res.Verdict != Fail {
		t.Fatalf("missing bucket: %+v", c)
	}
	// Every acknowledged write went with the stream (a coordinated power
	// failure of nodes that had not fsynced its creation does this), even
	// when the final reads could not run.
	gone.Final, gone.End.FinalReads = nil, false
	res, _ = runCheck(t, gone)
	if c := findCheck(t, res, CheckNoLostWrites); c.Result != Fail || !strings.HasPrefix(c.Detail, "3 of 3 acknowledged writes lost") ||
		!strings.Contains(c.Detail, "stream was gone after the run") || strings.Contains(c.Detail, "did not finish") {
		t.Fatalf("missing bucket: %+v", c)
	}

	unreadable := twoKeys()
	unreadable.Final = unreadable.Final[:1]
	unreadable.End.FinalReads = false
	res, _ = runCheck(t, unreadable)
	if c := findCheck(t, res, CheckBucketIntact); c.Result != Fail || !strings.Contains(strings.Join(res.Notes, "\n"), `key "b" could not be read`) {
		t.Fatalf("unreadable key: %+v %v", c, res.Notes)
	}
}

func TestClusterHeals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []history.Fault
		want   Status
	}{
		{"no faults", nil, Pass},
		{"healed", []history.Fault{{Kind: "kill", Target: "n1"}, {Kind: "heal", Target: "cluster", Start: 1e9, End: 3e9}}, Pass},
		{"never healthy", []history.Fault{{Kind: "kill", Target: "n1"}, {Kind: "heal", Target: "cluster", Error: "n3 not healthy"}}, Fail},
		{"killed before the heal", []history.Fault{{Kind: "kill", Target: "n1"}}, Unknown},
	} {
		h := twoKeys()
		h.Faults = tc.faults
		res, _ := runCheck(t, h)
		if c := findCheck(t, res, CheckClusterHeals); c.Result != tc.want || !c.Required {
			t.Errorf("%s: %+v, want %s, required", tc.name, c, tc.want)
		}
	}
}

// A killed run (no end record): the watcher saw every message up to its
// last one, but not the marker of a delete acknowledged just before the
// kill. Key sequences must not be built from that partial view, or the
// delete could not be placed and a correct history would fail.
func TestKilledRunDeleteWithUnseenMarker(t *testing.T) {
	h := hist(
		put(1, "k", "v1", 1, at(0, 10)),
		del(2, "k", at(20, 30)),
		watch("k", "v1", 1, 11),
	)
	h.Final, h.End = nil, nil
	res, _ := runCheck(t, h)
	// Unknown, not pass: the run did not finish; but linearizable on what
	// was recorded, not a false failure.
	if c := findCheck(t, res, CheckLinearizableWrites); c.Result != Unknown || !strings.Contains(c.Detail, "on what was recorded: 2 operations over 1 keys linearizable") {
		t.Fatalf("%+v\n%s", c, dump(res))
	}
}

// The same with an end record whose stream end is unknown (the stream
// could not be read after the run): no sequences either.
func TestUnknownStreamEndDeleteWithUnseenMarker(t *testing.T) {
	h := hist(
		put(1, "k", "v1", 1, at(0, 10)),
		del(2, "k", at(20, 30)),
		watch("k", "v1", 1, 11),
	)
	h.Final, h.End.LastSeq, h.End.FinalReads = nil, 0, false
	res, _ := runCheck(t, h)
	// Unknown, not pass: the run did not finish; but linearizable on what
	// was recorded, not a false failure.
	if c := findCheck(t, res, CheckLinearizableWrites); c.Result != Unknown || !strings.Contains(c.Detail, "on what was recorded: 2 operations over 1 keys linearizable") {
		t.Fatalf("%+v\n%s", c, dump(res))
	}
}
