// Command abproof measures how far `kvharness ab`'s verdicts can be
// trusted on this machine, by repeating whole ab sessions:
//
//   - A/A: the same scenario on both sides. Any "regression" is a false
//     alarm; the rate must stay at or below the significance level (5 %).
//   - A/B: a candidate with a real difference (the candidate's scenario
//     file, e.g. a latency fault). The rate at which it is called a
//     regression is the power of the rounds given.
//
// Each session is a real `kvharness ab` with its own results folder. The
// rounds are in ABBA order, so the first k rounds of a session are a
// k-round session of their own: abproof decides each session again on its
// first k rounds (reports.CompareSamples on the rounds' summaries, as ab
// does), which tells how many rounds a difference needs without running
// more sessions. Run by `make ab-proof`.
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

	"github.com/kvharness/kvharness/reports"
)

func main() {
	kvh := flag.String("bin", "bin/kvharness", "the kvharness binary")
	base := flag.String("base", "single", "the base scenario (file or built-in)")
	cand := flag.String("cand", "", "the candidate's scenario for A/B (empty: A/A only)")
	repeats := flag.Int("repeats", 20, "A/A sessions")
	candRepeats := flag.Int("cand-repeats", 0, "A/B sessions (0: as -repeats)")
	rounds := flag.Int("rounds", 6, "rounds per A/A session")
	candRounds := flag.Int("cand-rounds", 0, "rounds per A/B session (0: as -rounds)")
	duration := flag.Duration("duration", 0, "duration of each run (0: the scenario's)")
	extra := flag.String("args", "", "more flags for every ab session, space-separated (e.g. --server-bin PATH)")
	out := flag.String("out", "results/ab-proof", "results folder")
	skipAA := flag.Bool("skip-aa", false, "run only the A/B sessions")
	onlySummarize := flag.Bool("summarize", false, "run nothing: decide the sessions already in -out again and print the tables")
	flag.Parse()
	if *candRounds == 0 {
		*candRounds = *rounds
	}
	if *candRepeats == 0 {
		*candRepeats = *repeats
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	type mode struct {
		name, base, cand string
		rounds, sessions int
	}
	var modes []mode
	if !*skipAA {
		modes = append(modes, mode{"A/A", *base, *base, *rounds, *repeats})
	}
	if *cand != "" {
		modes = append(modes, mode{"A/B", *base, *cand, *candRounds, *candRepeats})
	}
	var tables []string
	for _, m := range modes {
		var sessions []session
		for i := 1; i <= m.sessions; i++ {
			dir := filepath.Join(*out, fmt.Sprintf("%s-%02d", strings.ReplaceAll(strings.ToLower(m.name), "/", ""), i))
			if *onlySummarize {
				if s := loadSession(dir, m.rounds); s.base != nil {
					sessions = append(sessions, s)
				}
				continue
			}
			_ = os.RemoveAll(dir)
			args := []string{"ab", m.base, m.cand, "--rounds", fmt.Sprint(m.rounds), "--quiet", "--out", dir}
			if *duration > 0 {
				args = append(args, "--duration", duration.String())
			}
			args = append(args, strings.Fields(*extra)...)
			start := time.Now()
			cmd := exec.Command(*kvh, args...)
			cmd.Stdout, cmd.Stderr = nil, os.Stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				fail(err)
			}
			s := loadSession(dir, m.rounds)
			s.exit = code
			sessions = append(sessions, s)
			fmt.Fprintf(os.Stderr, "abproof: %s session %d/%d: %s (exit %d) in %s\n", m.name, i, m.sessions, s.report.Verdict, code, time.Since(start).Round(time.Second))
		}
		tables = append(tables, summarize(m.name, m.rounds, sessions))
	}
	fmt.Println(strings.Join(tables, "\n"))
}

// session is one ab session: its ab.json and every counted round's
// summaries, in round order.
type session struct {
	report     reports.ABReport
	base, cand []*reports.Summary
	exit       int
}

func loadSession(dir string, rounds int) session {
	var s session
	if b, err := os.ReadFile(filepath.Join(dir, "ab.json")); err != nil || json.Unmarshal(b, &s.report) != nil {
		s.report.Verdict = "no ab.json"
		return s
	}
	for r := 1; r <= rounds; r++ {
		b, errB := reports.LoadSummary(filepath.Join(dir, fmt.Sprintf("round-%02d-base", r)))
		c, errC := reports.LoadSummary(filepath.Join(dir, fmt.Sprintf("round-%02d-cand", r)))
		if errB != nil || errC != nil {
			break
		}
		s.base, s.cand = append(s.base, b), append(s.cand, c)
	}
	return s
}

// summarize prints, for one mode: the sessions' verdicts; per metric how
// often it was called slower and the median of its deltas; and the share
// of sessions called a regression on their first k rounds.
func summarize(name string, rounds int, sessions []session) string {
	var b strings.Builder
	verdicts := map[string]int{}
	slower := map[string]int{}
	deltas := map[string][]float64{}
	for _, s := range sessions {
		verdicts[s.report.Verdict]++
		for _, m := range s.report.Metrics {
			if m.Worse() {
				slower[m.Metric]++
			}
			deltas[m.Metric] = append(deltas[m.Metric], m.Delta)
		}
	}
	fmt.Fprintf(&b, "%s: %d sessions of %d rounds: %d regression, %d no regression, %d inconclusive, %d other\n",
		name, len(sessions), rounds, verdicts[reports.ABRegression], verdicts[reports.ABNoRegression], verdicts[reports.ABInconclusive],
		len(sessions)-verdicts[reports.ABRegression]-verdicts[reports.ABNoRegression]-verdicts[reports.ABInconclusive])
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tmedian delta over sessions\tsessions calling it worse")
	var metrics []string
	for m := range deltas {
		metrics = append(metrics, m)
	}
	sort.Strings(metrics)
	for _, m := range metrics {
		fmt.Fprintf(tw, "%s\t%+.1f%%\t%d\n", m, 100*median(deltas[m]), slower[m])
	}
	tw.Flush()
	fmt.Fprintf(&b, "decided on their first k rounds (CompareSamples, as ab):\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rounds\tsessions\tregression\tno regression\tnot enough rounds\tmetrics called worse (sessions)")
	for k := 3; k <= rounds; k++ {
		n, reg, noreg, few := 0, 0, 0, 0
		called := map[string]int{}
		for _, s := range sessions {
			if len(s.base) < k {
				continue
			}
			n++
			rows := reports.CompareSamples(s.base[:k], s.cand[:k], s.report.Rules)
			worse := slices.ContainsFunc(rows, reports.MetricRow.Worse)
			tooFew := slices.ContainsFunc(rows, func(r reports.MetricRow) bool { return r.Verdict == reports.TooFewRounds })
			for _, r := range rows {
				if r.Worse() {
					called[r.Metric]++
				}
			}
			switch {
			case worse:
				reg++
			case tooFew:
				few++
			default:
				noreg++
			}
		}
		var names []string
		for m, c := range called {
			names = append(names, fmt.Sprintf("%s %d", m, c))
		}
		sort.Strings(names)
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%s\n", k, n, reg, noreg, few, strings.Join(names, ", "))
	}
	tw.Flush()
	return b.String()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "abproof:", err)
	os.Exit(2)
}
