package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/checker"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/latency"
)

func sampleHistory() *history.History {
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	return &history.History{
		Meta: &history.Meta{Scenario: "t", Bucket: "b", Replicas: 3, Nodes: 3, Mode: "embedded", ServerVersion: "2.15.2", Seed: 7, Clients: 2, Pacing: "closed-loop"},
		Ops: []history.Record{
			{Kind: history.KindOp, Client: 1, Op: history.OpPut, Key: "k", Value: "c1-1", Outcome: history.OK, Rev: 1, Invoke: ms(0), Complete: ms(2)},
			{Kind: history.KindOp, Client: 2, Op: history.OpUpdate, Key: "k", Value: "c2-1", HasExpect: true, Outcome: history.Fail, ErrClass: history.ClassConflict, Invoke: ms(1), Complete: ms(3)},
			{Kind: history.KindOp, Client: 1, Op: history.OpGet, Key: "k", Outcome: history.OK, Found: true, Read: "c1-1", Rev: 1, Invoke: ms(4), Complete: ms(5)},
			{Kind: history.KindOp, Client: 2, Op: history.OpPut, Key: "k", Value: "c2-2", Outcome: history.Unknown, ErrClass: history.ClassTimeout, Invoke: ms(6), Complete: ms(1006)},
		},
		Final: []history.Record{{Kind: history.KindFinal, Key: "k", Found: true, Read: "c1-1", Rev: 1, Invoke: ms(2000), Complete: ms(2001)}},
		End:   &history.End{FinalReads: true, LastSeq: 1},
	}
}

func TestSummaryFieldsAndExitCodes(t *testing.T) {
	h := sampleHistory()
	res := checker.Check(h, checker.Options{Timeout: 5 * time.Second})
	s := Build(Input{Digest: DigestOf(h), Result: res})
	if s.Ops["put"].OK != 1 || s.Ops["put"].Unknown != 1 || s.Ops["update"].Fail != 1 || s.Ops["update"].Errors["conflict"] != 1 {
		t.Fatalf("counts: %+v %+v", s.Ops["put"], s.Ops["update"])
	}
	if s.Ops["put"].LatencyUS.Max < 999_000 || s.LatencySource == "" {
		t.Errorf("latency from history: %+v (%s)", s.Ops["put"].LatencyUS, s.LatencySource)
	}
	if s.Target.Mode != "embedded" || s.Target.Replicas != 3 || s.Target.ServerVersion != "2.15.2" || s.Pacing != "closed-loop" || s.Clients != 2 {
		t.Errorf("target/pacing: %+v %s %d", s.Target, s.Pacing, s.Clients)
	}
	dir := t.TempDir()
	if err := s.WriteJSON(dir); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	// The fields docs/DESIGN.md promises.
	for _, f := range []string{"verdict", "checks", "ops", "throughput_ops_per_sec", "duration_sec", "target", "faults"} {
		if _, ok := m[f]; !ok {
			t.Errorf("summary.json lacks %q", f)
		}
	}
	put := m["ops"].(map[string]any)["put"].(map[string]any)
	for _, f := range []string{"ok", "fail", "unknown", "latency_us"} {
		if _, ok := put[f]; !ok {
			t.Errorf("ops.put lacks %q", f)
		}
	}
	for _, f := range []string{"p50", "p90", "p99", "p999", "max"} {
		if _, ok := put["latency_us"].(map[string]any)[f]; !ok {
			t.Errorf("latency_us lacks %q", f)
		}
	}
	if faults, ok := m["faults"].([]any); !ok || len(faults) != 0 {
		t.Errorf("faults should be an empty list, got %v", m["faults"])
	}
	for v, code := range map[checker.Status]int{checker.Pass: 0, checker.Fail: 1, checker.Unknown: 3} {
		if ExitCode(v, false) != code {
			t.Errorf("exit code of %s = %d", v, ExitCode(v, false))
		}
	}
	// Cut short: never 0, but a failure found stays a failure.
	for v, code := range map[checker.Status]int{checker.Pass: 4, checker.Fail: 1, checker.Unknown: 4} {
		if ExitCode(v, true) != code {
			t.Errorf("exit code of an interrupted run's %s = %d", v, ExitCode(v, true))
		}
	}
}

func TestTextSummary(t *testing.T) {
	h := sampleHistory()
	res := checker.Check(h, checker.Options{Timeout: 5 * time.Second})
	lat := latency.NewRecorder()
	lat.Record("put", "ok", 1500*time.Microsecond)
	s := Build(Input{Digest: DigestOf(h), Result: res, Latency: latency.Merge(lat), DurationSec: 2})
	var b bytes.Buffer
	s.WriteText(&b)
	out := b.String()
	for _, want := range []string{"scenario t", "R3", "2.15.2", "closed-loop", "put", "1.50", "linearizable-writes", "verdict:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text summary lacks %q:\n%s", want, out)
		}
	}
}

// A scenario's required list that leaves out default-required checks is
// named in the summary, and the workload and run are carried over from the
// meta line.
func TestSummaryNamesDemotedChecksAndWorkload(t *testing.T) {
	h := sampleHistory()
	h.Meta.Demoted = []string{"history-matches", "bucket-intact"}
	h.Meta.Workload = &history.Workload{Keys: 8, ValueSize: 128, Mix: map[string]int{"put": 1}}
	h.Meta.Harness, h.Meta.CPUs = "commit 0123456789ab", 2
	res := checker.Check(h, checker.Options{Timeout: 5 * time.Second})
	s := Build(Input{Digest: DigestOf(h), Result: res})
	if !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, "history-matches, bucket-intact") }) {
		t.Errorf("notes do not name the demoted checks: %q", s.Notes)
	}
	if s.Workload == nil || s.Workload.ValueSize != 128 || s.Run.Harness != "commit 0123456789ab" || s.Run.CPUs != 2 {
		t.Errorf("workload %+v, run %+v", s.Workload, s.Run)
	}
}

// A failing check that is only reported takes one line of the text
// summary, which says why it may fail; its notes stay in summary.json.
func TestTextFoldsReportedFailures(t *testing.T) {
	s := &Summary{Scenario: "default", Verdict: checker.Pass, Target: TargetSummary{Replicas: 3},
		Checks: []checker.CheckResult{
			{Name: checker.CheckLinearizableWrites, Result: checker.Pass, Required: true},
			{Name: checker.CheckLinearizableReads, Result: checker.Fail, Detail: "5 of 8 keys fail"},
		},
		Notes: []string{
			`linearizable-reads: key "k0001": stale read`, `linearizable-reads: key "k0002": stale read`,
			`linearizable-reads: more keys fail`, "a note of the run",
		}}
	var b bytes.Buffer
	s.WriteText(&b)
	out := b.String()
	if !strings.Contains(out, "! linearizable-reads fails, but it is only reported, so the verdict stands: direct gets may be answered by a replica that is behind") ||
		!strings.Contains(out, "(3 notes in summary.json)") {
		t.Errorf("the reported-only failure is not explained in one line:\n%s", out)
	}
	if strings.Contains(out, "k0001") || !strings.Contains(out, "! a note of the run") {
		t.Errorf("notes not folded as they should be:\n%s", out)
	}
}

// A history that ends without its end record, or with lines that could not
// be read, says so in the summary's notes, with what the file held.
func TestSummaryNotesACutHistory(t *testing.T) {
	h := sampleHistory()
	h.End = &history.End{Cut: true, Interrupted: true, Keys: 4, FinalKeys: 3, HistoryKeys: 0}
	h.Truncated = 1
	res := checker.Check(h, checker.Options{Timeout: 5 * time.Second})
	s := Build(Input{Digest: DigestOf(h), Result: res, Interrupted: true})
	for _, want := range []string{"1 trailing line(s) of the history dropped as unreadable", "no end record", "final reads of 3 and History() of 0 of its 4 keys"} {
		if !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, want) }) {
			t.Errorf("notes %q lack %q", s.Notes, want)
		}
	}
	if s.ExitCode != ExitInterrupted {
		t.Errorf("exit code %d, want %d", s.ExitCode, ExitInterrupted)
	}
}

// A warm-up: ops intended before its end are left out of the figures and
// counted apart; an op that started late in an open loop counts from its
// intended start. error_rate without an op takes every client op.
func TestWarmupLeftOutOfFigures(t *testing.T) {
	h := sampleHistory()
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	h.Meta.MeasureFrom = ms(4)
	h.Meta.Workload = &history.Workload{WarmupMs: 4}
	// Invoked after the warm-up but intended before it: warm-up.
	h.Ops = append(h.Ops, history.Record{Kind: history.KindOp, Client: 1, Op: history.OpGet, Key: "k", Outcome: history.OK, Found: true, Read: "c1-1", Rev: 1,
		Invoke: ms(5), Intended: ms(3), Complete: ms(7)})
	res := checker.Check(h, checker.Options{Timeout: 5 * time.Second})
	s := Build(Input{Digest: DigestOf(h), Result: res, DurationSec: 2,
		Thresholds: []Threshold{mustThreshold(t, "error_rate", "< 40%"), mustThreshold(t, "put.error_rate", "< 40%")}})
	if s.WarmupOps != 3 || s.WarmupSec != 0.004 {
		t.Errorf("warm-up: %d ops, %g s; want 3 ops (put, update, the late get), 0.004 s", s.WarmupOps, s.WarmupSec)
	}
	if s.Ops["put"] == nil || s.Ops["put"].OK != 0 || s.Ops["put"].Unknown != 1 || s.Ops["get"].OK != 1 || s.Ops["update"] != nil {
		t.Errorf("measured ops: %+v", s.Ops)
	}
	if s.ThroughputOpsPerSec != 1 {
		t.Errorf("throughput %g, want 2 measured ops over 2 s", s.ThroughputOpsPerSec)
	}
	// Measured: a get (ok) and a put (timeout): 50 % errors of all ops,
	// 100 % of puts.
	for _, th := range s.Thresholds {
		if want := map[string]float64{"error_rate": 0.5, "put.error_rate": 1}[th.Name]; th.Pass || th.Actual != want {
			t.Errorf("threshold %s: %+v, want %g and crossed", th.Name, th, want)
		}
	}
}

func mustThreshold(t *testing.T, name, expr string) Threshold {
	t.Helper()
	th, err := ParseThreshold(name, expr)
	if err != nil {
		t.Fatal(err)
	}
	return th
}
