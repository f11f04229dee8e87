package reports

import (
	"fmt"

	"github.com/kvharness/kvharness/checker"
)

// ThresholdResult is one threshold, evaluated.
type ThresholdResult struct {
	Name   string  `json:"name"`
	Expr   string  `json:"expr"`
	Actual float64 `json:"actual"`
	Unit   string  `json:"unit"`
	Pass   bool    `json:"pass"`
}

func formatActual(v float64, unit string) string {
	switch unit {
	case "us":
		return fmt.Sprintf("%.3fms", v/1000)
	case "fraction":
		return fmt.Sprintf("%.3f%%", 100*v)
	default:
		return fmt.Sprintf("%.0f ops/s", v)
	}
}

// clientOps is every client op's counts and error classes together (the
// watch deliveries aside): what error_rate without an op is taken of.
func (s *Summary) clientOps() *OpSummary {
	all := &OpSummary{Errors: map[string]int{}}
	for name, o := range s.Ops {
		if name == OpWatch {
			continue
		}
		all.OK, all.Fail, all.Unknown = all.OK+o.OK, all.Fail+o.Fail, all.Unknown+o.Unknown
		for class, n := range o.Errors {
			all.Errors[class] += n
		}
	}
	return all
}

// evaluateThresholds checks each threshold against the summary's figures.
// A crossed threshold fails the run, like a failed required check. Error
// rates leave CAS conflicts out: a conflict is the API working as designed.
func (s *Summary) evaluateThresholds(ts []Threshold) {
	for _, t := range ts {
		r := ThresholdResult{Name: t.Name, Expr: t.Expr}
		o := s.Ops[t.Op]
		if t.Op == "" {
			o = s.clientOps()
		}
		if o == nil {
			o = &OpSummary{}
		}
		total := float64(o.OK + o.Fail + o.Unknown)
		switch t.Stat {
		case "throughput":
			r.Actual, r.Unit = s.ThroughputOpsPerSec, "ops/s"
		case "error_rate", "unknown_rate":
			r.Unit = "fraction"
			switch {
			case t.Stat == "error_rate":
				r.Actual = errorRate(o)
			case total > 0:
				r.Actual = float64(o.Unknown) / total
			}
		default:
			r.Unit = "us"
			l := o.LatencyUS
			r.Actual = map[string]float64{"p50": l.P50, "p90": l.P90, "p99": l.P99, "p999": l.P999, "max": l.Max, "mean": l.Mean}[t.Stat]
		}
		r.Pass = t.Holds(r.Actual)
		if !r.Pass {
			s.Verdict = checker.Fail
		}
		s.Thresholds = append(s.Thresholds, r)
	}
	s.ExitCode = ExitCode(s.Verdict, s.Interrupted)
}
