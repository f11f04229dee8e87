package scenarios

import (
	"math"
	"strings"
	"testing"

	"github.com/kvharness/kvharness/internal/testenv"
	"github.com/kvharness/kvharness/workload"
)

// oneLineError: a rejection the CLI can print as its one line.
func oneLineError(t *testing.T, err error, prefix string) {
	t.Helper()
	testenv.OneLine(t, err)
	if msg := err.Error(); !strings.HasPrefix(msg, prefix) {
		t.Fatalf("not one clear line starting %q: %q", prefix, msg)
	}
}

// Any file given as a scenario is loaded or refused in one line naming
// the file; never a panic. Seeds: every built-in scenario and some broken
// ones.
func FuzzParse(f *testing.F) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, _ := builtinFS.ReadFile("builtin/" + e.Name())
		f.Add(data)
	}
	for _, s := range []string{
		"", "name: x\nworkload: {ops: -1}\n", "workload:\n  mix: {put: 1, nope: 2}\n",
		"faults:\n  kinds: [kill]\n  plan: [{kind: kill, at: 10q}]\n", "bucket: {replicas: 9}\ntarget: {nodes: 1}\n",
		"thresholds: {put.p99: '< NaN'}\n", "workload:\n  stages: [{rate: 1e309, for: 1s}]\n", "a: [\n", "\t- x",
		"workload: {duration: 99999999999h}\n", "workload:\n  mix: {put: 9223372036854775807, get: 9223372036854775807}\n", "target: {servers: ['nats://tok@h:1']}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			oneLineError(t, err, "fuzz.yaml")
			return
		}
		// What loads must be a scenario the harness can produce a run
		// from: its defaults valid, its clients' first ops drawn.
		c, err := s.Complete()
		if err != nil {
			oneLineError(t, err, "")
			return
		}
		if w := c.Workload; w.Rate < 0 || math.IsNaN(w.Rate) || math.IsInf(w.Rate, 0) {
			t.Fatalf("loaded a rate of %v", w.Rate)
		}
		for _, st := range c.Workload.Stages {
			if !(st.Rate > 0) || math.IsInf(st.Rate, 0) || st.For <= 0 {
				t.Fatalf("loaded a stage %+v", st)
			}
		}
		wc := c.WorkloadConfig()
		g := workload.NewGenerator(1, 0, wc.Mix, wc.Keys, wc.ValueSize)
		for range 16 {
			g.Next()
		}
		_, _, _, _ = c.Schedule(), c.Meta(), c.BucketConfig("fuzz"), c.RequiredChecks()
	})
}

// --stages is read or refused in one line; what is read is usable.
func FuzzParseStages(f *testing.F) {
	for _, s := range []string{"1000:30s,5000:1m", "1:1s", "", ",", "NaN:1s", "Inf:1s", "1e400:1s", "5:-1s", "x:y", "1:1s,,2:2s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stages, err := ParseStages(s)
		if err != nil {
			oneLineError(t, err, "--stages")
			return
		}
		if len(stages) == 0 {
			t.Fatal("no stages and no error")
		}
		for _, st := range stages {
			if !(st.Rate > 0) || math.IsInf(st.Rate, 0) || st.For <= 0 {
				t.Fatalf("%q read as a stage %+v", s, st)
			}
		}
	})
}
