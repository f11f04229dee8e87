package history

import "testing"

// A list given back is handed out again, empty, to the next list that
// fits in it; small lists are left to the allocator.
func TestRecycledListsAreReused(t *testing.T) {
	recycled.lists = nil
	h := &History{Ops: NewRecords(2 * minRecycled), Watch: make([]Record, 0, 16)}
	h.Ops = append(h.Ops, Record{Kind: KindOp, Key: "k", Value: "v"})
	ops := &h.Ops[:1][0]
	h.Recycle()
	if h.Ops != nil || h.Watch != nil {
		t.Fatal("Recycle left the history its lists")
	}
	again := NewRecords(minRecycled)
	if len(again) != 0 || cap(again) != 2*minRecycled {
		t.Fatalf("NewRecords: len %d cap %d", len(again), cap(again))
	}
	if &again[:1][0] != ops {
		t.Error("the list given back was not handed out again")
	}
	if l := NewRecords(minRecycled); &l[:1][0] == ops {
		t.Error("one list handed out twice")
	}
}

// Poisoned (tests of the checks), a list given back holds values no
// history holds, and is never handed out again.
func TestPoisonedListsStayPoisoned(t *testing.T) {
	PoisonRecycled = true
	defer func() { PoisonRecycled = false }()
	h := &History{Ops: append(NewRecords(minRecycled), Record{Kind: KindOp, Key: "k"})}
	r := &h.Ops[0]
	h.Recycle()
	if r.Key != poisoned || r.Rev != 1<<62 {
		t.Errorf("not poisoned: %+v", *r)
	}
	if l := NewRecords(minRecycled); &l[:1][0] == r {
		t.Error("a poisoned list was handed out again")
	}
}
