package scenarios

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/reports"
)

func TestBuiltinsAreValid(t *testing.T) {
	bs := Builtins()
	if len(bs) < 2 {
		t.Fatalf("builtins: %+v", bs)
	}
	for _, b := range bs {
		s, err := Load(b.Name)
		if err != nil {
			t.Fatalf("%s: %v", b.Name, err)
		}
		if b.Description == "" || s.Name != b.Name {
			t.Errorf("%s: name %q description %q", b.Name, s.Name, b.Description)
		}
		s.Defaults()
		if err := s.Validate(); err != nil {
			t.Errorf("%s after defaults: %v", b.Name, err)
		}
	}
	d, _ := Load("default")
	if d.Target.Nodes != 3 || d.Bucket.Replicas != 3 || d.Workload.Duration != 15*time.Second {
		t.Errorf("default scenario is not 3 nodes, R3, 15 s: %+v", d)
	}
	s, _ := Load("single")
	if s.Target.Nodes != 1 || s.Bucket.Replicas != 1 {
		t.Errorf("single scenario is not 1 node R1: %+v", s)
	}
}

func TestStrictDecodingNamesTheLine(t *testing.T) {
	cases := map[string]string{
		"name: x\nbucket:\n  replicaz: 3\n":      "line 3",
		"name: x\nworkload:\n  duration: soon\n": "line 3",
		"name: x\nworkload:\n  value_size: -5\n": "line 3",
		"name: x\nbucket:\n  storage: tape\n":    "line 3",
		"name: x\nworkload:\n  mix: {put: 0}\n":  "line 3",
		"name: x\nworkload:\n  zipf_s: 0.5\n":    "line 3",
		"name: x\nname: y\n":                     "line 2",
		"name: x\nworkload:\n  stages:\n    - {rate: 100, for: 1s}\n    - {rate: 200, for: later}\n": "line 5",
		"name: x\nworkload:\n  stages:\n    - {rate: 0, for: 1s}\n":                                  "line 4",
		"name: x\nfaults:\n  plan:\n    - {kind: kill, at: soon, duration: 1s}\n":                    "line 4",
		"name: x\nfaults:\n  partition_mode: sever\n":                                                "line 3",
		"name: x\nfaults:\n  concurrency: -2\n":                                                      "line 3",
		"name: x\nbucket:\n  storage: memory\n  compression: true\n":                                 "line 4",
		"name: x\nworkload:\n  pattern: queue\n":                                                     "line 3",
		"name: x\nworkload:\n  pattern: lease\n":                                                     "key_ttl",
		"name: x\nworkload:\n  key_ttl: 500ms\n":                                                     "line 3",
		"name: x\nworkload:\n  read_path: nearest\n":                                                 "line 3",
		"name: x\nworkload:\n  watchers:\n    - {count: 2, mode: sometimes}\n":                       "line 4",
		"name: x\nworkload:\n  watchers:\n    - {keys: [\"a b\"]}\n":                                 "line 4",
		"name: x\nbucket:\n  limit_marker_ttl: 1m\nworkload:\n  key_ttl: 2s\n":                       "raises every message TTL",
		"name: x\nbucket:\n  replicas: 1\nfaults:\n  kinds: [kill, corrupt]\n":                       "needs a replicated bucket",
		"name: x\nworkload:\n  inflight: 8\n  mix: {put: 1, update: 2, get: 1}\n":                    "puts and updates only",
	}
	for yaml, want := range cases {
		_, err := Parse("s.yaml", []byte(yaml))
		if err == nil {
			t.Errorf("accepted:\n%s", yaml)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Errorf("error %q: want one line mentioning %q", msg, want)
		}
	}
}

// Throughput mode pipelines puts and updates (a CAS storm), nothing else.
func TestInflightTakesPutsAndUpdates(t *testing.T) {
	for _, mix := range []string{"{put: 1}", "{update: 1}", "{put: 1, update: 3}"} {
		if _, err := Parse("s.yaml", []byte("name: x\nworkload:\n  inflight: 8\n  mix: "+mix+"\n")); err != nil {
			t.Errorf("mix %s: %v", mix, err)
		}
	}
}

func TestStagesSetTheDuration(t *testing.T) {
	s, err := Parse("s.yaml", []byte("workload:\n  stages: [{rate: 100, for: 10s}, {rate: 500, for: 20s}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Defaults()
	if s.Workload.Duration != 30*time.Second {
		t.Errorf("duration %s, want the stages' 30s", s.Workload.Duration)
	}
	if st, err := ParseStages("1000:30s, 5000:1m"); err != nil || len(st) != 2 || st[1].Rate != 5000 || st[1].For != time.Minute {
		t.Errorf("ParseStages: %+v %v", st, err)
	}
	for _, bad := range []string{"", "1000", "1000:", "x:1s", "-5:1s", "100:0s"} {
		if _, err := ParseStages(bad); err == nil {
			t.Errorf("ParseStages accepted %q", bad)
		}
	}
}

func TestDurationsAndDefaults(t *testing.T) {
	s, err := Parse("s.yaml", []byte("workload:\n  duration: 1m30s\n  op_timeout: 250ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Defaults()
	if s.Name != "s" || s.Workload.Duration != 90*time.Second || s.Workload.OpTimeout != 250*time.Millisecond {
		t.Fatalf("%+v", s.Workload)
	}
	if s.Workload.Clients == 0 || s.Bucket.History != 64 || len(s.Workload.Mix) == 0 {
		t.Fatalf("defaults not applied: %+v", s)
	}
}

func TestThresholds(t *testing.T) {
	good := map[string]struct {
		expr  string
		limit float64
		holds float64
	}{
		"put.p99":             {"< 5ms", 5000, 4999},
		"update.error_rate":   {"<= 1%", 0.01, 0.01},
		"get.max":             {"<1s", 1e6, 10},
		"throughput":          {"> 1000", 1000, 1001},
		"delete.unknown_rate": {">= 0", 0, 0},
		"error_rate":          {"< 0.1%", 0.001, 0.0009},
	}
	for name, c := range good {
		th, err := reports.ParseThreshold(name, c.expr)
		if err != nil || th.Limit != c.limit || !th.Holds(c.holds) {
			t.Errorf("%s %s: %+v %v", name, c.expr, th, err)
		}
	}
	for name, expr := range map[string]string{"put.p77": "<5ms", "jump.p99": "<5ms", "p99": "<5ms", "put.p99": "5ms", "put.error_rate": "< lots", "throughput": "> fast"} {
		if _, err := reports.ParseThreshold(name, expr); err == nil {
			t.Errorf("%s %s accepted", name, expr)
		}
	}
	if _, err := Parse("s.yaml", []byte("name: x\nthresholds:\n  put.p99: \"< 5 parsecs\"\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad threshold in a file: %v", err)
	}
}

func TestCheckShape(t *testing.T) {
	s, err := Load("sessions")
	if err != nil {
		t.Fatal(err)
	}
	s.Defaults()
	if sh := s.CheckShape(); !sh.TTL || sh.Pattern != "sessions" || sh.Replicas != 3 || sh.Watchers || sh.LeaderReads {
		t.Errorf("sessions shape %+v", sh)
	}
	s, _ = Load("counter")
	s.Defaults()
	s.Workload.ReadPath = "leader"
	s.Target.Servers = []string{"nats://127.0.0.1:4222"}
	if sh := s.CheckShape(); !sh.External || !sh.Watchers || !sh.LeaderReads || !sh.NoDirectReads || sh.TTL {
		t.Errorf("counter shape with leader reads %+v: the counter's gets go to the leader", sh)
	}
}

// The README's sample scenario works when copied: it loads, completes,
// and demotes none of the checks its shape requires by default.
func TestReadmeSampleScenario(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\nname: my-scenario\n")
	sample, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no sample scenario (```yaml name: my-scenario) in README.md")
	}
	path := filepath.Join(t.TempDir(), "my-scenario.yaml")
	if err := os.WriteFile(path, []byte("name: my-scenario\n"+sample), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatalf("README sample: %v", err)
	}
	if _, err := s.Complete(); err != nil {
		t.Fatalf("README sample: %v", err)
	}
	if d := s.DemotedChecks(); len(d) > 0 {
		t.Errorf("README sample demotes %v", d)
	}
	s.Expect.Required = []string{"linearizable-writes"}
	if d := s.DemotedChecks(); !slices.Contains(d, "no-lost-writes") {
		t.Errorf("a required list of linearizable-writes alone demotes %v, not no-lost-writes", d)
	}
}

// Two fault schedules that differ only in how many faults overlap or how
// partitions cut read differently: compare and ab name the difference.
func TestFaultsStringNamesOverlapAndMode(t *testing.T) {
	base := Faults{Kinds: []string{"partition", "pause"}, Interval: Duration(2 * time.Second)}
	overlapping, mute := base, base
	overlapping.Concurrency = 3
	mute.PartitionMode = "mute"
	seen := map[string]bool{}
	for _, f := range []Faults{base, overlapping, mute} {
		seen[f.String()] = true
	}
	if len(seen) != 3 {
		t.Fatalf("schedules read alike: %v", seen)
	}
	if got := overlapping.String(); got != "partition,pause every 2s, up to 3 at once" {
		t.Errorf("got %q", got)
	}
	plan := Faults{Plan: []chaos.Step{{Kind: "partition", Mode: "deaf", At: time.Second}}}
	if got := plan.String(); got != "plan partition@1s(deaf)" {
		t.Errorf("got %q", got)
	}
}
