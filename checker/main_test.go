package checker

import (
	"os"
	"testing"

	"github.com/kvharness/kvharness/history"
)

// TestMain poisons the records of every group checked from a file once it
// is done with (see history.PoisonRecycled): a check that kept a pointer
// into a finished group, which would read the next group's records in a
// real check, reads values no history holds here, and its test fails.
func TestMain(m *testing.M) {
	history.PoisonRecycled = true
	os.Exit(m.Run())
}
