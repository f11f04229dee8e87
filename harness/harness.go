// Package harness owns one run of a scenario from start to end: target up,
// bucket, history, workload ‖ nemesis ‖ progress side by side, heal, final
// phase, checks, results folder. Run is a plain function call with no
// global state, so many runs can go one after another or side by side in
// one process (A/B rounds, capacity steps, a coordinator's runs).
package harness

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/internal/secrets"
	"github.com/kvharness/kvharness/monitor"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
	"github.com/kvharness/kvharness/workload"
)

// Run runs the scenario and writes its results folder. The first end of
// ctx (Ctrl-C) stops the workload; the run then heals, reads the final
// state, checks what it recorded and reports, marked interrupted. An error
// means the run could not be carried out (bad scenario, target or results
// folder; a panic); whatever it recorded until then is a checkable history.
func Run(ctx context.Context, sc *scenarios.Scenario, opts Options) (res *Result, err error) {
	s, err := sc.Complete()
	if err != nil {
		return nil, err
	}
	thresholds, err := reports.ParsedThresholds(s.Thresholds)
	if err != nil {
		return nil, err
	}
	dir, madeDir, err := opts.ResultsDir(s.Name)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFolder(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A panic outside the parts that run side by side (final phase,
	// checks) is an error too; record's clean-ups have run by then.
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, &PanicError{Part: "run", Value: p, Stack: debug.Stack()}
			keepPanicStack(dir, err)
		}
	}()
	defer workloadGC()()
	rec, err := record(ctx, s, opts, dir)
	if err != nil {
		keepPanicStack(dir, err)
		if madeDir {
			removeIfEmpty(dir)
		}
		return nil, err
	}
	res = &Result{Dir: dir, Stats: rec.stats, Interrupted: rec.interrupted}
	if opts.NoRecord {
		return res, nil
	}
	res.HistoryPath = opts.historyPath(dir)
	res.Summary, err = checkAndReport(s, dir, res.HistoryPath, rec, thresholds, opts)
	if err != nil {
		return nil, err
	}
	res.ExitCode = res.Summary.ExitCode
	return res, nil
}

// recording is what the servers were asked and answered, up to the end of
// the final phase.
type recording struct {
	stats       workload.Stats
	interrupted bool
	resources   *reports.Resources
}

// record runs everything that needs the servers. Whatever it started is
// stopped when it returns, however it returns: one clean-up path.
func record(ctx context.Context, s *scenarios.Scenario, opts Options, dir string) (recording, error) {
	var cleanup cleanups
	defer cleanup.run()
	schedule := s.Schedule()
	target, err := upTarget(s, schedule, opts, dir)
	if err != nil {
		return recording{}, err
	}
	cleanup.add(target.Down)
	if err := schedule.Validate(target); err != nil {
		return recording{}, err
	}
	bucket, err := createBucket(s, target, &cleanup)
	if err != nil {
		return recording{}, err
	}
	out := history.Discard()
	if !opts.NoRecord {
		if out, err = history.Create(opts.historyPath(dir)); err != nil {
			return recording{}, err
		}
		// Closed by the final phase; here only when the run fails before.
		cleanup.add(func() { _ = out.Close() })
	}
	clock := workload.NewClock()
	meta := bucket.meta(s, clock)
	leadership, err := followLeadership(target, bucket, clock, out, opts.NoRecord, &cleanup)
	if err != nil {
		return recording{}, err
	}
	meta.ObservesLeadership = leadership != nil
	out.Write(&history.Record{Kind: history.KindMeta, Meta: &meta})
	fmt.Fprintf(opts.log(), "kvharness: running %s against %s servers (%s), results in %s\n",
		s.Name, target.Mode, strings.Join(secrets.URLs(target.URLs), ","), dir)

	wc := s.WorkloadConfig()
	local := wc // what runs in this process: every client, or none with workers
	var fl *fleetRun
	if opts.Fleet != nil && opts.Fleet.Workers > 0 {
		if opts.NoRecord {
			return recording{}, fmt.Errorf("workers record what they do: --no-record runs in one process")
		}
		if fl, err = prepareFleet(opts.Fleet, wc, target.URLs, bucket.name, clock, opts.log(), &cleanup); err != nil {
			return recording{}, err
		}
		local.Clients, local.Preload = 0, false
	}
	load, err := workload.Start(ctx, local, workload.Env{Target: target, Control: bucket.control,
		Bucket: bucket.name, Clock: clock, Out: out, Meta: &meta, NoRecord: opts.NoRecord, Progress: opts.Progress != nil})
	if err != nil {
		return recording{}, err
	}
	cleanup.add(load.Close)
	nemesis := &chaos.Nemesis{Schedule: schedule, Target: target, Stream: cluster.StreamName(bucket.name), Now: clock.Now, Out: out}

	// Side by side: the workload, the nemesis (which heals when the
	// workload ends) and the progress display. A panic in any of them
	// stops the others and fails the run.
	var rec recording
	runCtx, endRun := wc.Deadline(ctx)
	defer endRun()
	g := newGroup(runCtx)
	var fleetErr error
	g.Go("workload", func(ctx context.Context) {
		if fl != nil {
			rec.stats, fleetErr = load.RunElsewhere(ctx, fl.run)
		} else {
			rec.stats = load.Run(ctx)
		}
		g.Stop()
	})
	g.Go("nemesis", nemesis.Run)
	if opts.Progress != nil {
		progress := load.Progress
		if fl != nil {
			progress = fl.coord.Progress
		}
		g.Go("progress", func(ctx context.Context) { showProgress(ctx, progress, nemesis, opts.Progress) })
	}
	if !opts.NoRecord {
		sampler := &monitor.Sampler{Monitors: target.Monitors(), Now: clock.Now}
		g.Go("resources", func(ctx context.Context) { rec.resources = sampler.Run(ctx) })
	}
	panicked := g.Wait()
	rec.interrupted = ctx.Err() != nil || panicked != nil
	if opts.NoRecord {
		return rec, panicked
	}
	load.CloseClients()
	if fl != nil {
		if fleetErr == nil {
			fleetErr = fl.merge(&meta, out)
		}
		if fleetErr != nil {
			return rec, fleetErr
		}
	}

	ttlTolerance := time.Duration(meta.TTLToleranceMs) * time.Millisecond
	end := finalPhase(bucket, wc.Keys.Keys, load, wc.KeyTTL, ttlTolerance, rec.stats.Unknowns > 0, clock, out)
	end.Interrupted = rec.interrupted
	// After the last read of the final phase: the stretches cover it.
	leadership.Stop()
	out.Write(&history.Record{Kind: history.KindEnd, End: &end})
	if err := out.Close(); err != nil {
		return rec, fmt.Errorf("writing the history: %w", err)
	}
	return rec, panicked
}
