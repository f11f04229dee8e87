package main

import (
	"strings"
	"testing"
	"time"
)

// --sync-interval reaches the run's servers and its summary; a bad value,
// or one for servers the harness does not start, is refused in one line.
func TestSyncIntervalSetting(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, 2*time.Minute, "run", "single", "--sync-interval", "always", "--ops", "500", "--quiet", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	s := readSummary(t, out)
	if s.Target.SyncInterval != "always" || !strings.Contains(r.stdout, "stores synced always") {
		t.Errorf("summary target %+v; stdout:\n%s", s.Target, r.stdout)
	}
	wantUsageError(t, runBin(t, time.Minute, "run", "single", "--sync-interval", "soon", "--out", t.TempDir()), "sync_interval", "soon")
	wantUsageError(t, runBin(t, time.Minute, "run", "single", "--sync-interval", "1s", "--server", "nats://127.0.0.1:1", "--out", t.TempDir()), "external servers keep their own")
}
