// Package ab decides whether a candidate (a server release, a cluster, a
// configuration) is worse than a base: it runs the two sides alternately
// on the same machine, round after round, each run checked as any run is,
// and compares what they measured with benchstat's statistics
// (reports.CompareSamples). Order: warm-up rounds, discarded; then rounds
// in ABBA order (base first in round 1, 3, ..., candidate first in 2, 4),
// so that whatever drifts on the machine during the session hits both
// sides alike.
package ab

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/kvharness/kvharness/harness"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
)

// Side is one side of the comparison: a scenario with its own overrides
// already applied, and the options its runs take (credentials for its
// servers). Name labels it: "base" or "cand".
type Side struct {
	Name     string
	Scenario *scenarios.Scenario
	Options  harness.Options
}

// Config: how many rounds, and what to tell the user on the way.
type Config struct {
	Rounds, Warmup int
	// Dir holds every run's results folder: warmup-01-base,
	// round-01-base, round-01-cand, ...
	Dir string
	// Progress gets a line as each run starts and ends.
	Progress func(line string)
}

// Run is one run of one side: what ab.json says of it, and its summary
// (nil when it could not be carried out).
type Run struct {
	reports.ABRun
	Result *reports.Summary
}

// Rounds runs the warm-up and then cfg.Rounds rounds of both sides. Both
// sides of a round use the same seed (the base's, plus the round: the same
// op sequence); rounds differ.
// It stops early when ctx ends (after the run in progress, which itself
// stops and checks what it recorded) or when a run cannot be carried out;
// runs returns what was done, interrupted says ctx ended it.
func Rounds(ctx context.Context, base, cand Side, cfg Config) (runs []Run, interrupted bool) {
	say := func(format string, a ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, a...))
		}
	}
	total := cfg.Warmup + cfg.Rounds
	for r := 1; r <= total; r++ {
		warm := r <= cfg.Warmup
		round := r - cfg.Warmup
		order := [2]Side{base, cand}
		if !warm && round%2 == 0 { // ABBA: the candidate first in every other round
			order = [2]Side{cand, base}
		}
		for _, side := range order {
			if ctx.Err() != nil {
				return runs, true
			}
			label := fmt.Sprintf("round %d/%d", round, cfg.Rounds)
			folder := fmt.Sprintf("round-%02d-%s", round, side.Name)
			if warm {
				label, folder = fmt.Sprintf("warm-up %d/%d", r, cfg.Warmup), fmt.Sprintf("warmup-%02d-%s", r, side.Name)
			}
			seed := max(base.Scenario.Workload.Seed, 1) + uint64(r)
			run := Run{ABRun: reports.ABRun{Side: side.Name, Round: round, Warmup: warm, Seed: seed, Dir: filepath.Join(cfg.Dir, folder)}}
			if warm {
				run.Round = r
			}
			say("%s: %s …", label, side.Name)
			sc := *side.Scenario
			sc.Workload.Seed = seed
			opts := side.Options
			opts.OutDir = run.Dir
			res, err := harness.Run(ctx, &sc, opts)
			switch {
			case err != nil:
				run.Error = err.Error()
				say("%s: %s could not run: %v", label, side.Name, err)
			default:
				run.ExitCode, run.Result, run.Interrupted = res.ExitCode, res.Summary, res.Interrupted
				run.Verdict, run.Throughput = string(res.Summary.Verdict), res.Summary.ThroughputOpsPerSec
				say("%s: %s %s, %.0f ops/s", label, side.Name, res.Summary.Verdict, res.Summary.ThroughputOpsPerSec)
			}
			runs = append(runs, run)
			if run.Error != "" {
				return runs, ctx.Err() != nil
			}
			if res.Interrupted {
				return runs, true
			}
		}
	}
	return runs, false
}
