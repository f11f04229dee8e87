package checker

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kvharness/kvharness/history"
)

// TestPiecesAgreeWithWholeSearch: searching a key in pieces, cut as small
// as cuts allow, gives Porcupine's verdict on the whole key — on simulated
// keys with and without known sequences, and on mutants of them, legal and
// illegal. A cut that lost a constraint would pass an illegal mutant; a
// wrong starting state would fail a legal key.
func TestPiecesAgreeWithWholeSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	cut, illegal, legal := 0, 0, 0
	forEachSim(t, simSeeds, func(t *testing.T, sim simResult) {
		for _, part := range keyParts(sim.h) {
			for i := range 12 {
				ops, what := part, "as recorded"
				if i > 0 {
					ops, what = mutate(rng, part)
				}
				pieces := cutPieces(ops, 1)
				whole := porcupine.CheckOperations(kvModel, ops)
				got, _ := searchPieces(pieces, 10*time.Second)
				if got == porcupine.Unknown || (got == porcupine.Ok) != whole {
					t.Fatalf("%s, %d pieces: %v in pieces, linearizable whole: %t", what, len(pieces), got, whole)
				}
				if len(pieces) > 1 {
					cut++
					if whole {
						legal++
					} else {
						illegal++
					}
				}
			}
		}
	})
	t.Logf("%d keys cut into pieces: %d legal, %d illegal", cut, legal, illegal)
	if legal < 100 || illegal < 50 {
		t.Errorf("%d legal and %d illegal keys cut into pieces: too few to show the cuts sound", legal, illegal)
	}
}

// longKeyHistory is one key written and read by 4 clients in turns that
// never overlap at some points (a client's write completes before the next
// call) and do elsewhere, n operations, with no recording watcher: the
// key's message sequence is unknown and only a search can decide it.
func longKeyHistory(n int, stale bool) *history.History {
	var recs []history.Record
	rev, value := uint64(0), ""
	prevRev, prevValue := rev, value
	t := int64(1000)
	for i := 0; i < n; i++ {
		client := i % 4
		switch {
		case i%7 == 3 && value != "":
			// Two gets side by side.
			recs = append(recs, get(client, "k", value, rev, at(t, t+500)))
			recs = append(recs, get((client+1)%4, "k", value, rev, at(t+100, t+600)))
			t += 1000
			i++
		default:
			prevRev, prevValue = rev, value
			rev++
			value = fmt.Sprintf("v%d", i)
			recs = append(recs, put(client, "k", value, rev, at(t, t+500)))
			t += 1000
		}
	}
	if stale {
		// A get late in the key returns the value before the last write.
		recs = append(recs, get(1, "k", prevValue, prevRev, at(t, t+500)))
	}
	h := hist(recs...)
	h.End.WatchComplete, h.End.LastSeq = false, 0
	h.Watch = nil
	return h
}

// TestLongKeyWithoutSequenceSearchedInPieces: a key with no known sequence
// and more operations than the memory budget lets one search take is cut
// into pieces and decided — linearizable, or not, naming the key — where
// before it was unknown.
func TestLongKeyWithoutSequenceSearchedInPieces(t *testing.T) {
	const n = 3 * minPiece
	opts := Options{Timeout: 30 * time.Second, VisualizeDir: t.TempDir()}
	opts.memoryBudget = int64(minPiece) * int64(minPiece) / 8 // a search may take minPiece operations
	if limit := searchLimit(opts.memoryBudget); limit >= n {
		t.Fatalf("search limit %d: the key would fit whole", limit)
	}

	res := Check(longKeyHistory(n, false), opts)
	wantStatus(t, res, map[string]Status{CheckLinearizableWrites: Pass, CheckLinearizableReads: Pass})
	if c := checkNamed(t, res, CheckLinearizableReads); !strings.Contains(c.Detail, "cut into pieces") {
		t.Errorf("detail %q: does not say the key was cut into pieces", c.Detail)
	}

	res = Check(longKeyHistory(n, true), opts)
	wantStatus(t, res, map[string]Status{CheckLinearizableReads: Fail})
	if c := checkNamed(t, res, CheckLinearizableReads); !strings.Contains(c.Detail, `"k"`) {
		t.Errorf("detail %q: does not name the key", c.Detail)
	}
	if len(res.Visualizations) == 0 {
		t.Errorf("no view of the failing piece drawn")
	}
	t.Log(strings.Join(res.Notes, "\n"))
}
