package checker

import (
	"errors"
	"runtime/debug"
	"sync"

	"github.com/kvharness/kvharness/history"
)

// errAheadStopped: the checks stopped taking groups.
var errAheadStopped = errors.New("checking stopped")

// readAhead runs produce — reading groups of keys back from their bucket
// files, planning and verifying spans — on another goroutine, one group
// ahead of the checks, which take each group produce sends on this one, in
// order: on two cores reading the next group overlaps checking this one.
// So two groups are held at once; produce calls idle before reading a
// group too large to sit beside another, which waits until the checks have
// taken and finished every group sent. It returns once produce has
// returned: yield's first error, else produce's.
func readAhead(produce func(send func(*history.History, *keySpan) error, idle func()) error, yield func(*history.History, *keySpan) error) error {
	type group struct {
		h    *history.History
		span *keySpan
	}
	groups := make(chan group)
	stop := make(chan struct{})
	var unfinished sync.WaitGroup // sent, not yet checked
	produced := make(chan error, 1)
	go func() {
		defer close(groups)
		defer func() {
			if p := recover(); p != nil {
				produced <- &carriedPanic{value: p, stack: debug.Stack(), where: "reading groups of keys ahead"}
			}
		}()
		produced <- produce(func(h *history.History, span *keySpan) error {
			unfinished.Add(1)
			select {
			case groups <- group{h, span}:
				return nil
			case <-stop:
				unfinished.Done()
				return errAheadStopped
			}
		}, unfinished.Wait)
	}()
	var failed error
	for g := range groups {
		if failed == nil {
			if failed = yield(g.h, g.span); failed != nil {
				close(stop)
			}
		}
		unfinished.Done()
	}
	err := <-produced
	if p, ok := err.(*carriedPanic); ok {
		panic(p) // where it is recovered (the harness's panic report), as if it happened here
	}
	if failed == nil && err != errAheadStopped {
		return err
	}
	return failed
}
