package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/workload"
)

func TestProgressOnTerminalRedrawsOneLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b, true)
	for s := 1; s <= 3; s++ {
		p.update(workload.Progress{Elapsed: time.Duration(s) * time.Second, Total: 15 * time.Second, Ops: int64(1000 * s), OpsPerSec: 1000, Unknown: 2, Fault: "pause n2", P99: 4200 * time.Microsecond})
	}
	p.done()
	out := b.String()
	if strings.Count(out, "\r") != 3 || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("want 3 redraws and one final newline, got %q", out)
	}
	if !strings.Contains(out, "3.0s/15s") || !strings.Contains(out, "unknown 2") || !strings.Contains(out, "fault: pause n2") || !strings.Contains(out, "p99 4.20ms") {
		t.Fatalf("line lacks elapsed/total, unknowns or the fault in progress: %q", out)
	}
}

func TestProgressInLogsEveryTenSeconds(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b, false)
	for s := 1; s <= 25; s++ {
		p.update(workload.Progress{Elapsed: time.Duration(s) * time.Second, Ops: int64(s)})
	}
	p.done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || strings.Contains(b.String(), "\r") {
		t.Fatalf("want a plain line at 10 s and 20 s, got %q", b.String())
	}
}

// --quiet shows no progress; without it, progress goes to stderr only and
// never mixes into stdout's summary.
func TestQuietRunHasNoProgress(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, time.Minute, "run", "single", "--duration", "2s", "--quiet", "--out", out)
	if r.code != 0 || strings.Contains(r.stderr, "ops/s") || strings.Contains(r.stdout, "\r") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBin(t, time.Minute, "run", "single", "--duration", "2s", "--out", out)
	if r.code != 0 || strings.Contains(r.stdout, "errors 0") {
		t.Fatalf("progress leaked into stdout: %q", r.stdout)
	}
}
