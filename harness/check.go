package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/scenarios"
)

// checkAndReport reads the recorded history back, checks it and writes the
// results files. The servers are down by now: checking a long history
// takes the CPU and memory they had.
func checkAndReport(s *scenarios.Scenario, dir, path string, rec recording, thresholds []reports.Threshold, opts Options) (*reports.Summary, error) {
	defer LimitCheckMemory(opts.CheckMemory)()
	// Not the run's context: a first Ctrl-C stops the workload, and the
	// run still checks what it recorded.
	result, digest, err := CheckFile(context.Background(), path, checker.FileOptions{
		Options:      checker.Options{Timeout: s.Expect.CheckTimeout, VisualizeDir: filepath.Join(dir, "linearizability"), AllViews: opts.AllViews},
		MemoryBudget: opts.CheckMemory,
		Progress:     opts.CheckProgress,
	})
	if err != nil {
		return nil, fmt.Errorf("reading back the history: %w", err)
	}
	summary := reports.Build(reports.Input{
		Digest:      digest,
		Result:      result,
		Latency:     rec.stats.Latency,
		Service:     rec.stats.Service,
		Late:        rec.stats.Late,
		DurationSec: (rec.stats.Elapsed - rec.stats.Warmup).Seconds(),
		Pacing:      rec.stats.Pacing,
		Clients:     s.Workload.Clients,
		Interrupted: rec.interrupted,
		Thresholds:  thresholds,
		Resources:   rec.resources,
	})
	if err := summary.WriteFiles(dir); err != nil {
		return nil, fmt.Errorf("writing results: %w", err)
	}
	return summary, nil
}

// CheckFile checks the history at path (see checker.CheckFile) and digests
// it for the report in the same reading.
func CheckFile(ctx context.Context, path string, o checker.FileOptions) (*checker.Result, *reports.Digest, error) {
	d := reports.NewDigest()
	o.Observe, o.Group = d.Observe, d.Group
	res, whole, err := checker.CheckFile(ctx, path, o)
	if err != nil {
		return nil, nil, err
	}
	d.SetRun(whole)
	return res, d, nil
}

// Recheck checks a recorded history offline (`kvharness check`, or
// `report` on the folder of a run that was killed) and builds its summary
// from the history alone: latency from invoke and complete times, the
// thresholds from its meta line, a run without an end record marked as cut
// short.
func Recheck(ctx context.Context, path string, o checker.FileOptions) (*reports.Summary, error) {
	res, d, err := CheckFile(ctx, path, o)
	if err != nil {
		return nil, err
	}
	return reports.Build(reports.Input{Digest: d, Result: res, Interrupted: d.End == nil || d.End.Interrupted}), nil
}

// checkMemoryBase is what checking holds besides the group of keys the
// memory budget bounds: the facts, the report's digest, the reader's
// batches (about 0.5 GB on a 60-minute run).
const checkMemoryBase = 512 << 20

// LimitCheckMemory sets the soft heap limit while a history is read and
// checked to the memory budget (0: the checker's default) and
// checkMemoryBase: with the default GOGC the heap would grow to twice the
// live group before collecting; under the limit the collector works harder
// instead. GOMEMLIMIT, when set, wins, and so does GOGC. It also puts back
// the GOGC that the workload phase raised (workloadGC). It sets process-wide
// settings: a process that checks (`kvharness check`) calls it before
// checking. A run restores what it changed when it returns (runs side by
// side share the settings in between).
func LimitCheckMemory(budget int64) (restore func()) {
	if budget <= 0 {
		budget = checker.DefaultMemoryBudget
	}
	gc := debug.SetGCPercent(checkGCPercent())
	limit := int64(-1)
	if os.Getenv("GOMEMLIMIT") == "" {
		limit = debug.SetMemoryLimit(budget + checkMemoryBase)
	}
	return func() {
		debug.SetGCPercent(gc)
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}

// checkGCPercent is the GOGC checking runs at: GOGC's own, when set, else
// the default (100).
func checkGCPercent() int {
	switch v := os.Getenv("GOGC"); v {
	case "off":
		return -1
	default:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return 100
}

// workloadGC: a load generator shares the machine with the servers it
// measures, so it collects garbage less often (memory stays bounded —
// histories stream to disk) and leaves more CPU to the servers. It returns
// what puts the setting back.
func workloadGC() (restore func()) {
	gc := debug.SetGCPercent(400)
	return func() { debug.SetGCPercent(gc) }
}
