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
		p, ok := recover().(*carriedPanic)
		if !ok || p.value != "boom" {
			t.Fatalf("recovered %v, want the producer's panic", p)
		}
	}()
	readAhead(func(func(*history.History, *keySpan) error, func()) error { panic("boom") },
		func(*history.History, *keySpan) error { return nil })
	t.Fatal("a producer's panic did not reach the caller")
}

// panicky is a check that panics on its first group.
type panicky struct{ added int }

func (c *panicky) add(*keyGroup) {
	c.added++
	if c.added == 1 {
		panic("boom")
	}
}
func (c *panicky) result() (CheckResult, []string) { return CheckResult{}, nil }

// Checks side by side each see the group once; a check's panic reaches the
// caller, not a crash of the process.
func TestAddSideBySide(t *testing.T) {
	kg := &keyGroup{f: &facts{}}
	var calm []*panicky
	var checks []groupCheck
	for range 5 {
		c := &panicky{added: 1} // past its panic
		calm = append(calm, c)
		checks = append(checks, c)
	}
	addSideBySide(checks, kg)
	for i, c := range calm {
		if c.added != 2 {
			t.Fatalf("check %d saw the group %d times", i, c.added-1)
		}
	}
	defer func() {
		p, ok := recover().(*carriedPanic)
		if !ok || p.value != "boom" {
			t.Fatalf("recovered %v, want the check's panic", p)
		}
	}()
	addSideBySide(append(checks, &panicky{}), kg)
	t.Fatal("a check's panic did not reach the caller")
}
