package checker

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// readAhead hands the groups on in order, one ahead at most (idle waits
// until the checks finished every group sent), and stops both sides on the
// first error of either; a panic while producing reaches the caller.
func TestReadAhead(t *testing.T) {
	const n = 20
	var finished atomic.Int32 // groups the checks are done with
	produce := func(stopAt int) func(func(*history.History, *keySpan) error, func()) error {
		return func(send func(*history.History, *keySpan) error, idle func()) error {
			finished.Store(0)
			for i := range n {
				if i == stopAt {
					return fmt.Errorf("group %d unreadable", i)
				}
				if i%5 == 0 {
					idle()
					if done := finished.Load(); int(done) != i {
						return fmt.Errorf("idle returned with %d of %d groups checked", done, i)
					}
				}
				if err := send(&history.History{Truncated: i}, nil); err != nil {
					return err
				}
			}
			return nil
		}
	}
	var got []int
	if err := readAhead(produce(-1), func(h *history.History, _ *keySpan) error {
		time.Sleep(time.Millisecond) // the producer runs ahead
		got = append(got, h.Truncated)
		finished.Add(1)
		return nil
	}); err != nil || len(got) != n {
		t.Fatalf("%v after %v", err, got)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("groups out of order: %v", got)
		}
	}

	unreadable := 0
	if err := readAhead(produce(7), func(*history.History, *keySpan) error {
		unreadable++
		finished.Add(1)
		return nil
	}); err == nil || !strings.Contains(err.Error(), "group 7 unreadable") || unreadable != 7 {
		t.Fatalf("a producer's error: %v after %d groups", err, unreadable)
	}

	stop := errors.New("stop")
	taken := 0
	if err := readAhead(produce(-1), func(*history.History, *keySpan) error {
		if taken++; taken == 3 {
			return stop
		}
		finished.Add(1)
		return nil
	}); err != stop || taken != 3 {
		t.Fatalf("the checks' error: %v after %d groups", err, taken)
	}

	defer func() {
		p, ok := recover().(*aheadPanic)
		if !ok || p.value != "boom" {
			t.Fatalf("recovered %v, want the producer's panic", p)
		}
	}()
	readAhead(func(func(*history.History, *keySpan) error, func()) error { panic("boom") },
		func(*history.History, *keySpan) error { return nil })
	t.Fatal("a producer's panic did not reach the caller")
}
