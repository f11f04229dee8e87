package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/kvharness/kvharness/internal/secrets"
)

// group runs a run's parts side by side. The first to panic stops the
// others (through their context) and becomes the group's error: a bug in
// one part must not leave servers, connections or a half-written history
// behind, nor kill the process with a stack trace.
type group struct {
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func newGroup(parent context.Context) *group {
	ctx, stop := context.WithCancel(parent)
	return &group{ctx: ctx, stop: stop}
}

// Go runs f in its own goroutine with the group's context.
func (g *group) Go(name string, f func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				g.once.Do(func() {
					g.err = &PanicError{Part: name, Value: p, Stack: debug.Stack()}
				})
				g.stop()
			}
		}()
		f(g.ctx)
	}()
}

// Stop ends the group's context: every part winds down.
func (g *group) Stop() { g.stop() }

// Wait waits for every part and returns the first panic, if any.
func (g *group) Wait() error {
	g.wg.Wait()
	g.stop()
	return g.err
}

// PanicError is a part of a run that panicked; the run was wound down and
// its history closed. Stack is for a log file, not for the terminal.
type PanicError struct {
	Part  string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error: the %s panicked: %v (the history so far was kept)", e.Part, e.Value)
}

// cleanups undo what a run started, last first, however the run ends.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }

func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// keepPanicStack writes a panic's stack into the results folder, where a
// bug report can pick it up; the terminal gets one line.
func keepPanicStack(dir string, err error) {
	var p *PanicError
	if errors.As(err, &p) {
		_ = os.WriteFile(filepath.Join(dir, "panic.txt"), secrets.ScrubBytes([]byte(fmt.Sprintf("%v\n\n%s", p.Value, p.Stack))), 0o600)
	}
}
