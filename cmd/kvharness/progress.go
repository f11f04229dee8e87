package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kvharness/kvharness/workload"
)

// progressPrinter shows a running workload. On a terminal it redraws one
// line every second; elsewhere (CI logs) it prints a plain line every 10 s,
// so logs stay short. It writes to stderr, never into stdout's summary.
type progressPrinter struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	every    time.Duration
	lastLine time.Duration
	drawn    bool
}

// logLineEvery is how often a plain progress line goes to logs.
const logLineEvery = 10 * time.Second

// newProgressPrinter: every, when > 0, replaces the log line interval (a
// terminal redraws every second regardless).
func newProgressPrinter(w io.Writer, terminal bool, every time.Duration) *progressPrinter {
	if every <= 0 {
		every = logLineEvery
	}
	if terminal {
		every = 0
	}
	return &progressPrinter{w: w, terminal: terminal, every: every}
}

// isTerminal reports whether f is a character device (an interactive terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progressPrinter) update(pr workload.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.terminal && pr.Elapsed-p.lastLine < p.every {
		return
	}
	p.lastLine = pr.Elapsed
	total := ""
	if pr.Total > 0 {
		total = fmt.Sprintf("/%.0fs", pr.Total.Seconds())
	}
	line := fmt.Sprintf("%6.1fs%s  %d ops  %.0f ops/s  p99 %s  errors %d  unknown %d", pr.Elapsed.Seconds(), total, pr.Ops, pr.OpsPerSec,
		formatP99(pr.P99), pr.Errors, pr.Unknown)
	if pr.Late > 0 {
		line += fmt.Sprintf("  late %d", pr.Late)
	}
	if pr.Fault != "" {
		line += "  fault: " + pr.Fault
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line) // erase what a longer previous line left
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, strings.TrimSpace(line))
}

// formatP99: milliseconds with a precision that suits the value.
func formatP99(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "-"
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.1fs", ms/1000)
}

// done ends the redrawn line so what follows starts on its own.
func (p *progressPrinter) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
