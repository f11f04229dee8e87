package checker

import (
	"fmt"

	"github.com/kvharness/kvharness/history"
)

// notRecorded says why a check that needs what the end of a run records
// cannot decide: the run did not finish (a history without an end record
// at all, as tests build), or the history was cut (history.End.Cut) — and
// then what the file does hold, so a reader knows what is missing.
func notRecorded(end *history.End, lacks string) string {
	if end == nil || !end.Cut {
		return "the run did not finish: " + lacks
	}
	return fmt.Sprintf("the history has no end record (it was cut; it holds the final reads of %d and History() of %d of its %d keys): %s",
		end.FinalKeys, end.HistoryKeys, end.Keys, lacks)
}

// cut: the run's end was not recorded (nil, or made up by the reader).
func cut(end *history.End) bool { return end == nil || end.Cut }
