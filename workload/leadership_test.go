package workload

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/nats-io/nats.go"
)

func TestStretcherJoinsContactsOfOneLeader(t *testing.T) {
	var s stretcher
	gap := int64(leadershipGap)
	steps := []struct {
		leader string
		at     int64
		ends   *history.Leadership
	}{
		{"n1", 0, nil},
		{"n1", gap, nil},     // within the gap: one stretch
		{"n1", gap / 2, nil}, // an older contact changes nothing
		{"n2", gap + 1, &history.Leadership{Leader: "n1", From: 0, To: gap}}, // a new leader
		{"n1", gap, nil}, // the deposed leader's frozen contact: ignored
		{"n2", 3*gap + 2, &history.Leadership{Leader: "n2", From: gap + 1, To: gap + 1}}, // no contact for too long
	}
	for i, st := range steps {
		got := s.observe(st.leader, st.at)
		if (got == nil) != (st.ends == nil) || got != nil && *got != *st.ends {
			t.Errorf("step %d: ended %+v, want %+v", i, got, st.ends)
		}
	}
	if last := s.flush(); last == nil || *last != (history.Leadership{Leader: "n2", From: 3*gap + 2, To: 3*gap + 2}) {
		t.Errorf("flush: %+v", last)
	}
	if s.flush() != nil {
		t.Error("a second flush wrote the stretch again")
	}
}

func TestContact(t *testing.T) {
	type replica = struct {
		Current bool          `json:"current"`
		Offline bool          `json:"offline"`
		Active  time.Duration `json:"active"`
	}
	info := func(rs ...replica) streamInfo {
		var i streamInfo
		i.Cluster = &struct {
			Leader   string    `json:"leader"`
			Replicas []replica `json:"replicas"`
		}{Leader: "n1", Replicas: rs}
		return i
	}
	sent := int64(10 * time.Second)
	// need: followers that must be in contact (a quorum of R3: 1; of R5:
	// 2; every replica of R3: 2).
	for _, tc := range []struct {
		name string
		need int
		info streamInfo
		at   int64
		ok   bool
	}{
		{"R1 answers", 0, info(), sent, true},
		{"R3 fresh follower", 1, info(replica{true, false, 200 * time.Millisecond}, replica{false, false, 9 * time.Second}), sent - int64(200*time.Millisecond), true},
		{"R3 the freshest counts", 1, info(replica{true, false, 3 * time.Second}, replica{true, false, 100 * time.Millisecond}), sent - int64(100*time.Millisecond), true},
		{"R3 cut off: contact frozen", 1, info(replica{true, false, 4 * time.Second}, replica{true, false, 5 * time.Second}), sent - int64(4*time.Second), true},
		{"R3 no current follower", 1, info(replica{false, false, 0}, replica{true, true, 0}), 0, false},
		{"R3 every replica: the stalest counts", 2, info(replica{true, false, 3 * time.Second}, replica{true, false, 100 * time.Millisecond}), sent - int64(3*time.Second), true},
		{"R3 every replica, one not current", 2, info(replica{true, false, 100 * time.Millisecond}, replica{false, false, 0}), 0, false},
		{"R5 needs two", 2, info(replica{true, false, 100 * time.Millisecond}, replica{true, false, 2 * time.Second}, replica{false, false, 0}), sent - int64(2*time.Second), true},
		{"R5 one is not enough", 2, info(replica{true, false, 100 * time.Millisecond}), 0, false},
	} {
		at, ok := contact(tc.info, tc.need, sent)
		if ok != tc.ok || ok && at != tc.at {
			t.Errorf("%s: (%d, %v), want (%d, %v)", tc.name, at, ok, tc.at, tc.ok)
		}
	}
}

// On a real R3 cluster: while the leader has its followers, one stretch of
// each kind covers the time; once a follower is gone, the stretch of
// contact with every replica ends when it went; once both are, the leader
// (still calling itself leader for a while) adds no contact after they
// went, so the quorum's stretch ends when the second went, not when the
// following stopped.
func TestFollowLeadershipEndsWhenFollowersGo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-node cluster for several seconds")
	}
	emb, err := cluster.StartEmbedded(cluster.EmbeddedConfig{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, js := connect(t, emb.ClientURLs())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := cluster.CreateBucket(ctx, js, cluster.BucketConfig{Name: "lead", Replicas: 3, Storage: "memory", History: 1}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	out, err := history.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(&history.Record{Kind: history.KindMeta, Meta: &history.Meta{Bucket: "lead", Replicas: 3, ObservesLeadership: true}})
	clock := NewClock()
	l := FollowLeadership([]*nats.Conn{nc}, cluster.StreamName("lead"), 3, clock, out)
	time.Sleep(3 * time.Second)
	stream, err := js.Stream(ctx, cluster.StreamName("lead"))
	if err != nil {
		t.Fatal(err)
	}
	leader := stream.CachedInfo().Cluster.Leader
	// One follower goes, then the other: the first ends the stretch of
	// contact with every replica, the second the quorum's.
	var gone []int64
	for _, s := range emb.Servers() {
		if s.Name() != leader {
			s.Shutdown()
			gone = append(gone, clock.Now())
			time.Sleep(3 * time.Second)
		}
	}
	l.Stop()
	l.Stop() // twice is fine
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Leadership) != 2 || h.Leadership[0].All == h.Leadership[1].All {
		t.Fatalf("stretches %+v, want one with a quorum and one with every replica", h.Leadership)
	}
	for _, s := range h.Leadership {
		if s.Leader != leader || s.From > int64(leadershipPoll+leadershipGap) {
			t.Errorf("stretch %+v: want led by %s from the start", s, leader)
		}
		went := gone[1] // the quorum's stretch ends with the second follower
		if s.All {
			went = gone[0]
		}
		if s.To > went || s.To < went-int64(leadershipGap)-int64(leadershipPoll) {
			t.Errorf("stretch %+v ends at %s, want when its follower went, %s", s, time.Duration(s.To), time.Duration(went))
		}
	}
}
