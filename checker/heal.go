package checker

import (
	"fmt"

	"github.com/kvharness/kvharness/history"
)

// CheckClusterHeals: after the last fault the nemesis healed everything and
// the cluster became healthy (every node up and current, the stream with
// a leader and current replicas) within the scenario's heal timeout. A
// cluster that stays broken once its faults are gone fails an upgrade or
// robustness run even when no data was lost.
const CheckClusterHeals = "cluster-heals"

// heals judges the whole run's faults: they are the same in every group.
type heals struct{ faults []history.Fault }

func (c *heals) add(g *keyGroup) { c.faults = g.h.Faults }

func (c *heals) result() (CheckResult, []string) {
	return checkClusterHeals(&history.History{Faults: c.faults}), nil
}

func checkClusterHeals(h *history.History) CheckResult {
	c := CheckResult{Name: CheckClusterHeals}
	var heal *history.Fault
	injected := 0
	for i := range h.Faults {
		if h.Faults[i].Kind == "heal" {
			heal = &h.Faults[i]
		} else {
			injected++
		}
	}
	switch {
	case heal == nil && injected == 0:
		c.Result, c.Detail = Pass, "no faults injected: nothing to heal"
	case heal == nil:
		c.Result, c.Detail = Unknown, fmt.Sprintf("%s injected, the run ended before the heal", faultCount(injected))
	case heal.Error != "":
		c.Result, c.Detail = Fail, fmt.Sprintf("after %s: %s", faultCount(injected), heal.Error)
	default:
		c.Result, c.Detail = Pass, fmt.Sprintf("after %s, healthy %.1f s after the heal began", faultCount(injected), float64(heal.End-heal.Start)/1e9)
	}
	return c
}

func faultCount(n int) string {
	if n == 1 {
		return "1 fault"
	}
	return fmt.Sprintf("%d faults", n)
}
