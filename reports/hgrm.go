package reports

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kvharness/kvharness/latency"
)

// WriteHgrm writes latency/<op>.hgrm for every op: HdrHistogram's percentile
// distribution format (values in milliseconds), which HdrHistogram's plotter
// and most CI dashboards read.
func WriteHgrm(dir string, lat latency.Set) error {
	out := filepath.Join(dir, "latency")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	for _, op := range lat.Ops() {
		h := lat.ForOp(op)
		if h.TotalCount() == 0 {
			continue
		}
		f, err := createOwnerOnly(filepath.Join(out, op+".hgrm"))
		if err != nil {
			return err
		}
		// Histograms hold microseconds; a scale of 1000 prints milliseconds.
		if _, err := h.PercentilesPrint(f, 5, 1000.0); err != nil {
			f.Close()
			return fmt.Errorf("writing %s.hgrm: %w", op, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
