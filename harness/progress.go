package harness

import (
	"context"
	"time"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/workload"
)

// showProgress hands a snapshot of the workload, with the fault in
// progress, to show about once a second until ctx ends.
func showProgress(ctx context.Context, progress func() workload.Progress, nemesis *chaos.Nemesis, show func(workload.Progress)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p := progress()
			p.Fault = nemesis.Current()
			show(p)
		}
	}
}
