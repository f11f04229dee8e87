package history

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriterConcurrentRoundTrip(t *testing.T) {
	for _, name := range []string{"history.jsonl", "history.jsonl.zst"} {
		t.Run(name, func(t *testing.T) { roundTrip(t, filepath.Join(t.TempDir(), name)) })
	}
}

func roundTrip(t *testing.T, path string) {
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&Record{Kind: KindMeta, Meta: &Meta{Scenario: "t", Replicas: 1}})
	var wg sync.WaitGroup
	for c := 1; c <= 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				w.Write(&Record{Kind: KindOp, Client: c, Op: OpPut, Key: "k", Value: fmt.Sprintf("c%d-%d", c, i), Outcome: OK, Rev: uint64(i + 1)})
			}
		}(c)
	}
	wg.Wait()
	w.Write(&Record{Kind: KindEnd, End: &End{FinalReads: true}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 4000 || h.Meta.Scenario != "t" || h.End == nil || !h.End.FinalReads || h.Truncated != 0 || h.DamagedTail != "" {
		t.Fatalf("ops %d meta %+v end %+v truncated %d damaged %q", len(h.Ops), h.Meta, h.End, h.Truncated, h.DamagedTail)
	}
	raw, _ := os.ReadFile(path)
	if Compressed(path) != bytes.HasPrefix(raw, zstdMagic) {
		t.Fatalf("%s: %d bytes, starts %x", path, len(raw), raw[:4])
	}
}

// A compressed history is a run of zstd frames, one per flush. A writer
// killed mid-frame leaves a partial frame: the reader keeps every record
// of the frames before it and says the tail was damaged.
func TestCompressedHistoryKilledMidFrame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl.zst")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&Record{Kind: KindMeta, Meta: &Meta{Scenario: "t"}})
	for i := 0; i < 300; i++ {
		w.Write(&Record{Kind: KindOp, Client: 1, Op: OpPut, Key: "k", Value: fmt.Sprintf("c1-%d", i), Outcome: OK, Rev: uint64(i + 1)})
	}
	w.Flush() // frame 1: meta and 300 puts
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	first := fi.Size()
	for i := 300; i < 600; i++ {
		w.Write(&Record{Kind: KindOp, Client: 1, Op: OpPut, Key: "k", Value: fmt.Sprintf("c1-%d", i), Outcome: OK, Rev: uint64(i + 1)})
	}
	w.Flush() // frame 2
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if int64(len(raw)) <= first {
		t.Fatalf("one frame only (%d bytes, first %d)", len(raw), first)
	}
	for _, cut := range []int64{first + 5, (first + int64(len(raw))) / 2, int64(len(raw)) - 1} {
		if err := os.WriteFile(path, raw[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := ReadFile(path)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if len(h.Ops) < 300 || len(h.Ops) > 600 || h.DamagedTail == "" || !h.End.Cut {
			t.Fatalf("cut at %d of %d: %d ops, damaged %q: want the first frame's 300 and a damaged tail", cut, len(raw), len(h.Ops), h.DamagedTail)
		}
		for i, op := range h.Ops { // a prefix, in order
			if op.Value != fmt.Sprintf("c1-%d", i) {
				t.Fatalf("cut at %d: op %d is %s", cut, i, op.Value)
			}
		}
	}
	// Cut exactly between frames: nothing damaged, the first frame whole.
	os.WriteFile(path, raw[:first], 0o644)
	if h, err := ReadFile(path); err != nil || len(h.Ops) != 300 || h.DamagedTail != "" {
		t.Fatalf("cut between frames: %v, %d ops, damaged %q", err, len(h.Ops), h.DamagedTail)
	}
}

func TestReaderToleratesKilledWriter(t *testing.T) {
	data := `{"kind":"meta","meta":{"scenario":"t"}}
{"kind":"op","client":1,"op":"put","key":"k","value":"c1-1","outcome":"ok","rev":1}
{"kind":"op","client":1,"op":"put","key":"k","val`
	h, err := Read(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 1 || h.Truncated != 1 || !h.End.Cut {
		t.Fatalf("ops %d truncated %d end %v", len(h.Ops), h.Truncated, h.End)
	}
}

func TestReaderRejectsCorruptMiddle(t *testing.T) {
	data := "{\"kind\":\"meta\",\"meta\":{}}\ngarbage\n{\"kind\":\"op\"}\n"
	if _, err := Read(strings.NewReader(data)); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
}

func TestReaderNeedsMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	os.WriteFile(path, []byte(`{"kind":"op"}`+"\n"), 0o644)
	if _, err := ReadFile(path); err == nil {
		t.Fatal("a file without meta line was accepted")
	}
}

// TestScanAcrossBatches: lines are parsed in batches side by side, but
// records reach visit in the file's order, blank lines still count for the
// line number an error names, and an error from visit stops the scan.
func TestScanAcrossBatches(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"kind":"meta","meta":{"scenario":"t"}}` + "\n")
	const n = 5 * batchLines
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"kind":"op","client":1,"op":"put","key":"k","value":"v%d","outcome":"ok","rev":%d,"invoke":%d,"complete":%d}`+"\n", i, i, i, i)
		if i%1000 == 0 {
			b.WriteString("\n")
		}
	}
	good := b.String()
	next := uint64(1)
	if _, err := Scan(strings.NewReader(good), func(r *Record) error {
		if r.Kind == KindOp {
			if r.Rev != next {
				return fmt.Errorf("record of revision %d after %d", r.Rev, next-1)
			}
			next++
		}
		return nil
	}); err != nil || next != n+1 {
		t.Fatalf("scan: %v after %d records", err, next-1)
	}

	// Line 4,000 of the ops is line 4,004 of the file: a meta line and
	// three blank lines before it.
	lines := strings.Split(good, "\n")
	lines[4003] = "garbage"
	if _, err := Scan(strings.NewReader(strings.Join(lines, "\n")), func(*Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "line 4004") {
		t.Fatalf("want an error naming line 4004, got %v", err)
	}

	stop := errors.New("stop")
	seen := 0
	goroutines := runtime.NumGoroutine()
	if _, err := Scan(strings.NewReader(good), func(*Record) error {
		if seen++; seen == 10 {
			return stop
		}
		return nil
	}); err != stop || seen != 10 {
		t.Fatalf("visit's error: got %v after %d records", err, seen)
	}
	// Stopped early, Scan has waited for its reader and parsers. A
	// goroutine that has signalled its WaitGroup is still counted until it
	// has returned, a moment later (under -race on a loaded machine, later
	// than the check): wait a little for the count, as goleak does, and
	// fail only if it stays up.
	left := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); left > goroutines && time.Now().Before(deadline); left = runtime.NumGoroutine() {
		time.Sleep(5 * time.Millisecond)
	}
	if left > goroutines {
		t.Errorf("%d goroutines 2 s after Scan returned, %d before", left, goroutines)
	}
}
