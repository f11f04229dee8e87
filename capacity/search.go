// Package capacity finds the highest arrival rate a target sustains while
// meeting an SLO: open-loop steps (latency from each op's intended start,
// so a stalled server cannot hide its queue), each a full run checked as
// any run is, with its first seconds discarded as warm-up. It ramps the
// rate up geometrically until the SLO breaks, bisects between the last
// rate that met it and the first that broke it to a stated precision, and
// repeats the boundary so the answer carries its spread. A closed-loop step
// first gives the contrast (what `nats bench` would print) and the ramp's
// starting point. A failed required check ends the search: a rate is only
// sustainable if it is also correct.
package capacity

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
)

// Config is how the search goes.
type Config struct {
	// SLO: the terms a step must meet (reports.ParseSLO).
	SLO []reports.Threshold
	// Step: each step's duration, Warmup included.
	Step, Warmup scenarios.Duration
	// Start: the first open-loop rate (0: an eighth of the closed-loop
	// maximum). Growth: the ramp's factor. Precision: the bisection stops
	// when the first rate that broke is within this fraction above the
	// last that met the SLO.
	Start, Growth, Precision float64
	// Repeats: how many times the boundary rates are run in all.
	Repeats int
	// MaxSteps bounds the whole search.
	MaxSteps int
	// NoClosedLoop: skip the closed-loop step (Start must then be set).
	NoClosedLoop bool
	// Dir holds every step's results folder.
	Dir string
	// Progress gets a line as each step ends.
	Progress func(string)
}

// DefaultConfig: 10 s steps with 2 s of warm-up, doubling, 10 %
// precision, the boundary run three times.
var DefaultConfig = Config{Step: 10e9, Warmup: 2e9, Growth: 2, Precision: 0.1, Repeats: 3, MaxSteps: 30}

// runStep runs one step: harness.Run; the search's own tests replace it
// with a model of a target whose capacity they know.
var runStep = harness.Run

// searcher is one search in progress.
type searcher struct {
	ctx  context.Context
	sc   *scenarios.Scenario
	opts harness.Options
	cfg  Config
	rep  *reports.Capacity
	// stop: why the search cannot go on (a failed check, a step that
	// could not run, the step budget, an interrupt); "" while it can.
	stop string
}

// Search runs the steps and returns the report, whatever stopped it.
func Search(ctx context.Context, sc *scenarios.Scenario, opts harness.Options, cfg Config) *reports.Capacity {
	slo := make([]string, len(cfg.SLO))
	for i, t := range cfg.SLO {
		slo[i] = t.Name + t.Expr
	}
	s := &searcher{ctx: ctx, sc: sc, opts: opts, cfg: cfg, rep: &reports.Capacity{
		Scenario: sc.Name, Target: target(sc), SLO: slo, StepSec: cfg.Step.Seconds(), WarmupSec: cfg.Warmup.Seconds(),
		Precision: cfg.Precision, Repeats: cfg.Repeats, Steps: []reports.CapacityStep{}}}
	s.search()
	s.rep.Decide(s.stop)
	return s.rep
}

func (s *searcher) search() {
	start := s.cfg.Start
	if !s.cfg.NoClosedLoop {
		st := s.step(0, reports.PhaseClosedLoop)
		if s.stop != "" {
			return
		}
		if start == 0 {
			start = niceRate(max(st.Achieved/8, 1))
		}
	}
	// Ramp up until the SLO breaks. An open loop above what the clients
	// can issue queues, and a latency term breaks there; an SLO of error
	// rates alone may hold at any rate the clients reach, and the ramp
	// ends where they fall behind what was offered.
	good, bad := 0.0, 0.0
	for rate := start; bad == 0; rate = niceRate(rate * s.cfg.Growth) {
		st := s.step(rate, reports.PhaseRamp)
		switch {
		case s.stop != "":
			return
		case !st.MeetsSLO:
			bad = rate
		case st.Achieved < 0.9*rate:
			s.rep.Notes = append(s.rep.Notes, fmt.Sprintf("the clients reached %.0f ops/s of the %.0f offered and the SLO still held: the limit found is the load generator's, not the target's (more --clients)", st.Achieved, rate))
			if good > 0 {
				s.repeat(good)
			}
			return
		default:
			good = rate
		}
	}
	if good == 0 { // the first rate broke it
		if good, bad = s.down(bad); good == 0 {
			return
		}
	}
	// Bisect to the precision asked, then repeat the boundary. A rate
	// counts as sustainable only if every one of its runs met the SLO; if
	// a repeat of the last good rate breaks it, that rate is the new upper
	// end, the best rate below it that held every time the new lower one,
	// and the gap between them is bisected again.
	for {
		if good, bad = s.bisect(good, bad); s.stop != "" || !s.repeat(good) {
			return
		}
		if s.rep.MetEveryTime(good) {
			break
		}
		bad = good
		if good = s.rep.BestBelow(bad); good == 0 {
			if good, bad = s.down(bad); good == 0 {
				return
			}
		}
	}
	s.repeat(bad)
}

// bisect narrows [good, bad) to the precision asked (or as far as the
// rates' rounding goes).
func (s *searcher) bisect(good, bad float64) (float64, float64) {
	for bad-good > s.cfg.Precision*good {
		mid := niceRate((good + bad) / 2)
		if mid <= good || mid >= bad {
			break
		}
		st := s.step(mid, reports.PhaseBisect)
		switch {
		case s.stop != "":
			return good, bad
		case st.MeetsSLO:
			good = mid
		default:
			bad = mid
		}
	}
	return good, bad
}

// down steps below bad, dividing by the growth factor, until a rate meets
// the SLO (four steps at most); good is 0 when none did (or the search
// must stop).
func (s *searcher) down(bad float64) (good, lowestBad float64) {
	for range 4 {
		rate := niceRate(bad / s.cfg.Growth)
		st := s.step(rate, reports.PhaseRamp)
		switch {
		case s.stop != "":
			return 0, bad
		case st.MeetsSLO:
			return rate, bad
		}
		bad = rate
	}
	return 0, bad
}

// repeat runs rate until it has cfg.Repeats runs; false when the search
// must stop.
func (s *searcher) repeat(rate float64) bool {
	for s.rep.RunsAt(rate) < s.cfg.Repeats {
		if s.step(rate, reports.PhaseRepeat); s.stop != "" {
			return false
		}
	}
	return true
}

// step runs the scenario at rate (0: closed loop) and records the step.
func (s *searcher) step(rate float64, phase string) reports.CapacityStep {
	n := len(s.rep.Steps) + 1
	if n > s.cfg.MaxSteps {
		s.stop = fmt.Sprintf("the step budget (%d) ran out before the search ended", s.cfg.MaxSteps)
		return reports.CapacityStep{}
	}
	if s.ctx.Err() != nil {
		s.stop = reports.CapacityInterrupted
		return reports.CapacityStep{}
	}
	name := fmt.Sprintf("step-%02d-closed-loop", n)
	if rate > 0 {
		name = fmt.Sprintf("step-%02d-%.0f", n, rate)
	}
	sc := *s.sc
	sc.Workload.Stages = nil
	sc.Workload.Rate = rate
	sc.Workload.Duration, sc.Workload.Warmup, sc.Workload.Ops = s.cfg.Step, s.cfg.Warmup, 0
	sc.Thresholds = map[string]string{}
	for _, t := range s.cfg.SLO {
		sc.Thresholds[t.Name] = t.Expr
	}
	opts := s.opts
	opts.OutDir = filepath.Join(s.cfg.Dir, name)
	st := reports.CapacityStep{N: n, Phase: phase, Offered: rate, Dir: opts.OutDir}
	res, err := runStep(s.ctx, &sc, opts)
	switch {
	case err != nil:
		st.Error = err.Error()
		s.stop = fmt.Sprintf("step %d could not run: %v", n, err)
	case res.Interrupted:
		st.Verdict = string(res.Summary.Verdict)
		s.stop = reports.CapacityInterrupted
	default:
		st.Fill(res.Summary)
		if len(st.ChecksFailed) > 0 {
			s.stop = fmt.Sprintf("step %d failed a required check (%s): a rate is sustainable only if it is also correct", n, strings.Join(st.ChecksFailed, ", "))
		}
	}
	s.rep.Steps = append(s.rep.Steps, st)
	if s.cfg.Progress != nil {
		s.cfg.Progress(st.Line())
	}
	return st
}

// target: what the steps run against, faults included.
func target(sc *scenarios.Scenario) string {
	t := fmt.Sprintf("%s, %d node(s), R%d %s", sc.TargetName(), sc.Target.Nodes, sc.Bucket.Replicas, sc.Bucket.Storage)
	if f := sc.Faults.String(); f != "" {
		t += ", faults: " + f
	}
	return t
}

// niceRate rounds a rate to two significant digits (1234 → 1200): steps
// named by rates a reader can repeat, and a bisection that ends where
// rounding stops it.
func niceRate(r float64) float64 {
	if r <= 0 {
		return 0
	}
	mag := math.Pow(10, math.Floor(math.Log10(r))-1)
	return math.Max(1, math.Round(r/mag)*mag)
}
