package checker

import (
	"context"
	"runtime/debug"

	"github.com/kvharness/kvharness/history"
)

// plannedGroup is a group of keys as the checks will take it: a long key
// with the plan of its spans, verified (see spans.go), or checked whole.
type plannedGroup struct {
	history.SpilledGroup
	// plan: the long key's spans; nil when the group is checked whole.
	plan *spanPlan
	// why a long key is checked whole all the same ("" for a short group).
	why string
}

// planAhead hands walk the groups in order, each long key's spans planned
// and verified on another goroutine one group ahead: planning and
// verifying read a long key twice, and took two fifths of checking an
// hour's history while the checks waited for its first span (measured per
// key: 0.5 s to plan, 0.55 s to verify, 1.4 s to check). One plan is made
// while walk takes the one before, so memory grows by a plan and the
// verifier's rules (see verifySpans). It returns walk's first error, else
// the first error planning met, else ctx's; in every case once the
// goroutine has stopped, which a failed walk or a done ctx stops within a
// few thousand records.
func planAhead(ctx context.Context, groups []history.SpilledGroup, f *facts, o spanOptions, walk func(plannedGroup) error) error {
	// Done once the walk is over too: the one signal that stops planning,
	// between groups and within a plan under way.
	ctx, cancel := context.WithCancel(ctx)
	type planned struct {
		plannedGroup
		err error
	}
	next := make(chan planned)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer close(next)
		defer func() {
			if p := recover(); p != nil {
				select {
				case next <- planned{err: &carriedPanic{value: p, stack: debug.Stack(), where: "planning a long key's spans"}}:
				case <-ctx.Done():
				}
			}
		}()
		for _, g := range groups {
			if ctx.Err() != nil {
				return // the walk sees it, between groups
			}
			p := planned{plannedGroup: plannedGroup{SpilledGroup: g}}
			if g.Records > o.above {
				p.plan, p.why, p.err = planVerified(ctx, g, f, o)
			}
			select {
			case next <- p:
			case <-ctx.Done():
				return
			}
			if p.err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-stopped
	}()
	for p := range next {
		if cp, ok := p.err.(*carriedPanic); ok {
			panic(cp) // on the walk's goroutine, which carries it on
		}
		if p.err != nil {
			return p.err
		}
		if err := walk(p.plannedGroup); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// planVerified plans the one key of g in spans and verifies every span on
// its records; a nil plan says why the key must be checked whole.
func planVerified(ctx context.Context, g history.SpilledGroup, f *facts, o spanOptions) (*spanPlan, string, error) {
	plan, why, err := planSpans(ctx, g, f, o)
	if plan == nil || err != nil {
		return nil, why, err
	}
	if why, err = verifySpans(ctx, g, plan); why != "" || err != nil {
		return nil, why, err
	}
	return plan, "", nil
}
