package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/workload"
)

func TestProgressOnTerminalRedrawsOneLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b, true, 0)
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
	p := newProgressPrinter(&b, false, 0)
	for s := 1; s <= 25; s++ {
		p.update(workload.Progress{Elapsed: time.Duration(s) * time.Second, Ops: int64(s)})
	}
	p.done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || strings.Contains(b.String(), "\r") {
		t.Fatalf("want a plain line at 10 s and 20 s, got %q", b.String())
	}
}

// Progress goes to stderr (a line a second here), never into stdout's
// summary; --quiet turns it off.
func TestRunProgressOnStderrOnly(t *testing.T) {
	out := t.TempDir()
	r := runBin(t, time.Minute, "run", "single", "--duration", "3s", "--progress-interval", "1s", "--out", out)
	if r.code != 0 || !strings.Contains(r.stderr, "ops/s") || strings.Contains(r.stdout, "ops/s  p99") || strings.Contains(r.stdout, "\r") {
		t.Fatalf("exit %d: want progress lines on stderr only\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBin(t, time.Minute, "run", "single", "--duration", "3s", "--progress-interval", "1s", "--quiet", "--out", t.TempDir())
	if r.code != 0 || strings.Contains(r.stderr, "ops/s") {
		t.Fatalf("exit %d: --quiet still showed progress\nstderr %q", r.code, r.stderr)
	}
}

// Checking shows how far it has got, reading then checking, throttled by
// the clock: in logs every interval (nothing for a check shorter than
// that), on a terminal each second.
func TestCheckProgress(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		var b bytes.Buffer
		p := newProgressPrinter(&b, terminal, 10*time.Second)
		now := time.Unix(1e9, 0)
		p.clock = func() time.Time { return now }
		for s := 0; s <= 25; s++ {
			now = time.Unix(1e9+int64(s), 0)
			if s < 12 {
				p.checking(checker.Progress{Phase: checker.PhaseReading, Done: int64(s) * 1e6, Total: 12e6})
			} else {
				p.checking(checker.Progress{Phase: checker.PhaseChecking, Done: int64(s-12) * 100, Total: 1300})
			}
		}
		p.done()
		out := b.String()
		want := map[bool]int{false: 2, true: 25}[terminal]
		if shown := strings.Count(out, "checking the history"); shown != want {
			t.Errorf("terminal %v: %d lines, want %d:\n%q", terminal, shown, want, out)
		}
		if !strings.Contains(out, "reading it, 83% of 12 MB  10s") || !strings.Contains(out, "62% of 1300 records checked  20s") {
			t.Errorf("terminal %v: lines lack the phase, share or time:\n%q", terminal, out)
		}
	}
}
