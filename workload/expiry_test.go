package workload

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/cluster"
)

// After the run, keys whose last value carries a TTL are followed until it
// goes away, on a real server: a key written with a 1 s TTL is seen gone
// about a second later; one written without a TTL (which a run with TTLs
// does not make, but a server that never expires looks the same) is still
// there when the following ends.
func TestObserveExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a TTL to run out")
	}
	e := startKVEnv(t, cluster.BucketConfig{History: 1, LimitMarkerTTL: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.kv.Create(ctx, "expires", []byte("v1"), jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	written := e.clock.Now()
	mustPut(t, e.kv, "stays", "v2")
	ok, finals := FinalReads(ctx, e.nc, "b", []string{"expires", "stays", "never-written"}, e.clock, e.out)
	if !ok {
		t.Fatal("final reads failed")
	}
	got := ObserveExpiry(ctx, e.nc, "b", finals, time.Second, 2*time.Second, e.clock)
	if len(got) != 2 {
		t.Fatalf("followed %+v, want the two keys with a value", got)
	}
	gone, stays := got[0], got[1] // sorted by key
	if gone.Key != "expires" || gone.Gone == 0 || gone.Read != "v1" {
		t.Errorf("expiring key: %+v, want it seen gone", gone)
	}
	if lag := time.Duration(gone.Gone - written); lag < time.Second || lag > 4*time.Second {
		t.Errorf("the 1 s TTL key went away %s after it was written", lag)
	}
	if stays.Key != "stays" || stays.Gone != 0 || time.Duration(stays.Seen-finals["stays"].Complete) < 2*time.Second {
		t.Errorf("key without a TTL: %+v, want it seen still there about 3 s after its final read", stays)
	}
}
