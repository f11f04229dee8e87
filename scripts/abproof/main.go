// Command abproof measures how far `kvharness ab`'s verdicts can be
// trusted on this machine, by repeating whole ab sessions:
//
//   - A/A: the same scenario on both sides. Any "regression" is a false
//     alarm; the rate must stay at or below the significance level (5 %).
//   - A/B: a candidate with a real difference (the candidate's scenario
//     file, e.g. a latency fault or another sync setting). The rate at
//     which it is called a regression is the power of the rounds given.
//
// Each session is a real `kvharness ab` with its own results folder; the
// table at the end gives, per mode, the sessions, the verdicts, and per
// metric how often it was called slower. Run by `make ab-proof`.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

type abJSON struct {
	Verdict string `json:"verdict"`
	Metrics []struct {
		Metric  string `json:"metric"`
		Verdict string `json:"verdict"`
	} `json:"metrics"`
}

func main() {
	kvh := flag.String("bin", "bin/kvharness", "the kvharness binary")
	base := flag.String("base", "single", "the base scenario (file or built-in)")
	cand := flag.String("cand", "", "the candidate's scenario for A/B (empty: A/A only)")
	repeats := flag.Int("repeats", 20, "ab sessions per mode")
	rounds := flag.Int("rounds", 6, "rounds per session")
	duration := flag.Duration("duration", 5*time.Second, "duration of each run")
	extra := flag.String("args", "", "more flags for every ab session, space-separated (e.g. --server-bin PATH)")
	out := flag.String("out", "results/ab-proof", "results folder")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "abproof:", err)
		os.Exit(2)
	}
	modes := [][3]string{{"A/A", *base, *base}}
	if *cand != "" {
		modes = append(modes, [3]string{"A/B", *base, *cand})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\tsessions\tregression\tno regression\tinconclusive\tmetrics called slower (sessions)")
	for _, m := range modes {
		verdicts := map[string]int{}
		slower := map[string]int{}
		for i := 1; i <= *repeats; i++ {
			dir := filepath.Join(*out, fmt.Sprintf("%s-%02d", strings.ReplaceAll(strings.ToLower(m[0]), "/", ""), i))
			_ = os.RemoveAll(dir)
			args := []string{"ab", m[1], m[2], "--rounds", fmt.Sprint(*rounds), "--duration", duration.String(), "--quiet", "--out", dir}
			args = append(args, strings.Fields(*extra)...)
			start := time.Now()
			cmd := exec.Command(*kvh, args...)
			cmd.Stdout, cmd.Stderr = nil, os.Stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				fmt.Fprintln(os.Stderr, "abproof:", err)
				os.Exit(2)
			}
			var a abJSON
			b, rerr := os.ReadFile(filepath.Join(dir, "ab.json"))
			if rerr == nil {
				rerr = json.Unmarshal(b, &a)
			}
			if rerr != nil {
				a.Verdict = fmt.Sprintf("no ab.json (exit %d)", code)
			}
			verdicts[a.Verdict]++
			for _, mr := range a.Metrics {
				if mr.Verdict == "slower" || mr.Verdict == "more errors" {
					slower[mr.Metric]++
				}
			}
			fmt.Fprintf(os.Stderr, "abproof: %s session %d/%d: %s (exit %d) in %s\n", m[0], i, *repeats, a.Verdict, code, time.Since(start).Round(time.Second))
		}
		var called []string
		for metric, n := range slower {
			called = append(called, fmt.Sprintf("%s %d", metric, n))
		}
		sort.Strings(called)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", m[0], *repeats, verdicts["regression"], verdicts["no regression"], verdicts["inconclusive"], strings.Join(called, ", "))
	}
	tw.Flush()
}
