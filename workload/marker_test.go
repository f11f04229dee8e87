package workload

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// TestDeleteAsNatsGoSendsIt: the workload's deletes and purges store the
// very message nats.go's Delete and Purge store (same subject, same
// headers), on a real server, and keep the marker's revision; a refused
// one is a conflict that names the key's revision.
func TestDeleteAsNatsGoSendsIt(t *testing.T) {
	emb, err := cluster.StartEmbedded(cluster.EmbeddedConfig{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	_, js := connect(t, emb.ClientURLs())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := cluster.CreateBucket(ctx, js, cluster.BucketConfig{Name: "m", Replicas: 1, History: 8, Storage: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, cluster.StreamName("m"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{js: js, bucket: "m"}
	last := func(key string) *jetstream.RawStreamMsg {
		t.Helper()
		m, err := stream.GetLastMsgForSubject(ctx, cluster.Subject("m", key))
		if err != nil {
			t.Fatalf("last message of %s: %v", key, err)
		}
		return m
	}
	for _, key := range []string{"ours", "theirs"} {
		if _, err := kv.Put(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		op     string
		expect bool
		theirs func() error
		entry  jetstream.KeyValueOp
	}{
		{history.OpDelete, false, func() error { return kv.Delete(ctx, "theirs") }, jetstream.KeyValueDelete},
		{history.OpPurge, false, func() error { return kv.Purge(ctx, "theirs") }, jetstream.KeyValuePurge},
		{history.OpDelete, true, func() error {
			return kv.Delete(ctx, "theirs", jetstream.LastRevision(last("theirs").Sequence))
		}, jetstream.KeyValueDelete},
	} {
		rec := &history.Record{Op: tc.op, Key: "ours"}
		if tc.expect {
			rec.ExpectRev, rec.HasExpect = last("ours").Sequence, true
		}
		if err := c.execute(ctx, rec, nil); err != nil {
			t.Fatalf("%s: %v", tc.op, err)
		}
		if err := tc.theirs(); err != nil {
			t.Fatalf("nats.go's %s: %v", tc.op, err)
		}
		ours, theirs := last("ours"), last("theirs")
		if rec.Rev != ours.Sequence {
			t.Errorf("%s (expect %t): revision %d recorded, the marker is at %d", tc.op, tc.expect, rec.Rev, ours.Sequence)
		}
		if sent(ours.Header) != sent(theirs.Header) || len(ours.Data) != len(theirs.Data) {
			t.Errorf("%s (expect %t): stored %v %q, nats.go stores %v %q", tc.op, tc.expect, ours.Header, ours.Data, theirs.Header, theirs.Data)
		}
		e, err := kv.History(ctx, "ours")
		if err != nil {
			t.Fatal(err)
		}
		if got := e[len(e)-1]; got.Operation() != tc.entry || got.Revision() != rec.Rev {
			t.Errorf("%s: History() ends with %v at %d, want %v at %d", tc.op, got.Operation(), got.Revision(), tc.entry, rec.Rev)
		}
		if _, err := kv.Get(ctx, "ours"); !errors.Is(err, jetstream.ErrKeyDeleted) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("%s: a get after it: %v, want deleted", tc.op, err)
		}
	}

	// A delete expecting a revision the key no longer has: a conflict that
	// names the key's revision.
	cur := last("ours").Sequence
	rec := &history.Record{Op: history.OpDelete, Key: "ours", ExpectRev: cur - 1, HasExpect: true}
	err = c.execute(ctx, rec, nil)
	out, class := Classify(rec.Op, err)
	if out != history.Fail || class != history.ClassConflict || rec.Rev != 0 || err == nil || !strings.Contains(err.Error(), "wrong last sequence: ") {
		t.Errorf("a stale delete: %v -> %s/%q, revision %d", err, out, class, rec.Rev)
	}
}

// sent is what a client put in a stored message's headers: not what the
// direct get adds about the message (its stream, subject, sequence, time);
// the expected revision only as present, as it differs by key.
func sent(h nats.Header) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		switch k {
		case "Nats-Sequence", "Nats-Stream", "Nats-Subject", "Nats-Time-Stamp":
		case jetstream.ExpectedLastSubjSeqHeader:
			out = append(out, k)
		default:
			out = append(out, k+"="+strings.Join(h[k], ","))
		}
	}
	return strings.Join(out, " ")
}
