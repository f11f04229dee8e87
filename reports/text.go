package reports

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteText prints the human summary: configuration, ops table, checks,
// verdict.
func (s *Summary) WriteText(w io.Writer) {
	sync := ""
	if s.Target.SyncInterval != "" && s.Target.SyncInterval != "default" {
		sync = ", stores synced " + s.Target.SyncInterval
	}
	fmt.Fprintf(w, "\nscenario %s — %s, %d node(s), R%d bucket %s, nats-server %s%s\n",
		s.Scenario, s.Target.Mode, s.Target.Nodes, s.Target.Replicas, s.Bucket, s.Target.ServerVersion, sync)
	total := 0
	for name, o := range s.Ops {
		if name != OpWatch { // deliveries, not client ops
			total += o.OK + o.Fail + o.Unknown
		}
	}
	note := ""
	if s.WarmupSec > 0 {
		note = fmt.Sprintf(" after a %.1fs warm-up (%d ops, checked, not measured)", s.WarmupSec, s.WarmupOps)
	}
	if s.Interrupted {
		note += " (interrupted)"
	}
	fmt.Fprintf(w, "%s, %d clients, %.1fs, seed %d: %d ops, %.0f ops/s%s\n\n",
		s.Pacing, s.Clients, s.DurationSec, s.Seed, total, s.ThroughputOpsPerSec, note)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tok\tfail\tunknown\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\t")
	for _, name := range s.SortedOps() {
		o := s.Ops[name]
		l := o.LatencyUS
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, o.OK, o.Fail, o.Unknown,
			ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max), errorList(o.Errors))
	}
	tw.Flush()
	if s.openLoop() {
		fmt.Fprintf(w, "\n%s: latency from each op's intended start; %d ops started >1ms behind schedule. Service time (uncorrected) p99:", s.Pacing, s.LateOps)
		for _, name := range s.SortedOps() {
			if o := s.Ops[name]; o.ServiceUS != nil {
				fmt.Fprintf(w, " %s %s ms", name, ms(o.ServiceUS.P99))
			}
		}
		fmt.Fprintln(w)
	}

	if p := s.Propagation; p != nil {
		fmt.Fprintf(w, "\nwatch: %d deliveries to %d watchers, latency from the writer's acknowledgement to the delivery (%d arrived before it: 0)\n",
			p.Deliveries, p.Watchers, p.BeforeAck)
	}

	if len(s.Workers) > 0 {
		writeWorkersText(w, s.Workers)
	}
	if r := s.Resources; r != nil && r.Samples > 0 {
		fmt.Fprintln(w)
		r.WriteText(w)
	}

	if len(s.Faults) > 0 {
		fmt.Fprintln(w, "\nfaults:")
		for _, f := range s.Faults {
			fmt.Fprintf(w, "  %6.1fs-%6.1fs  %-16s %-9s %s\n", f.StartSec, f.EndSec, f.Kind, f.Target, faultOutcome(f))
		}
		// Under faults, what they cost the stream: the time no leader
		// could commit.
		if l := s.Leadership; l != nil {
			fmt.Fprintf(w, "stream leadership: %d leader change(s), %.1fs without a leader in contact with a quorum\n", l.LeaderChanges, l.WithoutQuorumSec)
		}
	}

	fmt.Fprintln(w)
	checks, notApplicable := s.applicableChecks()
	for _, c := range checks {
		req := "reported"
		if c.Required {
			req = "required"
		}
		fmt.Fprintf(w, "  %-25s %-8s %-9s %s\n", c.Name, c.Result, req, c.Detail)
	}
	if len(notApplicable) > 0 {
		// summary.json and report.html keep their rows and reasons.
		fmt.Fprintf(w, "  %-25s %s\n", "skipped (not applicable)", strings.Join(notApplicable, ", "))
	}
	for _, t := range s.Thresholds {
		status := "pass"
		if !t.Pass {
			status = "fail"
		}
		fmt.Fprintf(w, "  %-25s %-8s %-9s actual %s\n", t.Name+" "+t.Expr, status, "threshold", formatActual(t.Actual, t.Unit))
	}
	if line := resolutionLine(s); line != "" {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if s.CheckGroups > 1 {
		fmt.Fprintf(w, "  checked in %d groups of keys, one at a time (--check-memory bounds the largest)\n", s.CheckGroups)
	}
	if s.CheckSpannedKeys > 0 {
		fmt.Fprintf(w, "  %d long keys checked a stretch of time at a time, in %d spans\n", s.CheckSpannedKeys, s.CheckSpans)
	}
	if n := len(s.CheckWholeKeys); n > 0 {
		fmt.Fprintf(w, "  %d long keys checked whole (memory grows with their length): %s\n", n, strings.Join(s.CheckWholeKeys[:min(n, 3)], "; "))
	}
	reported := s.reportedFailures()
	for _, f := range reported {
		fmt.Fprintf(w, "  ! %s fails, but it is only reported, so the verdict stands: %s", f.Name, f.Why)
		if f.Notes > 0 {
			fmt.Fprintf(w, " (%d notes in summary.json)", f.Notes)
		}
		fmt.Fprintln(w)
	}
	others, _ := s.splitNotes(reported)
	for _, n := range others {
		fmt.Fprintf(w, "  ! %s\n", strings.ReplaceAll(n, "\n", "\n    "))
	}
	for _, v := range s.Visualizations {
		fmt.Fprintf(w, "  view: linearizability/%s\n", v)
	}
	fmt.Fprintf(w, "\nverdict: %s%s\n", strings.ToUpper(string(s.Verdict)), s.cutShort())
}

// cutShort is what the verdict line adds about a run that did not run its
// course: the exit code says it too.
func (s *Summary) cutShort() string {
	if s.ExitCode != ExitInterrupted {
		return ""
	}
	return fmt.Sprintf(" — the run was cut short after %.1fs (exit %d): only what it recorded was checked", s.DurationSec, ExitInterrupted)
}

// faultOutcome: what the fault did, or why it did not.
func faultOutcome(f Fault) string {
	if f.Error == "" {
		return f.Detail
	}
	if f.Detail == "" {
		return "ERROR " + f.Error
	}
	return f.Detail + "; ERROR " + f.Error
}

func resolutionLine(s *Summary) string {
	var parts []string
	for _, op := range s.SortedOps() {
		r := s.Resolution[op]
		if r == nil {
			continue
		}
		part := fmt.Sprintf("%s %d happened / %d did not / %d still unknown", op, r.Happened, r.NotHappened, r.StillUnknown)
		if r.FailedButSeen > 0 {
			part += fmt.Sprintf(" (+%d reported failed but found in the stream)", r.FailedButSeen)
		}
		if r.WroteTwice > 0 {
			part += fmt.Sprintf(" (+%d wrote their value twice, around a delete)", r.WroteTwice)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return "unknown outcomes resolved: " + strings.Join(parts, "; ")
}

func ms(us float64) string {
	if us == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", us/1000)
}

func errorList(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
