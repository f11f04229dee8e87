package reports

import (
	"strings"
	"testing"
)

// An open-loop step that measured no operation (every op scheduled inside
// its warm-up) does not meet the SLO, however its thresholds read; one
// that measured some does, when they hold.
func TestCapacityStepWithNothingMeasuredBreaks(t *testing.T) {
	held := []ThresholdResult{{Name: "put.p99", Expr: "< 100ms", Pass: true}}
	empty := CapacityStep{Offered: 4400}
	empty.Fill(&Summary{Thresholds: held, Ops: map[string]*OpSummary{}})
	if empty.MeetsSLO || len(empty.Broken) != 1 || !strings.Contains(empty.Broken[0], "no operation measured") {
		t.Errorf("nothing measured: meets %v, broken %v", empty.MeetsSLO, empty.Broken)
	}
	some := CapacityStep{Offered: 1100}
	some.Fill(&Summary{Thresholds: held, ThroughputOpsPerSec: 1086, Ops: map[string]*OpSummary{}})
	if !some.MeetsSLO {
		t.Errorf("1086 ops/s measured, thresholds held: broken %v", some.Broken)
	}
	closed := CapacityStep{}
	closed.Fill(&Summary{Thresholds: held, Ops: map[string]*OpSummary{}})
	if !closed.MeetsSLO {
		t.Errorf("the closed-loop step is judged by its thresholds alone: broken %v", closed.Broken)
	}
}
