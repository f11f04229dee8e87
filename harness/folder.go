package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/internal/lazyfs"
	"github.com/kvharness/kvharness/reports"
)

// A results folder belongs to one run: made fresh (or emptied on request),
// locked while the run writes it, removed again when the run could not
// start. The lock is what tells a folder whose run was killed from one
// whose run is still going: the kernel drops it with the process.

// ResultsDir makes the results folder (a run's, or an A/B session's). The
// default one is claimed whole: runs started in the same second (a CI
// matrix) get -2, -3, ... rather than one folder and one history for two
// runs. A folder given with --out
// must be empty: a second run there would mix its files with the first's
// (failing views beside a passing verdict, appended node logs).
// made says whether the run made the folder (and may remove it again).
func (o Options) ResultsDir(scenario string) (dir string, made bool, err error) {
	if o.OutDir != "" {
		made, err := o.claimOutDir()
		return o.OutDir, made, err
	}
	base := filepath.Join("results", time.Now().Format("20060102-150405")+"-"+scenario)
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		return "", false, fmt.Errorf("results folder: %w", err)
	}
	for n := 1; ; n++ {
		dir := base
		if n > 1 {
			dir = fmt.Sprintf("%s-%d", base, n)
		}
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			return dir, true, nil
		}
		if !os.IsExist(err) {
			return "", false, fmt.Errorf("results folder: %w", err)
		}
	}
}

func (o Options) claimOutDir() (made bool, err error) {
	entries, err := os.ReadDir(o.OutDir)
	if os.IsNotExist(err) {
		if err := os.MkdirAll(o.OutDir, 0o700); err != nil {
			return false, fmt.Errorf("results folder: %w", err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("results folder: %w", err)
	}
	if len(entries) == 0 {
		return false, nil
	}
	if FolderInUse(o.OutDir) {
		return false, fmt.Errorf("results folder %s is in use by a run that is still going", o.OutDir)
	}
	if !holdsResults(o.OutDir) {
		return false, fmt.Errorf("results folder %s is not empty and holds no run's results: choose an empty or new folder", o.OutDir)
	}
	if !o.Replace {
		return false, fmt.Errorf("results folder %s holds a previous run: choose another, or pass --replace to replace it", o.OutDir)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(o.OutDir, e.Name())); err != nil {
			return false, fmt.Errorf("replacing the previous run in %s: %w", o.OutDir, err)
		}
	}
	return false, nil
}

// holdsResults: the folder has a run's history or summary, so replacing
// it removes a run and nothing else a user keeps there.
func holdsResults(dir string) bool {
	if _, err := history.FindIn(dir); err == nil {
		return true
	}
	_, err := os.Stat(filepath.Join(dir, "summary.json"))
	return err == nil
}

// removeIfEmpty removes a results folder a run made and left without a
// single file (it could not connect, say): nothing to look at, and a
// results/ listing full of empty runs misleads.
func removeIfEmpty(dir string) {
	empty := true
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			empty = false
			return filepath.SkipAll
		}
		return nil
	})
	if empty {
		_ = os.RemoveAll(dir)
	}
}

// lockFolder takes the results folder's lock until release: the process
// that runs holds it to the end of Run, and when it dies, even by SIGKILL,
// the kernel drops it.
func lockFolder(dir string) (release func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("results folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("results folder %s is in use by another run", dir)
	}
	return func() { f.Close() }, nil
}

// FolderInUse: a live run holds the results folder's lock.
func FolderInUse(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// FinishKilledRun does for the results folder of a run that was killed
// (no summary.json) what the run could not: it checks the history as
// `kvharness check` does, writes every result file a finished run writes,
// and removes the server stores the run left (RemoveLeftStores); log gets
// a line for each step. It refuses a folder whose run is still going. It
// sets the process's check memory limit: checking is all the caller does
// from here.
func FinishKilledRun(ctx context.Context, dir string, budget int64, log io.Writer) (*reports.Summary, error) {
	if FolderInUse(dir) {
		return nil, fmt.Errorf("%s has no summary.json yet: its run is still going", dir)
	}
	path, err := history.FindIn(dir)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "%s has no summary.json: its run did not finish; checking its history\n", dir)
	_ = LimitCheckMemory(budget)
	s, err := Recheck(ctx, path, checker.FileOptions{
		Options:      checker.Options{VisualizeDir: filepath.Join(dir, "linearizability")},
		MemoryBudget: budget,
	})
	if err != nil {
		return nil, err
	}
	if err := s.WriteFiles(dir); err != nil {
		return nil, fmt.Errorf("writing results: %w", err)
	}
	removed, err := RemoveLeftStores(dir)
	for _, r := range removed {
		fmt.Fprintf(log, "removed the server store the killed run left: %s\n", r)
	}
	return s, err
}

// RemoveLeftStores removes the server stores a killed run left in its
// folder (nodes/kvharness-store-*, nodes/kvharness-cluster-*: the whole
// JetStream data of its servers) and returns them. It refuses a folder
// whose run is still going.
func RemoveLeftStores(dir string) ([]string, error) {
	if FolderInUse(dir) {
		return nil, fmt.Errorf("a run is still writing %s: wait for it to end", dir)
	}
	var removed []string
	for _, pattern := range []string{"kvharness-store-*", "kvharness-cluster-*"} {
		stores, _ := filepath.Glob(filepath.Join(dir, "nodes", pattern))
		for _, s := range stores {
			// A killed run's power-loss stores stay mounted with no server
			// behind them: every access fails until they are detached.
			if err := lazyfs.DetachUnder(s); err != nil {
				return removed, fmt.Errorf("detaching the filesystems a killed run left mounted in %s: %w", s, err)
			}
			if err := os.RemoveAll(s); err != nil {
				return removed, fmt.Errorf("removing a store the run left: %w", err)
			}
			removed = append(removed, s)
		}
	}
	return removed, nil
}
