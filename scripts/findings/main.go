// Command findings re-runs what kvharness found in NATS releases
// (docs/FINDINGS.md): each finding against the releases that show it and
// those that pass it, with the kvharness binary as a user runs it. It
// prints one table and exits 1 when a known bug is no longer found or a
// passing release stops passing — so a rewrite of the checker or the
// recording that loses a finding is caught. Each run's history is checked
// again twice, in groups of one key: each key whole, then cut into spans
// of a few hundred operations (the way a long key is checked, see
// checker/spans.go); every check must get the same result both ways. Run
// by `make findings`, which builds the releases into .tools/bin first.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// finding is one bug kvharness finds, as a run a user can repeat.
type finding struct {
	name string
	// args of `kvharness run`; {BIN:vX} stands for that release's binary,
	// {SERVER} and {UPGRADE} for a side's own.
	args []string
	// bug: the releases that show it; fixed: those that pass the same run.
	bug, fixed []release
	// tries: a probabilistic finding is found when any of its tries fails
	// one of checks; a passing release must pass every try it gets (one).
	tries  int
	checks []string
}

// release is one side of a finding: a server binary and, for upgrades,
// the binary each node comes back on.
type release struct {
	server, upgrade string
}

func (r release) String() string {
	if r.upgrade != "" {
		return r.server + " → " + r.upgrade
	}
	return r.server
}

// The findings, as docs/FINDINGS.md describes them.
var findings = []finding{
	{
		name: "upgrade-desync",
		args: []string{"rolling-upgrade", "--server-bin", "{SERVER}", "--upgrade-bin", "{UPGRADE}"},
		bug:  []release{{"v2.11.0", "v2.12.1"}},
		// 2.10.27 → 2.11.0 failed 1 of 4 runs on 2026-12-02, after at
		// least 8 passes: rare, but not a release that passes
		// (docs/FINDINGS.md).
		fixed:  []release{{"v2.12.1", "v2.15.2"}},
		tries:  3,
		checks: []string{"replicas-converge", "revisions-unique", "reads-valid", "history-matches"},
	},
	{
		name: "lost-acked-writes",
		args: []string{"kill-random", "--server-bin", "{SERVER}", "--fault-target", "majority",
			"--fault-interval", "4s", "--fault-duration", "1s", "--duration", "40s"},
		bug:    []release{{server: "v2.10.22"}},
		fixed:  []release{{server: "v2.15.2"}},
		tries:  3,
		checks: []string{"no-lost-writes", "linearizable-writes", "revisions-unique"},
	},
	{
		name: "cas-lost-update",
		args: []string{"single", "--server-bin", "{SERVER}", "--nodes", "3", "--replicas", "3", "--clients", "8",
			"--keys", "2", "--mix", "update=4,get=2,put=1", "--duration", "10s"},
		bug:    []release{{server: "v2.9.20"}},
		fixed:  []release{{server: "v2.15.2"}},
		tries:  3,
		checks: []string{"linearizable-writes"},
	},
	{
		// Found in about half of the runs: more tries than the others.
		name:   "refused-but-stored",
		args:   []string{"partition-leader", "--server-bin", "{SERVER}"},
		bug:    []release{{server: "v2.15.2"}},
		fixed:  []release{{server: "v2.10.27"}},
		tries:  6,
		checks: []string{"refusals-definite"},
	},
	{
		// A storm of pipelined CAS updates while the stream goes
		// R3 -> R1 -> R3 every 1.5 s; found in about half of the runs.
		name: "cas-unchecked-on-scale-up",
		args: []string{"single", "--server-bin", "{SERVER}", "--nodes", "3", "--replicas", "3", "--clients", "4",
			"--inflight", "128", "--keys", "64", "--mix", "put=1,update=3", "--faults", "replicas",
			"--fault-interval", "1500ms", "--fault-duration", "700ms", "--duration", "15s"},
		bug:    []release{{server: "v2.12.1"}, {server: "v2.15.2"}},
		fixed:  []release{{server: "v2.11.0"}},
		tries:  6,
		checks: []string{"linearizable-writes"},
	},
}

type summary struct {
	Verdict     string   `json:"verdict"`
	SpannedKeys int      `json:"check_spanned_keys"`
	WholeKeys   []string `json:"check_whole_keys"`
	Checks      []struct {
		Name     string `json:"name"`
		Result   string `json:"result"`
		Required bool   `json:"required"`
	} `json:"checks"`
}

// outcome of one release of one finding.
type outcome struct {
	finding, release, expected string
	fails, runs                int
	failed                     []string // checks that failed, over all tries
	spansDiffer                []string // checks whose result checking in spans changed
	spans                      string   // how the re-checks in spans went
	ok                         bool
	note                       string
}

func main() {
	kvh := flag.String("bin", "bin/kvharness", "the kvharness binary")
	tools := flag.String("tools", ".tools/bin", "folder of nats-server-<version> binaries")
	out := flag.String("out", "results/findings", "results folder")
	only := flag.String("only", "", "run only this finding")
	flag.Parse()

	var outcomes []outcome
	for _, f := range findings {
		if *only != "" && f.name != *only {
			continue
		}
		for _, r := range f.bug {
			outcomes = append(outcomes, runRelease(*kvh, *tools, *out, f, r, true))
		}
		for _, r := range f.fixed {
			outcomes = append(outcomes, runRelease(*kvh, *tools, *out, f, r, false))
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "finding\trelease\texpected\tverdict\tchecks that failed\tin spans\tresult")
	bad := 0
	for _, o := range outcomes {
		result := "ok"
		if !o.ok {
			result, bad = "NOT AS KNOWN", bad+1
		}
		if o.note != "" {
			result += " (" + o.note + ")"
		}
		spans := o.spans
		if len(o.spansDiffer) > 0 {
			spans = "DIFFER"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\tfail %d/%d\t%s\t%s\t%s\n", o.finding, o.release, o.expected, o.fails, o.runs,
			strings.Join(o.failed, ","), spans, result)
	}
	tw.Flush()
	if bad > 0 {
		fmt.Printf("findings: %d of %d not as known (results in %s)\n", bad, len(outcomes), *out)
		os.Exit(1)
	}
	fmt.Printf("findings: all %d as known\n", len(outcomes))
}

// runRelease runs a finding on one release: a bug side until a try fails
// one of the finding's checks (at most tries), a fixed side once.
func runRelease(kvh, tools, out string, f finding, r release, bug bool) outcome {
	o := outcome{finding: f.name, release: r.String(), expected: "pass"}
	tries := 1
	if bug {
		o.expected, tries = "fail", f.tries
	}
	failed := map[string]bool{}
	for try := 1; try <= tries; try++ {
		dir := filepath.Join(out, fmt.Sprintf("%s-%s-%d", f.name, strings.ReplaceAll(r.String(), " → ", "-to-"), try))
		_ = os.RemoveAll(dir)
		args := []string{"run"}
		for _, a := range f.args {
			a = strings.ReplaceAll(a, "{SERVER}", filepath.Join(tools, "nats-server-"+r.server))
			a = strings.ReplaceAll(a, "{UPGRADE}", filepath.Join(tools, "nats-server-"+r.upgrade))
			args = append(args, a)
		}
		// A bounded check keeps the whole table within 20 minutes; the
		// checks that name each finding decide in seconds.
		args = append(args, "--check-timeout", "60s", "--quiet", "--out", dir)
		start := time.Now()
		cmd := exec.Command(kvh, args...)
		logOut, _ := os.Create(dir + ".log")
		cmd.Stdout, cmd.Stderr = logOut, logOut
		err := cmd.Run()
		logOut.Close()
		code := cmd.ProcessState.ExitCode()
		fmt.Fprintf(os.Stderr, "findings: %s on %s, try %d: exit %d in %.0fs\n", f.name, r, try, code, time.Since(start).Seconds())
		if code == 2 || err != nil && code < 0 {
			o.runs++
			o.note = "could not run: see " + dir + ".log"
			return o
		}
		s, err := readSummary(dir)
		if err != nil {
			o.runs++
			o.note = err.Error()
			return o
		}
		o.runs++
		spans, differ, err := recheckInSpans(kvh, dir)
		if err != nil {
			o.note = err.Error()
			return o
		}
		o.spans = spans
		o.spansDiffer = append(o.spansDiffer, differ...)
		hit := false
		for _, c := range s.Checks {
			// Checks a run reports but does not require (direct reads on
			// R3 may be stale) say nothing about a finding.
			if c.Result == "fail" && c.Required {
				failed[c.Name] = true
				hit = hit || slices.Contains(f.checks, c.Name)
			}
		}
		if s.Verdict == "fail" {
			o.fails++
		}
		if bug && hit {
			break // found
		}
		if !bug && s.Verdict != "pass" {
			break
		}
	}
	for c := range failed {
		o.failed = append(o.failed, c)
	}
	sort.Strings(o.failed)
	if bug {
		o.ok = len(o.failed) > 0 && anyOf(o.failed, f.checks)
	} else {
		o.ok = o.fails == 0 && o.note == ""
	}
	if len(o.spansDiffer) > 0 {
		o.ok = false
		o.note = "in spans: " + strings.Join(o.spansDiffer, "; ")
	}
	return o
}

// spanOps: operations per span of the re-check, small enough that every
// key of a run of seconds is cut into several; groupRecords puts each key
// in a group of its own, both ways (results may depend on which keys are
// checked together, which is not what this compares).
const spanOps, groupRecords = "256", "1"

// recheckInSpans checks the run's history in dir again, each key whole and
// each key in spans; it says how many keys were cut into spans (or why
// none: a run with faults often leaves every key whole) and lists the
// checks whose result differs.
func recheckInSpans(kvh, dir string) (string, []string, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "history.jsonl*"))
	if len(files) == 0 {
		return "", nil, fmt.Errorf("no history in %s", dir)
	}
	check := func(spans string) (*summary, error) {
		cmd := exec.Command(kvh, "check", files[0], "--check-group-records", groupRecords, "--check-span-ops", spans, "--check-timeout", "60s", "--json")
		out, err := cmd.Output()
		if code := cmd.ProcessState.ExitCode(); code == 2 || err != nil && code < 0 {
			return nil, fmt.Errorf("re-check (spans %s): exit %d: %v", spans, code, err)
		}
		var s summary
		if err := json.Unmarshal(out, &s); err != nil {
			return nil, fmt.Errorf("re-check (spans %s): %v", spans, err)
		}
		return &s, nil
	}
	whole, err := check("-1")
	if err != nil {
		return "", nil, err
	}
	split, err := check(spanOps)
	if err != nil {
		return "", nil, err
	}
	if split.SpannedKeys == 0 {
		why := "none"
		if len(split.WholeKeys) > 0 {
			_, reason, _ := strings.Cut(split.WholeKeys[0], ": ")
			why = "none (" + reason + ")"
		}
		return why, nil, nil
	}
	got := map[string]string{}
	for _, c := range split.Checks {
		got[c.Name] = c.Result
	}
	var differ []string
	for _, c := range whole.Checks {
		if got[c.Name] != c.Result {
			differ = append(differ, fmt.Sprintf("%s %s whole, %s in spans", c.Name, c.Result, got[c.Name]))
		}
	}
	return fmt.Sprintf("%d keys, same", split.SpannedKeys), differ, nil
}

func readSummary(dir string) (*summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, fmt.Errorf("no summary: %w", err)
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func anyOf(have, want []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}
