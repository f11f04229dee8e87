// Command faultsoak looks for false alarms: it runs every built-in scenario
// under every fault kind, with a few seeds, against one nats-server release
// (spawned processes, so that every kind applies), and prints a table of
// scenario × fault → verdicts. A healthy release must pass every cell; a
// cell that fails is either a bug in the harness (a false alarm) or a server
// anomaly to write up in docs/FINDINGS.md. Cells whose only failures are a
// known finding's say so. It exits 1 when any other cell fails. Run by
// `make soak-faults`. The fault "as-built" runs each scenario as it is
// built, its own faults or none: with many seeds, a search for verdicts
// that change between runs of one scenario (`make soak-verdicts`).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// asBuilt is the cell of a scenario run as it is built: no --faults.
const asBuilt = "as-built"

// allFaults are the kinds `kvharness run --faults` takes.
var allFaults = []string{"kill", "stop", "pause", "partition", "latency", "leader-stepdown", "rolling-restart", "corrupt"}

// known are server anomalies written up in docs/FINDINGS.md, by the check
// that names each: a cell whose failed checks include one of these and
// otherwise only the checks the same anomaly also trips is reported as
// that finding, not as a false alarm.
var known = map[string]struct {
	finding   string
	alsoTrips []string
}{
	// A refused Delete carries no value, so it shows as the write check
	// failing on its key (FINDINGS §4).
	"refusals-definite": {"refused-but-stored (FINDINGS §4)", []string{"linearizable-writes"}},
}

type summary struct {
	Verdict string `json:"verdict"`
	Checks  []struct {
		Name     string `json:"name"`
		Result   string `json:"result"`
		Required bool   `json:"required"`
	} `json:"checks"`
}

// cell is one scenario under one fault kind, over the seeds.
type cell struct {
	scenario, fault  string
	runs, passed     int
	unknown, anomaly int
	failed           map[string]int // required checks that failed, by runs
	notApplicable    string
	findings         []string
	dirs             []string // results of runs that did not pass
}

func main() {
	kvh := flag.String("bin", "bin/kvharness", "the kvharness binary")
	server := flag.String("server", ".tools/bin/nats-server-v2.15.2", "the nats-server release to run every node on")
	seeds := flag.Int("seeds", 2, "runs per cell, seeds 1..N")
	duration := flag.Duration("duration", 20*time.Second, "workload duration of each run")
	only := flag.String("scenarios", "", "comma-separated scenarios (default: every built-in)")
	faults := flag.String("faults", strings.Join(allFaults, ","), "comma-separated fault kinds")
	out := flag.String("out", "results/soak-faults", "results folder")
	flag.Parse()

	scenarios := strings.Split(*only, ",")
	if *only == "" {
		var err error
		if scenarios, err = builtins(*kvh); err != nil {
			fmt.Fprintln(os.Stderr, "faultsoak:", err)
			os.Exit(2)
		}
	}
	start := time.Now()
	var cells []*cell
	for _, sc := range scenarios {
		for _, f := range strings.Split(*faults, ",") {
			c := &cell{scenario: sc, fault: f, failed: map[string]int{}}
			cells = append(cells, c)
			for seed := 1; seed <= *seeds && c.notApplicable == ""; seed++ {
				runOne(*kvh, *server, *out, *duration, seed, c)
			}
		}
	}
	bad := printTable(cells)
	fmt.Printf("soak-faults: %d cells, %d false alarms or unexplained failures, %s (results in %s)\n",
		len(cells), bad, time.Since(start).Round(time.Second), *out)
	if bad > 0 {
		os.Exit(1)
	}
}

// builtins lists the built-in scenarios (`kvharness scenarios`, one per line).
func builtins(kvh string) ([]string, error) {
	b, err := exec.Command(kvh, "scenarios").Output()
	if err != nil {
		return nil, fmt.Errorf("kvharness scenarios: %w", err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

func runOne(kvh, server, out string, duration time.Duration, seed int, c *cell) {
	dir := filepath.Join(out, fmt.Sprintf("%s-%s-%d", c.scenario, c.fault, seed))
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		c.notApplicable = err.Error()
		return
	}
	args := []string{"run", c.scenario, "--server-bin", server, "--seed", fmt.Sprint(seed),
		"--duration", duration.String(), "--quiet", "--out", dir}
	if c.fault != asBuilt {
		args = append(args, "--faults", c.fault)
	}
	cmd := exec.Command(kvh, args...)
	logOut, err := os.Create(dir + ".log")
	if err != nil {
		c.notApplicable = err.Error()
		return
	}
	cmd.Stdout, cmd.Stderr = logOut, logOut
	began := time.Now()
	_ = cmd.Run()
	logOut.Close()
	code := cmd.ProcessState.ExitCode()
	fmt.Fprintf(os.Stderr, "soak-faults: %s under %s, seed %d: exit %d in %.0fs\n", c.scenario, c.fault, seed, code, time.Since(began).Seconds())
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); code == 2 && err != nil && !strings.Contains(readAll(dir+".log"), "panic") {
		// Bad input: this fault does not apply to the scenario (one
		// node cannot be partitioned, ...). The run says why. A run that
		// crashed (a panic exits 2 too) is no such cell.
		c.notApplicable = lastLine(dir + ".log")
		return
	}
	c.runs++
	s, err := readSummary(dir)
	if err != nil {
		c.failed["(no summary: "+err.Error()+")"]++
		c.dirs = append(c.dirs, dir)
		return
	}
	var failed []string
	for _, ch := range s.Checks {
		if ch.Result == "fail" && ch.Required {
			failed = append(failed, ch.Name)
		}
	}
	switch {
	case s.Verdict == "pass":
		c.passed++
		return
	case len(failed) == 0:
		c.unknown++
	case explainedByFinding(failed) != "":
		c.anomaly++
		if f := explainedByFinding(failed); !slices.Contains(c.findings, f) {
			c.findings = append(c.findings, f)
		}
	default:
		for _, f := range failed {
			c.failed[f]++
		}
	}
	c.dirs = append(c.dirs, dir)
}

// explainedByFinding names the known finding that explains every failed
// check, or "". Checks the finding only may explain (alsoTrips) are named
// after it: they are its own only if the keys that failed them had refused
// writes too, which a person should look at.
func explainedByFinding(failed []string) string {
	for check, k := range known {
		if !slices.Contains(failed, check) {
			continue
		}
		others := slices.DeleteFunc(slices.Clone(failed), func(c string) bool { return c == check })
		if slices.ContainsFunc(others, func(c string) bool { return !slices.Contains(k.alsoTrips, c) }) {
			continue
		}
		if len(others) > 0 {
			return k.finding + " + " + strings.Join(others, ", ") + " (look at the keys)"
		}
		return k.finding
	}
	return ""
}

// printTable prints one row per cell and returns how many cells failed
// without a known explanation (unknown verdicts count: inconclusive is not
// a pass).
func printTable(cells []*cell) int {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfault\tpassed\tresult")
	bad := 0
	for _, c := range cells {
		result := "ok"
		switch {
		case c.notApplicable != "":
			fmt.Fprintf(tw, "%s\t%s\t-\tn/a: %s\n", c.scenario, c.fault, c.notApplicable)
			continue
		case len(c.failed) > 0 || c.unknown > 0:
			bad++
			var parts []string
			for name, n := range c.failed {
				parts = append(parts, fmt.Sprintf("%s ×%d", name, n))
			}
			slices.Sort(parts)
			if c.unknown > 0 {
				parts = append(parts, fmt.Sprintf("unknown ×%d", c.unknown))
			}
			result = "FAIL: " + strings.Join(parts, ", ") + " (" + strings.Join(c.dirs, " ") + ")"
		case c.anomaly > 0:
			result = fmt.Sprintf("known anomaly ×%d: %s", c.anomaly, strings.Join(c.findings, ", "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", c.scenario, c.fault, c.passed, c.runs, result)
	}
	tw.Flush()
	return bad
}

func readSummary(dir string) (*summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, err
	}
	var s summary
	return &s, json.Unmarshal(b, &s)
}

// lastLine is the last non-empty line of a file (a run's one-line error).
func lastLine(path string) string {
	lines := strings.Split(strings.TrimSpace(readAll(path)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func readAll(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
