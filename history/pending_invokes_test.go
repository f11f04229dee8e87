package history

import (
	"math/rand/v2"
	"testing"
)

// TestPendingInvokesAsAMapByBoth: random invokes and ops of a few clients
// at a few times (so that clients share a nanosecond often, and have
// several writes pending; two clients whose numbers have no slot) find
// what a map keyed by client and time finds, and leave the same ones
// pending.
func TestPendingInvokesAsAMapByBoth(t *testing.T) {
	type started struct {
		client int
		invoke int64
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var p pendingInvokes
	want := map[started]*Record{}
	for range 20000 {
		client, invoke := []int{0, 1, 2, 3, -1, 1 << 17}[rng.IntN(6)], rng.Int64N(6)
		if rng.IntN(2) == 0 {
			inv := &Record{Kind: KindInvoke, Client: client, Invoke: invoke}
			p.add(inv)
			want[started{client, invoke}] = inv
			continue
		}
		got := p.take(client, invoke)
		if w := want[started{client, invoke}]; got != w {
			t.Fatalf("take(%d, %d) = %p, want %p", client, invoke, got, w)
		}
		delete(want, started{client, invoke})
	}
	left := 0
	for inv := range p.all() {
		if want[started{inv.Client, inv.Invoke}] != inv {
			t.Fatalf("left pending: %+v, not kept", inv)
		}
		left++
	}
	if left != len(want) {
		t.Fatalf("%d left pending, want %d", left, len(want))
	}
}
