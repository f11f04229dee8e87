package checker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kvharness/kvharness/history"
)

// TestSpanRulesFindUnfitSpans: each rule only the records show keeps a key
// whole when a span breaks it, and the key then gets what it gets checked
// whole. The key is written 30 times, each write delivered and read back,
// so that the plan cuts it into spans of a few operations.
func TestSpanRulesFindUnfitSpans(t *testing.T) {
	base := func() *history.History {
		var recs []history.Record
		for i := range 30 {
			rev, t0 := uint64(i+1), int64(i*10)
			v := fmt.Sprintf("v%d", rev)
			recs = append(recs, put(1, "k", v, rev, at(t0, t0+2)), watch("k", v, rev, t0+1), get(2, "k", v, rev, at(t0+4, t0+6)))
		}
		recs = append(recs, final("k", "v30", 30))
		h := watchComplete(hist(recs...))
		h.Meta.History = 2
		return h
	}
	cases := []struct {
		name, why string
		change    func(h *history.History)
	}{
		{"a delivery holds a value another span wrote", "was delivered holding \"v25\"", func(h *history.History) {
			h.Watch[4].Read = "v25"
		}},
		{"an acknowledged write was not delivered", "revision 5, acknowledged, was not delivered", func(h *history.History) {
			h.Watch = append(h.Watch[:4], h.Watch[5:]...)
		}},
		{"a get names a revision of its span with another span's value", "a get read \"v3\" at revision 27", func(h *history.History) {
			for i := range h.Ops {
				if h.Ops[i].Op == history.OpGet && h.Ops[i].Rev == 27 {
					h.Ops[i].Read = "v3"
				}
			}
		}},
		{"a final read names a revision before the last span", "a final read after the run names revision 3", func(h *history.History) {
			h.Final[0].Read, h.Final[0].Rev = "v3", 3
		}},
		{"an acknowledged delete's marker is not in its span", "0 del markers for 1 acknowledged writes of them", func(h *history.History) {
			h.Ops = append(h.Ops, del(3, "k", at(57, 58))) // and no marker in the stream
		}},
		{"the last span holds fewer messages than the history depth", "fewer than the bucket's history depth (64)", func(h *history.History) {
			h.Meta.History = 64
		}},
	}
	if split := checkFileSpans(t, base(), 4); split.SpannedKeys != 1 || split.Spans < 3 {
		t.Fatalf("the unchanged key: %d keys in %d spans (whole: %v)", split.SpannedKeys, split.Spans, split.LongKeysWhole)
	}
	for _, c := range cases {
		h := base()
		c.change(h)
		whole, split := checkFileSpans(t, h, noSpans), checkFileSpans(t, h, 4)
		if split.SpannedKeys != 0 || len(split.LongKeysWhole) != 1 || !strings.Contains(split.LongKeysWhole[0], c.why) {
			t.Errorf("%s: %d keys in spans, whole: %q; want it whole for %q", c.name, split.SpannedKeys, split.LongKeysWhole, c.why)
		}
		sameResults(t, whole, split, c.name)
	}
}

// TestCheckFileInterruptedWhileInSpans: a check whose context is done
// while a long key's spans are checked — and the next key's planned ahead
// — stops with the context's error, its planning goroutine stopped and its
// files removed.
func TestCheckFileInterruptedWhileInSpans(t *testing.T) {
	h := simulate(simConfig{seed: 1, clients: 3, keys: 3, opsPerClient: 300, failRate: 0.03, thinkUs: 8000}).h
	path := filepath.Join(t.TempDir(), "history.jsonl")
	writeInTimeOrder(t, path, h)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spans := 0
	o := FileOptions{Options: Options{Timeout: time.Minute}, SpanOps: tinySpans, GroupRecords: 1, Group: func(*history.History) {
		if spans++; spans == 2 {
			cancel()
		}
	}}
	if _, _, err := CheckFile(ctx, path, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("CheckFile: %v after %d spans, want the context's error", err, spans)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	// Goroutines a check started are gone once it returns (the runtime may
	// take a moment to reap them).
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left of %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestSpanNamesItsContext: a read naming the revision a span starts from
// names the span's context, the message its earlier span left, and
// nothing else — not even a value the span writes itself. The plan never
// cuts before such a read, so only a hand-made span reaches this rule.
func TestSpanNamesItsContext(t *testing.T) {
	s := &spanRules{from: 10, context: "c1-5", hasContext: true, own: map[string]bool{"c2-7": true}}
	for _, c := range []struct {
		read   spanRead
		names  bool
		reason string
	}{
		{spanRead{kind: history.KindOp, rev: 10, read: "c1-5"}, true, "the context's value at its revision"},
		{spanRead{kind: history.KindOp, rev: 10, read: "c2-7"}, false, "the span's own value at the context's revision"},
		{spanRead{kind: history.KindOp, rev: 10, marker: history.MarkerDel}, false, "a marker at the context's revision, which holds a value"},
		{spanRead{kind: history.KindOp, rev: 9, read: "c1-5"}, false, "a revision before the span"},
		{spanRead{kind: history.KindOp, rev: 12, read: "c2-7"}, true, "the span's own value"},
		{spanRead{kind: history.KindOp, rev: 12, read: "c1-5"}, false, "the context's value at another revision"},
	} {
		if got := s.names(c.read); got != c.names {
			t.Errorf("%s: names %v, want %v", c.reason, got, c.names)
		}
	}
	marker := &spanRules{from: 10, context: messageName("", history.MarkerDel), hasContext: true, own: map[string]bool{}}
	if !marker.names(spanRead{kind: history.KindFinal, rev: 10, marker: history.MarkerDel}) {
		t.Error("a span starting from a delete's marker does not name it")
	}
}
