package harness

import (
	"io"
	"path/filepath"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/reports"
	"github.com/kvharness/kvharness/workload"
)

// Options are a run's settings that are not the scenario's: where results
// go, how to reach external servers, what to show while it runs.
type Options struct {
	// OutDir is the results folder; default results/<time>-<scenario>.
	// It must be empty or missing, unless Replace is set.
	OutDir string
	// Replace lets OutDir hold a previous run's results, which are removed
	// first (never a folder that does not look like results).
	Replace bool
	// Auth: credentials for external servers.
	Auth cluster.Auth
	// NoRecord: a benchmark aid — no history, histograms, watchers or
	// checks; the result carries the workload's stats only.
	NoRecord bool
	// Progress, when set, gets a snapshot about once a second while the
	// workload runs.
	Progress func(workload.Progress)
	// CheckProgress, when set, is told how far checking the history has
	// got (see checker.FileOptions.Progress).
	CheckProgress func(checker.Progress)
	// Log gets the line that says what runs where (nil: nothing).
	Log io.Writer
	// CompressHistory writes the history compressed (history.jsonl.zst,
	// zstd frames): an eighth of the disk, as crash-safe as plain JSONL.
	CompressHistory bool
	// AllViews: Porcupine views of the failing keys of checks that are
	// only reported too (see checker.Options.AllViews).
	AllViews bool
	// CheckMemory bounds what checking one group of keys may take (0:
	// checker.DefaultMemoryBudget); see checker.CheckFile.
	CheckMemory int64
	// SelfBin is a kvharness binary to spawn as the server processes when
	// a fault needs processes and the scenario names no server_bin
	// (`kvharness server`); default this process's own executable.
	SelfBin string
	// Fleet, when set with workers, runs the clients on them (see
	// FleetOptions).
	Fleet *FleetOptions
}

// Result is what a run leaves besides its results folder.
type Result struct {
	Dir         string
	HistoryPath string // empty when nothing was recorded
	Stats       workload.Stats
	Interrupted bool
	// Summary is summary.json; nil when nothing was recorded.
	Summary *reports.Summary
	// ExitCode is the verdict's (reports.ExitCode).
	ExitCode int
}

func (o Options) log() io.Writer {
	if o.Log == nil {
		return io.Discard
	}
	return o.Log
}

// historyPath is where the run's history goes in its results folder.
func (o Options) historyPath(dir string) string {
	if o.CompressHistory {
		return filepath.Join(dir, history.CompressedFileName)
	}
	return filepath.Join(dir, history.FileName)
}
