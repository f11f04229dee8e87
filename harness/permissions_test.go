package harness

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kvharness/kvharness/scenarios"
	"github.com/kvharness/kvharness/workload"
)

// A results folder and the servers' store in it are the user's alone: they
// hold every value the run wrote, and the store is the bucket's data.
func TestResultsAndStoreOwnerOnly(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var mu sync.Mutex
	stores := map[string]os.FileMode{}
	sc := scenario(t, "single", func(s *scenarios.Scenario) {
		s.Workload.Ops, s.Workload.Duration = 0, 2*time.Second
	})
	res, err := Run(context.Background(), sc, Options{OutDir: out, Progress: func(workload.Progress) {
		found, _ := filepath.Glob(filepath.Join(out, "nodes", "kvharness-*"))
		mu.Lock()
		defer mu.Unlock()
		for _, f := range found {
			if st, err := os.Stat(f); err == nil {
				stores[f] = st.Mode().Perm()
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	assertPass(t, res)
	mu.Lock()
	defer mu.Unlock()
	if len(stores) == 0 {
		t.Fatal("saw no server store while the run went")
	}
	for f, mode := range stores {
		if mode != 0o700 {
			t.Errorf("store %s has mode %v, want 0700", f, mode)
		}
	}
	for _, f := range []string{"", "nodes"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != 0o700 {
			t.Errorf("folder %q has mode %v, want 0700", f, st.Mode().Perm())
		}
	}
	for _, f := range []string{"history.jsonl", "summary.json", "report.html", "junit.xml"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		} else if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want owner-only", f, st.Mode().Perm())
		}
	}
}
