package latency

import (
	"testing"
	"time"
)

func TestMergeAcrossWorkers(t *testing.T) {
	a, b := NewRecorder(), NewRecorder()
	for i := 1; i <= 1000; i++ {
		a.Record("put", "ok", time.Duration(i)*time.Microsecond)
		b.Record("put", "ok", time.Duration(i+1000)*time.Microsecond)
	}
	b.Record("put", "unknown", 5*time.Second)
	s := Merge(a, b)
	ok := Summarize(s.Get("put", "ok"))
	if ok.Count != 2000 || ok.P50 < 990 || ok.P50 > 1010 || ok.Max < 1999 || ok.Max > 2001 {
		t.Fatalf("merged ok: %+v", ok)
	}
	all := Summarize(s.ForOp("put"))
	if all.Count != 2001 || all.Max < 4.99e6 {
		t.Fatalf("all outcomes: %+v", all)
	}
	if ops := s.Ops(); len(ops) != 1 || ops[0] != "put" {
		t.Fatalf("ops %v", ops)
	}
	// Out-of-range values are clamped, not lost.
	c := NewRecorder()
	c.Record("get", "ok", 0)
	c.Record("get", "ok", 2*time.Hour)
	if got := Summarize(Merge(c).Get("get", "ok")).Count; got != 2 {
		t.Fatalf("clamped count %d", got)
	}
}

func TestWindowDrains(t *testing.T) {
	w := NewWindow()
	for i := 1; i <= 100; i++ {
		w.Record(time.Duration(i) * time.Millisecond)
	}
	h := NewHistogram()
	w.DrainInto(h)
	if h.TotalCount() != 100 || h.ValueAtQuantile(99) < 98_000 || h.ValueAtQuantile(99) > 100_000 {
		t.Fatalf("count %d p99 %d µs", h.TotalCount(), h.ValueAtQuantile(99))
	}
	h.Reset()
	w.DrainInto(h)
	if h.TotalCount() != 0 {
		t.Fatalf("a drained window still held %d values", h.TotalCount())
	}
	var none *Window
	none.Record(time.Second) // nil: records nothing, no panic
}
