package reports

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kvharness/kvharness/history"
)

// Threshold is one k6-style limit on a run's figures, e.g. put.p99: "< 5ms".
// A crossed threshold fails the run (exit 1) like a failed required check.
type Threshold struct {
	Name string // as written: "put.p99", "update.error_rate", "error_rate", "throughput"
	Expr string // as written: "< 5ms"
	Op   string // "" for throughput and the rates of every op together
	Stat string // p50 p90 p99 p999 max mean error_rate unknown_rate throughput
	Cmp  string // < <= > >=
	// Limit in the stat's unit: microseconds for latencies, a fraction for
	// rates, operations per second for throughput.
	Limit float64
}

var latencyStats = map[string]bool{"p50": true, "p90": true, "p99": true, "p999": true, "max": true, "mean": true}
var rateStats = map[string]bool{"error_rate": true, "unknown_rate": true}

// ParseThreshold reads name and expression.
func ParseThreshold(name, expr string) (Threshold, error) {
	t := Threshold{Name: name, Expr: strings.TrimSpace(expr)}
	switch {
	case name == "throughput":
		t.Stat = "throughput"
	case rateStats[name]: // every client op together
		t.Stat = name
	default:
		op, stat, ok := strings.Cut(name, ".")
		if !ok || !slices.Contains(history.Ops, op) || !(latencyStats[stat] || rateStats[stat]) {
			return t, fmt.Errorf("threshold %q: want throughput, error_rate, unknown_rate or <op>.<stat> with op one of %s and stat one of p50, p90, p99, p999, max, mean, error_rate, unknown_rate",
				name, strings.Join(history.Ops, ", "))
		}
		t.Op, t.Stat = op, stat
	}
	rest := t.Expr
	for _, cmp := range []string{"<=", ">=", "<", ">"} {
		if strings.HasPrefix(rest, cmp) {
			t.Cmp, rest = cmp, strings.TrimSpace(rest[len(cmp):])
			break
		}
	}
	if t.Cmp == "" {
		return t, fmt.Errorf("threshold %s: %q must start with <, <=, > or >=", name, expr)
	}
	var err error
	switch {
	case latencyStats[t.Stat]:
		var d time.Duration
		if d, err = time.ParseDuration(rest); err == nil {
			t.Limit = float64(d) / float64(time.Microsecond)
		}
	case rateStats[t.Stat]:
		if strings.HasSuffix(rest, "%") {
			t.Limit, err = strconv.ParseFloat(strings.TrimSuffix(rest, "%"), 64)
			t.Limit /= 100
		} else {
			t.Limit, err = strconv.ParseFloat(rest, 64)
		}
	default:
		t.Limit, err = strconv.ParseFloat(rest, 64)
	}
	if err != nil || math.IsNaN(t.Limit) || math.IsInf(t.Limit, 0) {
		return t, fmt.Errorf("threshold %s: bad limit %q (latencies like 5ms, rates like 1%%, throughput in ops/s)", name, rest)
	}
	return t, nil
}

// SplitThreshold reads the flag form "put.p99<5ms" into name and expression.
func SplitThreshold(s string) (name, expr string, err error) {
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return "", "", fmt.Errorf("--threshold %q: want NAME<LIMIT or NAME>LIMIT, e.g. put.p99<5ms", s)
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:]), nil
}

// ParseSLO reads comma-separated terms in the flag form, e.g.
// "put.p99<5ms,error_rate<0.1%" (capacity's --slo).
func ParseSLO(text string) ([]Threshold, error) {
	var out []Threshold
	for _, term := range strings.Split(text, ",") {
		if term = strings.TrimSpace(term); term == "" {
			continue
		}
		name, expr, err := SplitThreshold(term)
		if err != nil {
			return nil, err
		}
		t, err := ParseThreshold(name, expr)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Holds reports whether actual satisfies the threshold.
func (t Threshold) Holds(actual float64) bool {
	switch t.Cmp {
	case "<":
		return actual < t.Limit
	case "<=":
		return actual <= t.Limit
	case ">":
		return actual > t.Limit
	default:
		return actual >= t.Limit
	}
}

// ParsedThresholds returns the scenario's thresholds, sorted by name.
func ParsedThresholds(m map[string]string) ([]Threshold, error) {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Threshold, 0, len(m))
	for _, n := range names {
		t, err := ParseThreshold(n, m[n])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
