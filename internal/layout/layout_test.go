// Package layout holds the test that keeps the packages' import rules
// (docs/DESIGN.md, "Import rules"): dependencies point down the pipeline.
package layout

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kvharness/kvharness/"

// forbidden lists, per package, what it must not depend on, directly or
// through another package.
var forbidden = map[string][]string{
	// Pure: reads a history, never talks to NATS.
	"checker": {"github.com/nats-io/", module + "workload", module + "chaos", module + "cluster", module + "scenarios", module + "reports", module + "harness"},
	// Reads results: neither the load nor the faults nor the servers.
	"reports": {"github.com/nats-io/", module + "workload", module + "chaos", module + "cluster", module + "scenarios", module + "harness", module + "ab", module + "capacity", module + "monitor"},
	// One run knows nothing of A/B sessions or capacity searches made of runs.
	"harness": {module + "ab", module + "capacity"},
	"ab":      {module + "capacity"},
	// The sampler reads the servers and the process; it neither loads nor
	// injects faults.
	"monitor": {module + "workload", module + "chaos", module + "scenarios", module + "harness"},
	// The record format, below everything that records or reads.
	"history": {"github.com/nats-io/", module + "workload", module + "chaos", module + "cluster", module + "checker", module + "reports", module + "scenarios", module + "harness", module + "latency"},
	"latency": {module + "history", module + "workload", module + "checker", module + "reports", module + "harness"},
	// Servers and clusters, below the workload and the nemesis.
	"cluster": {module + "workload", module + "chaos", module + "checker", module + "reports", module + "scenarios", module + "harness", module + "history"},
	// The workload and the nemesis do not know each other, the scenario
	// format, the run's owner, or what checks the result.
	"workload":  {module + "chaos", module + "scenarios", module + "harness", module + "checker", module + "reports"},
	"chaos":     {module + "workload", module + "scenarios", module + "harness", module + "checker", module + "reports"},
	"scenarios": {module + "harness"},
	// Workers run a workload and send its records: they know nothing of
	// the run's owner, the scenario format, faults or checks.
	"fleet": {module + "harness", module + "scenarios", module + "chaos", module + "checker", module + "reports", module + "ab", module + "capacity"},
	// Used everywhere, so it uses nothing of ours.
	"internal/secrets": {module},
	// A filesystem under the servers' stores: it knows nothing of NATS.
	"internal/lazyfs": {module, "github.com/nats-io/"},
}

func TestImportRules(t *testing.T) {
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 2 {
			t.Fatalf("go list %s listed %v: want the package and its dependencies", pkg, deps)
		}
		for _, dep := range deps {
			if dep == module+pkg {
				continue
			}
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s (docs/DESIGN.md, import rules)", pkg, dep)
				}
			}
		}
	}
}
