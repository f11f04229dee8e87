package checker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// writeCut writes h without its end record, with only the first finals of
// its final reads, and a torn last line: a run killed in its final phase.
func writeCut(t *testing.T, h *history.History, finals int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := history.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&history.Record{Kind: history.KindMeta, Meta: h.Meta})
	for _, list := range [][]history.Record{h.Ops, h.Watch, h.Stored, h.Final[:finals], h.Replicas} {
		for i := range list {
			w.Write(&list[i])
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(`{"kind":"fin`); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCutHistory: a history without its end record is checked on what it
// holds. Cut after every key's final read, no-lost-writes is decided (the
// final reads follow every acknowledged write); what only the end record
// says (the replicas read, the stream's last sequence) is unknown and says
// what the file holds. Cut in the middle of the final reads, no-lost-writes
// is unknown and counts them. Checked from the file and in memory alike.
func TestCutHistory(t *testing.T) {
	sim := simulate(simConfig{seed: 5, clients: 4, keys: 6, opsPerClient: 50})
	h := replicated(sim.h)
	if len(h.Final) != 6 {
		t.Fatalf("the simulation read %d keys at the end, want 6", len(h.Final))
	}
	opts := Options{Timeout: 10 * time.Second}
	for _, tc := range []struct {
		finals int
		want   map[string]Status
		detail map[string]string
	}{
		{6, map[string]Status{CheckNoLostWrites: Pass, CheckReplicasConverge: Unknown, CheckBucketIntact: Pass},
			map[string]string{CheckReplicasConverge: "no end record (it was cut; it holds the final reads of 6 and History() of 0 of its 6 keys): which nodes' replicas"}},
		{3, map[string]Status{CheckNoLostWrites: Unknown, CheckBucketIntact: Unknown},
			map[string]string{CheckNoLostWrites: "final reads of 3 and History() of 0 of its 6 keys): not every key's final read"}},
	} {
		path := writeCut(t, h, tc.finals)
		res, whole, err := CheckFile(context.Background(), path, FileOptions{Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		if e := whole.End; e == nil || !e.Cut || !e.Interrupted || whole.Truncated != 1 || e.At < h.Final[tc.finals-1].Complete {
			t.Fatalf("cut after %d final reads: end %+v, %d lines dropped", tc.finals, whole.End, whole.Truncated)
		}
		read, err := history.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for how, res := range map[string]*Result{"file": res, "memory": Check(read, opts)} {
			for name, want := range tc.want {
				if c := checkNamed(t, res, name); c.Result != want {
					t.Errorf("%s, cut after %d final reads: %s is %s (%s), want %s", how, tc.finals, name, c.Result, c.Detail, want)
				}
			}
			for name, want := range tc.detail {
				if c := checkNamed(t, res, name); !strings.Contains(c.Detail, want) {
					t.Errorf("%s, cut after %d final reads: %s says %q, want %q in it", how, tc.finals, name, c.Detail, want)
				}
			}
		}
	}
}
