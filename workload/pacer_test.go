package workload

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"
)

// The open-loop schedule is fixed: op i is meant for start + i/rate, whoever
// takes it, and the budget is exact.
func TestOpenLoopSchedule(t *testing.T) {
	p := NewOpenLoop(2000, 200)
	var mu sync.Mutex
	var got []time.Duration
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				at, ok := p.Next(context.Background())
				if !ok {
					return
				}
				mu.Lock()
				got = append(got, at.Sub(p.start))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != 200 || p.Issued() != 200 {
		t.Fatalf("%d ops (issued %d), want 200", len(got), p.Issued())
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for i, d := range got {
		if want := time.Duration(i) * 500 * time.Microsecond; d != want {
			t.Fatalf("op %d meant for %s, want %s", i, d, want)
		}
	}
}

// A client too slow for the rate does not slow the schedule down: its ops
// start late, are counted, and carry their intended start.
func TestOpenLoopCountsLateOps(t *testing.T) {
	p := NewOpenLoop(1000, 20)
	start := time.Now()
	for i := 0; ; i++ {
		at, ok := p.Next(context.Background())
		if !ok {
			break
		}
		if lag := time.Since(at); lag < 0 {
			t.Fatalf("op returned before its slot (%s)", lag)
		}
		// Late or not, an op carries its slot: latency is measured from
		// it, so a slow server shows (no coordinated omission).
		if want := p.start.Add(time.Duration(i) * time.Millisecond); !at.Equal(want) {
			t.Fatalf("op %d: intended start %s after the schedule began, want %dms", i, at.Sub(p.start), i)
		}
		time.Sleep(5 * time.Millisecond) // a server five times too slow
	}
	if p.Late() < 15 {
		t.Fatalf("only %d of 20 ops counted late behind a 1 ms schedule with 5 ms ops", p.Late())
	}
	if el := time.Since(start); el < 90*time.Millisecond {
		t.Fatalf("20 ops of 5 ms took %s: the pacer dropped work", el)
	}
}

func TestClosedLoopBudget(t *testing.T) {
	p := &ClosedLoop{Ops: 3}
	n := 0
	for {
		if _, ok := p.Next(context.Background()); !ok {
			break
		}
		n++
	}
	if n != 3 || p.Late() != 0 {
		t.Fatalf("%d ops, late %d", n, p.Late())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := (&ClosedLoop{}).Next(ctx); ok {
		t.Fatal("a stopped run let an op through")
	}
}

// Stages: op i is due where its stage's rate puts it; after the last stage
// with a length the schedule is over.
func TestStagedLoopSchedule(t *testing.T) {
	p := NewStagedLoop([]Stage{{Rate: 100, For: time.Second}, {Rate: 1000, For: 2 * time.Second}}, 0)
	for _, tc := range []struct {
		i    int64
		want time.Duration
		ok   bool
	}{
		{0, 0, true},
		{50, 500 * time.Millisecond, true},
		{99, 990 * time.Millisecond, true},
		{100, time.Second, true},             // first op of the 1000/s stage
		{600, 1500 * time.Millisecond, true}, // 500 ops into it
		{2099, 2999 * time.Millisecond, true},
		{2100, 0, false}, // 100 + 2000 ops: the stages are over
	} {
		got, ok := p.offset(tc.i)
		if ok != tc.ok || (ok && (got-tc.want).Abs() > time.Microsecond) {
			t.Errorf("op %d: %s %t, want %s %t", tc.i, got, ok, tc.want, tc.ok)
		}
	}
	if k := p.Kind(); k != "open-loop 100/s 1s, 1000/s 2s" {
		t.Errorf("kind %q", k)
	}
	if k := NewOpenLoop(500, 0).Kind(); k != "open-loop 500/s" {
		t.Errorf("kind %q", k)
	}
	// A run of stages ends when they do, even with time left.
	short := NewStagedLoop([]Stage{{Rate: 1000, For: 20 * time.Millisecond}}, 0)
	n := 0
	for {
		if _, ok := short.Next(context.Background()); !ok {
			break
		}
		n++
	}
	if n != 20 {
		t.Errorf("%d ops in a 20 ms stage at 1000/s, want 20", n)
	}
}
