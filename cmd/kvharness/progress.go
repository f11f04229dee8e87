package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kvharness/kvharness/checker"
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
	// checkStart, checkLine: when checking began, and when a line about it
	// was last shown (see checking).
	checkStart, checkLine time.Time
	clock                 func() time.Time
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
	return &progressPrinter{w: w, terminal: terminal, every: every, clock: time.Now}
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
	p.show(line)
}

// show redraws the line on a terminal, or prints it.
func (p *progressPrinter) show(line string) {
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line) // erase what a longer previous line left
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, strings.TrimSpace(line))
}

// checking shows how far checking the history has got: on a terminal each
// second, in logs every p.every; a check shorter than that shows nothing.
func (p *progressPrinter) checking(pr checker.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock()
	if p.checkStart.IsZero() {
		p.checkStart, p.checkLine = now, now
	}
	every := p.every
	if p.terminal {
		every = time.Second
	}
	if now.Sub(p.checkLine) < every || pr.Total <= 0 {
		return
	}
	p.checkLine = now
	elapsed := now.Sub(p.checkStart).Round(time.Second)
	pct := 100 * float64(pr.Done) / float64(pr.Total)
	switch pr.Phase {
	case checker.PhaseReading:
		p.show(fmt.Sprintf("checking the history: reading it, %.0f%% of %.0f MB  %s", pct, float64(pr.Total)/1e6, elapsed))
	default:
		p.show(fmt.Sprintf("checking the history: %.0f%% of %d records checked  %s", pct, pr.Total, elapsed))
	}
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
