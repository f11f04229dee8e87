package checker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// checkSplit checks h as a history too large to check at once is checked:
// cut into n groups of keys, one group at a time.
func checkSplit(h *history.History, n int, opts Options) *Result {
	f := factsOf(h)
	return checkGroups(h, &f, func(yield func(*history.History, *keySpan) error) error {
		for _, g := range h.Split(n) {
			if err := yield(g, nil); err != nil {
				return err
			}
		}
		return nil
	}, opts)
}

// timing is the part of a detail that differs from run to run.
var timing = regexp.MustCompile(`; [0-9.]+(ns|µs|ms|s)\)`)

// howPart is the parenthesis of a passing linearizability detail: how the
// keys were decided.
var howPart = regexp.MustCompile(` \(.*\)$`)

// sameResults compares two results check by check: the same status, and
// the same detail where it passed (a failing detail names the first
// problem found, which depends on the order groups are checked in).
func sameResults(t *testing.T, whole, split *Result, what string) {
	t.Helper()
	if whole.Verdict != split.Verdict {
		t.Errorf("%s: verdict %s whole, %s split", what, whole.Verdict, split.Verdict)
	}
	for i, a := range whole.Checks {
		b := split.Checks[i]
		if a.Name == CheckRevisionsUnique && a.Result == Fail && b.Result == Pass && strings.Contains(a.Detail, "appears at revisions") &&
			checkNamed(t, whole, CheckReadsValid).Result == Fail && checkNamed(t, split, CheckReadsValid).Result == Fail {
			// A value read from another key than it was written to sits
			// at two revisions only for a checker that sees both keys;
			// a group sees a read of a value none of its writes wrote,
			// and reads-valid fails on it either way.
			continue
		}
		if a.Result != b.Result {
			t.Errorf("%s: %s: %s whole (%s), %s split (%s)", what, a.Name, a.Result, a.Detail, b.Result, b.Detail)
			continue
		}
		da, db := timing.ReplaceAllString(a.Detail, ")"), timing.ReplaceAllString(b.Detail, ")")
		if strings.Contains(da+db, "shown by") {
			// Which groups a read check settles for the write check
			// depends on how the keys are grouped: the counts must agree.
			da, db = howPart.ReplaceAllString(da, ""), howPart.ReplaceAllString(db, "")
		}
		if a.Result == Pass && da != db {
			t.Errorf("%s: %s: detail\n  whole: %s\n  split: %s", what, a.Name, a.Detail, b.Detail)
		}
	}
	if fmt.Sprint(whole.StaleReads) != fmt.Sprint(split.StaleReads) {
		t.Errorf("%s: stale reads %+v whole, %+v split", what, whole.StaleReads, split.StaleReads)
	}
	for op, r := range whole.Resolution {
		if s := split.Resolution[op]; s == nil || *s != *r {
			t.Errorf("%s: resolution of %s: %+v whole, %+v split", what, op, *r, s)
		}
	}
}

// TestGroupsGiveTheSameResults: checked a group of keys at a time, every
// simulated history — passing, or with one operation's answer changed —
// gets what it gets checked whole.
func TestGroupsGiveTheSameResults(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	opts := Options{Timeout: 10 * time.Second}
	failing := 0
	forEachSim(t, simSeeds, func(t *testing.T, sim simResult) {
		h := sim.h
		whole := Check(h, opts)
		for _, n := range []int{2, 3, 5} {
			sameResults(t, whole, checkSplit(h, n, opts), fmt.Sprintf("%d groups", n))
		}
		m := *h
		m.Ops = append([]history.Record(nil), h.Ops...)
		i := rng.IntN(len(m.Ops))
		switch op := &m.Ops[i]; {
		case op.Op == history.OpGet && op.Outcome == history.OK:
			op.Found, op.Read, op.Rev = true, m.Ops[rng.IntN(len(m.Ops))].Value, op.Rev+1
		case op.Outcome == history.OK && history.IsWrite(op.Op) && op.Rev > 1:
			op.Rev-- // a revision another message holds, perhaps another key's
		default:
			op.Outcome, op.Rev = history.Unknown, 0
		}
		whole = Check(&m, opts)
		if whole.Verdict == Fail {
			failing++
		}
		sameResults(t, whole, checkSplit(&m, 3, opts), "changed, 3 groups")
	})
	if failing < 20 {
		t.Errorf("only %d changed histories failed: too few failing ones compared", failing)
	}
}

// TestCheckFileInGroups: a history file checked in memory bounded by a
// budget — cut by key on disk, a group at a time — gets what the history
// gets checked whole in memory; a budget smaller than one key's records
// makes the checks unknown and says why, rather than running out of memory.
func TestCheckFileInGroups(t *testing.T) {
	opts := Options{Timeout: 10 * time.Second}
	sim := simulate(simConfig{seed: 9, clients: 6, keys: 12, opsPerClient: 60, unknownRate: 0.05, failRate: 0.03})
	path := filepath.Join(t.TempDir(), "history.jsonl")
	writeHistory(t, path, sim.h)
	whole := Check(sim.h, opts)

	records := len(sim.h.Ops) + len(sim.h.Watch) + len(sim.h.Final) + len(sim.h.Stored)
	for _, groups := range []int{1, 3} {
		budget := int64(records/groups+records/10) * bytesPerRecord
		var progress []Progress
		res, _, err := CheckFile(context.Background(), path, FileOptions{Options: opts, MemoryBudget: budget,
			Progress: func(p Progress) { progress = append(progress, p) }})
		if err != nil {
			t.Fatal(err)
		}
		if groups > 1 && res.Groups < 2 {
			t.Errorf("budget for a %dth of the records: checked in %d group(s)", groups, res.Groups)
		}
		// Too short to report its reading; its checking, group by group.
		if len(progress) != res.Groups+1 || progress[0] != (Progress{Phase: PhaseChecking, Total: int64(records)}) ||
			progress[len(progress)-1] != (Progress{Phase: PhaseChecking, Done: int64(records), Total: int64(records)}) {
			t.Errorf("progress over %d groups of %d records: %v", res.Groups, records, progress)
		}
		sameResults(t, whole, res, fmt.Sprintf("file in %d groups", res.Groups))
	}

	res, _, err := CheckFile(context.Background(), path, FileOptions{Options: opts, MemoryBudget: 10 * bytesPerRecord})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Unknown {
		t.Errorf("verdict %s with a budget of 10 records", res.Verdict)
	}
	if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != Unknown || !strings.Contains(c.Detail, "memory budget") {
		t.Errorf("linearizable-writes: %s (%s), want unknown naming the memory budget", c.Result, c.Detail)
	}
}

// TestSearchTooLargeIsUnknown: a key the sweep cannot decide and too large
// for Porcupine's memo within the memory budget is unknown, named, and
// never searched (a search would run out of memory on a long run).
func TestSearchTooLargeIsUnknown(t *testing.T) {
	h := hardHistory(40) // no known message sequence: the sweep cannot help
	res := Check(h, Options{Timeout: time.Minute, memoryBudget: 30 * 30 / 8})
	c := checkNamed(t, res, CheckLinearizableWrites)
	if c.Result != Unknown || !strings.Contains(c.Detail, "memory budget") || !strings.Contains(c.Detail, `"k"`) {
		t.Errorf("linearizable-writes: %s (%s), want unknown naming the key and the budget", c.Result, c.Detail)
	}
	if res.Verdict != Unknown {
		t.Errorf("verdict %s", res.Verdict)
	}
}

// TestTooLargeKeyHidesNoFailure: a key too large to search leaves the
// check unknown, but the other keys of its group are still decided — one
// that is not linearizable fails the check, whichever key a worker took
// first — and a key seen written before it was invoked fails without a
// search, however large.
func TestTooLargeKeyHidesNoFailure(t *testing.T) {
	recs := hardHistory(40).Ops
	recs = append(recs,
		put(50, "z", "z1", 100, at(100, 101)),
		put(51, "z", "z2", 101, at(102, 103)),
		get(52, "z", "z1", 100, at(104, 105)), // stale: z2 completed before it began
	)
	h := hist(recs...)
	h.End.LastSeq = 0
	for range 5 {
		res := Check(h, Options{Timeout: time.Minute, memoryBudget: 30 * 30 / 8})
		c := checkNamed(t, res, CheckLinearizableReads)
		if c.Result != Fail || !strings.Contains(c.Detail, `"z"`) {
			t.Fatalf("linearizable-reads: %s (%s), want a failure naming key z", c.Result, c.Detail)
		}
	}

	early := hardHistory(40)
	early.Watch = append(early.Watch, history.Record{Kind: history.KindWatch, Key: "k", Read: "x1", Rev: 1, At: ms(1) - 1})
	res := Check(early, Options{Timeout: time.Minute, memoryBudget: 30 * 30 / 8, VisualizeDir: t.TempDir()})
	if c := checkNamed(t, res, CheckLinearizableWrites); c.Result != Fail || !strings.Contains(c.Detail, `"k"`) {
		t.Errorf("linearizable-writes: %s (%s), want a failure naming key k", c.Result, c.Detail)
	}
	if len(res.Visualizations) > 0 {
		t.Errorf("views %v: the key seen early, too large to search, was searched", res.Visualizations)
	}
}

// TestReadOfAnotherKeysValue: a get of one key returning another key's
// value at that value's own revision claims a message the stream does not
// have — a revision holds a message of one key. revisions-unique fails on
// it checked whole and checked with the two keys in one group or in two.
func TestReadOfAnotherKeysValue(t *testing.T) {
	h := hist(
		put(1, "k0", "v1", 1, at(1, 2)),
		put(2, "k1", "w1", 2, at(3, 4)),
		get(3, "k1", "v1", 1, at(5, 6)),
	)
	if GroupOf := history.GroupOf; GroupOf("k0", 2) == GroupOf("k1", 2) {
		t.Fatal("k0 and k1 share a group of 2: pick other keys")
	}
	for _, res := range []*Result{Check(h, Options{}), checkSplit(h, 2, Options{})} {
		if c := checkNamed(t, res, CheckRevisionsUnique); c.Result != Fail {
			t.Errorf("revisions-unique: %s (%s), want fail", c.Result, c.Detail)
		}
	}
}

// TestCheckFileInterruptedRemovesItsFiles: a check whose context is done
// while it reads the file stops with the context's error and leaves
// nothing in TMPDIR.
func TestCheckFileInterruptedRemovesItsFiles(t *testing.T) {
	sim := simulate(simConfig{seed: 4, clients: 4, keys: 8, opsPerClient: 2000})
	path := filepath.Join(t.TempDir(), "history.jsonl")
	writeHistory(t, path, sim.h)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, err := CheckFile(ctx, path, FileOptions{Observe: func(*history.Record) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("CheckFile: %v, want the context's error", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}
