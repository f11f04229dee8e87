package harness

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/scenarios"
	"github.com/kvharness/kvharness/workload"
)

// These tests drive whole runs through Run, as ab, capacity and a
// coordinator will: no CLI, real embedded servers.

func scenario(t *testing.T, name string, edit func(s *scenarios.Scenario)) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(s)
	}
	return s
}

// serverURL is the embedded server a run announced on its log line.
var serverURL = regexp.MustCompile(`\((nats://[^,)]+)`)

// assertServersGone: everything the run started is gone — the server it
// announced on its log line no longer answers.
func assertServersGone(t *testing.T, log string) {
	t.Helper()
	m := serverURL.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no server URL in %q", log)
	}
	if nc, err := nats.Connect(m[1], nats.Timeout(time.Second)); err == nil {
		nc.Close()
		t.Errorf("server %s still answers after the run", m[1])
	}
}

func assertPass(t *testing.T, res *Result) {
	t.Helper()
	if res.Summary == nil || res.ExitCode != 0 || res.Summary.Verdict != checker.Pass {
		t.Fatalf("result %+v", res)
	}
	for _, f := range []string{"summary.json", "history.jsonl", "report.html", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("results folder: %v", err)
		}
	}
}

func TestRunAScenario(t *testing.T) {
	var log bytes.Buffer
	edit := func(s *scenarios.Scenario) { s.Workload.Ops, s.Workload.Duration = 1500, 0 }
	sc := scenario(t, "single", edit)
	res, err := Run(context.Background(), sc, Options{OutDir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	assertPass(t, res)
	if res.Stats.Issued != 1500 || res.Interrupted {
		t.Errorf("issued %d, interrupted %v", res.Stats.Issued, res.Interrupted)
	}
	// The caller's scenario is left as it was: it can be run again.
	if fresh := scenario(t, "single", edit); !reflect.DeepEqual(sc, fresh) {
		t.Errorf("Run changed the caller's scenario:\n%+v\nwant\n%+v", sc, fresh)
	}
	assertServersGone(t, log.String())
}

// Two runs side by side, then one more after them, in one process: each
// has its own servers, bucket, clock and history.
func TestRunsSideBySideAndInTurn(t *testing.T) {
	if testing.Short() {
		t.Skip("three runs")
	}
	sc := scenario(t, "single", func(s *scenarios.Scenario) {
		s.Workload.Ops, s.Workload.Duration, s.Workload.Clients = 800, 0, 3
	})
	results := make([]*Result, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = Run(context.Background(), sc, Options{OutDir: t.TempDir()})
		}(i)
	}
	wg.Wait()
	results[2], errs[2] = Run(context.Background(), sc, Options{OutDir: t.TempDir()})
	buckets := map[string]bool{}
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		assertPass(t, res)
		h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		buckets[h.Meta.Bucket] = true
		if n := len(h.Ops); n != 800 {
			t.Errorf("run %d recorded %d ops, want its own 800", i, n)
		}
	}
	if len(buckets) != 3 {
		t.Errorf("buckets %v: want one per run", buckets)
	}
}

// A part that panics (here the progress display) stops the run: the other
// parts wind down, the history is closed and checkable, the servers stop,
// the stack goes to a file and the caller gets one error.
func TestAPanicEndsTheRunCleanly(t *testing.T) {
	var log bytes.Buffer
	dir := t.TempDir()
	sc := scenario(t, "single", func(s *scenarios.Scenario) { s.Workload.Duration = 30 * time.Second })
	started := time.Now()
	_, err := Run(context.Background(), sc, Options{OutDir: dir, Log: &log, Progress: func(p workload.Progress) {
		if p.Ops > 0 {
			panic("display broke")
		}
	}})
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Part != "progress" {
		t.Fatalf("error %v: want the progress part's panic", err)
	}
	if took := time.Since(started); took > 20*time.Second {
		t.Errorf("the run went on for %s after the panic", took)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "panic.txt")); err != nil || !bytes.Contains(b, []byte("display broke")) {
		t.Errorf("panic.txt: %v %q", err, b)
	}
	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if h.End == nil || !h.End.Interrupted || !h.End.FinalReads || len(h.Ops) == 0 {
		t.Fatalf("history: end %+v, %d ops: want a closed history with final reads, marked interrupted", h.End, len(h.Ops))
	}
	if res := checker.Check(h, checker.Options{Timeout: time.Minute}); res.Verdict != checker.Pass {
		t.Errorf("the kept history checks %s", res.Verdict)
	}
	assertServersGone(t, log.String())
}

// Canceling the context (Ctrl-C) stops the workload; the run still heals,
// reads the final state and checks, and says it was interrupted.
func TestCanceledRunIsCheckedAndMarkedInterrupted(t *testing.T) {
	sc := scenario(t, "single", func(s *scenarios.Scenario) { s.Workload.Duration = 30 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || !res.Summary.Interrupted || res.Stats.Elapsed > 10*time.Second {
		t.Errorf("interrupted %v/%v after %s", res.Interrupted, res.Summary.Interrupted, res.Stats.Elapsed)
	}
	if res.Summary.Verdict != checker.Pass || res.ExitCode != 4 {
		t.Errorf("verdict %s, exit code %d (want 4: cut short)", res.Summary.Verdict, res.ExitCode)
	}
}

// A scenario the run cannot carry out is an error before anything starts.
func TestBadScenarioIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	sc := scenario(t, "single", func(s *scenarios.Scenario) { s.Workload.Mix = map[string]int{"jump": 1} })
	if _, err := Run(context.Background(), sc, Options{OutDir: dir}); err == nil {
		t.Fatal("a mix with an unknown op ran")
	}
	sc = scenario(t, "single", func(s *scenarios.Scenario) { s.Faults.Kinds = []string{"meteor"} })
	if _, err := Run(context.Background(), sc, Options{OutDir: dir}); err == nil {
		t.Fatal("an unknown fault ran")
	}
}

// Mid-run watchers start while the clients run, and no longer: a watcher
// due after an op budget is spent does not hold the run (nor the nemesis
// beside it) open.
func TestLateWatcherDoesNotHoldTheRun(t *testing.T) {
	sc := scenario(t, "single", func(s *scenarios.Scenario) {
		s.Workload.Ops, s.Workload.Duration = 300, 0
		s.Workload.Watchers = []scenarios.WatcherGroup{{Count: 1, Start: 20 * time.Second}}
	})
	started := time.Now()
	res, err := Run(context.Background(), sc, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(started); took > 15*time.Second || res.Stats.Elapsed > 5*time.Second {
		t.Errorf("300 ops took %s (workload %s): the watcher due at 20 s held the run", took, res.Stats.Elapsed)
	}
}

// Default results folders are claimed whole: two runs of one scenario in
// the same second get two folders.
func TestDefaultResultsFoldersDoNotCollide(t *testing.T) {
	t.Chdir(t.TempDir())
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		dir, _, err := Options{}.ResultsDir("single")
		if err != nil {
			t.Fatal(err)
		}
		if seen[dir] {
			t.Fatalf("%s handed out twice", dir)
		}
		seen[dir] = true
	}
}

// A folder given as OutDir that holds a run is refused unless Replace is
// set, and then the old run's files go, not only those the new run
// writes; a non-empty folder that holds no run is never emptied.
func TestOutFolderMustBeEmpty(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	sc := scenario(t, "single", func(s *scenarios.Scenario) { s.Workload.Ops, s.Workload.Duration = 200, 0 })
	if _, err := Run(context.Background(), sc, Options{OutDir: dir}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "linearizability", "k0000-writes.html")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("an old run's failing view"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), sc, Options{OutDir: dir})
	if err == nil || !regexp.MustCompile(`holds a previous run.*--replace`).MatchString(err.Error()) {
		t.Fatalf("a second run into a results folder: %v", err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("a refused run touched the folder: %v", err)
	}
	res, err := Run(context.Background(), sc, Options{OutDir: dir, Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	assertPass(t, res)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the old run's view survived --replace: %v", err)
	}

	mine := t.TempDir()
	keep := filepath.Join(mine, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), sc, Options{OutDir: mine, Replace: true})
	if err == nil || !regexp.MustCompile(`not empty and holds no run`).MatchString(err.Error()) {
		t.Fatalf("a run into a folder of other files: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("--replace removed a file that was no run's: %v", err)
	}
}

// A run that cannot reach its servers leaves no empty results folder
// behind, given or default.
func TestFailedConnectionLeavesNoFolder(t *testing.T) {
	t.Chdir(t.TempDir())
	sc := scenario(t, "single", func(s *scenarios.Scenario) { s.Target.Servers = []string{"nats://127.0.0.1:1"} })
	given := filepath.Join(t.TempDir(), "out")
	if _, err := Run(context.Background(), sc, Options{OutDir: given}); err == nil {
		t.Fatal("a run against a closed port ran")
	}
	if _, err := os.Stat(given); !os.IsNotExist(err) {
		t.Errorf("the results folder of a run that could not connect is left: %v", err)
	}
	if _, err := Run(context.Background(), sc, Options{}); err == nil {
		t.Fatal("a run against a closed port ran")
	}
	if left, _ := filepath.Glob("results/*"); len(left) > 0 {
		t.Errorf("default results folders left by a run that could not connect: %v", left)
	}
}
