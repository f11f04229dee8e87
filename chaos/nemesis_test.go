package chaos

import (
	"testing"
	"time"

	"github.com/kvharness/kvharness/cluster"
)

// Kill faults need processes; schedules must make sense. (That kills really
// happen is shown end to end in cmd/kvharness TestKillFaults.)
func TestScheduleValidate(t *testing.T) {
	embedded := &cluster.Target{Mode: cluster.ModeEmbedded}
	spawned := &cluster.Target{Mode: cluster.ModeProcess, Processes: &cluster.Processes{}}
	ok := Schedule{Kinds: []string{"kill"}, Interval: 5 * time.Second, Duration: 2 * time.Second}
	if err := ok.Validate(spawned); err != nil {
		t.Errorf("good schedule: %v", err)
	}
	if err := ok.Validate(embedded); err == nil {
		t.Error("kill accepted on embedded servers")
	}
	for _, bad := range []Schedule{
		{Kinds: []string{"explode"}, Interval: time.Second, Duration: time.Millisecond},
		{Kinds: []string{"kill"}, Interval: time.Second, Duration: time.Second},
		{Kinds: []string{"kill"}, Interval: 0, Duration: 0},
	} {
		if err := bad.Validate(spawned); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	if err := (Schedule{}).Validate(embedded); err != nil {
		t.Errorf("no faults: %v", err)
	}
}
