package ab

import (
	"github.com/kvharness/kvharness/reports"
)

// Decide turns the rounds into ab.json's report: each side's figures over
// its completed rounds, compared metric by metric, the required checks
// compared across rounds, and the verdict.
func Decide(base, cand Side, runs []Run, interrupted bool, cfg Config, rules reports.SampleRules) *reports.ABReport {
	r := &reports.ABReport{Base: describe(base), Cand: describe(cand), Rules: rules,
		Rounds: cfg.Rounds, Warmup: cfg.Warmup, Interrupted: interrupted, Runs: []reports.ABRun{}}
	// A round counts when both of its runs were carried out: a side's
	// figures then come from the same rounds as the other's.
	done := map[int]map[string]*reports.Summary{}
	for _, run := range runs {
		r.Runs = append(r.Runs, run.ABRun)
		if run.Result == nil || run.Warmup || run.Interrupted {
			continue
		}
		if done[run.Round] == nil {
			done[run.Round] = map[string]*reports.Summary{}
		}
		done[run.Round][run.Side] = run.Result
		if run.Result.Target.ServerVersion != "" {
			side := &r.Base
			if run.Side == cand.Name {
				side = &r.Cand
			}
			side.ServerVersion = run.Result.Target.ServerVersion
		}
	}
	var bs, cs []*reports.Summary
	for round := 1; round <= cfg.Rounds; round++ {
		b, c := done[round][base.Name], done[round][cand.Name]
		if b != nil && c != nil {
			bs, cs = append(bs, b), append(cs, c)
			r.RoundsDone++
		}
	}
	if len(bs) > 0 {
		r.Differences = reports.Differences(bs[0], cs[0])
	}
	r.Metrics = reports.CompareSamples(bs, cs, rules)
	r.DecideAB(reports.CheckRegressions(bs, cs))
	return r
}

// describe: the side's scenario and target, in one line.
func describe(s Side) reports.ABSide {
	sc := s.Scenario
	return reports.ABSide{Scenario: sc.Name, Target: sc.TargetName(), Description: sc.Describe()}
}
