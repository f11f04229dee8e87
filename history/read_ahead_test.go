package history

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// spillForTest writes a history of n puts on one key and spills it into
// one bucket.
func spillForTest(t *testing.T, n int) *Spilled {
	t.Helper()
	path := writePuts(t, n)
	s, err := Spill(context.Background(), path, SpillOptions{Buckets: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove() })
	return s
}

// writePuts writes a history of n puts on one key.
func writePuts(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&Record{Kind: KindMeta, Meta: &Meta{Keys: []string{"k"}}})
	for i := range n {
		w.Write(&Record{Kind: KindOp, Op: OpPut, Key: "k", Value: fmt.Sprint("v", i), Client: 1,
			Invoke: int64(2 * i), Complete: int64(2*i + 1), Outcome: OK, Rev: uint64(i + 1)})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Spill tells how far through the file it has read, now and then.
func TestSpillProgress(t *testing.T) {
	path := writePuts(t, 3*spillProgressEvery)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var reads []int64
	s, err := Spill(context.Background(), path, SpillOptions{Buckets: 1, Progress: func(read, size int64) {
		if size != info.Size() || read <= 0 || read > size {
			t.Errorf("read %d of %d, the file holds %d", read, size, info.Size())
		}
		reads = append(reads, read)
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Remove()
	if len(reads) != 3 || reads[0] > reads[2] {
		t.Fatalf("progress %v: want 3 reports, not going back", reads)
	}
}

// Stream decodes a batch ahead: every record, in order, across batches;
// an early stop and a damaged file end the decoding goroutine with it.
func TestStreamReadsAhead(t *testing.T) {
	n := 2*readAheadBatch + 77
	s := spillForTest(t, n)
	g := s.Groups()[0]
	goroutines := runtime.NumGoroutine()

	var got []Record
	if err := g.Stream(func(r *Record) error {
		got = append(got, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("streamed %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if r.Value != fmt.Sprint("v", i) || r.Rev != uint64(i+1) {
			t.Fatalf("record %d: %q at revision %d", i, r.Value, r.Rev)
		}
	}

	stop := errors.New("enough")
	seen := 0
	if err := g.Stream(func(*Record) error {
		if seen++; seen == readAheadBatch+3 {
			return stop
		}
		return nil
	}); err != stop || seen != readAheadBatch+3 {
		t.Fatalf("stopped with %v after %d records, want %v after %d", err, seen, stop, readAheadBatch+3)
	}

	// Cut the bucket file mid-record: what came before is handed on, then
	// the error.
	bucket := s.bucketPath(0)
	info, err := os.Stat(bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(bucket, info.Size()*2/3); err != nil {
		t.Fatal(err)
	}
	seen = 0
	err = g.Stream(func(*Record) error { seen++; return nil })
	if !errors.Is(err, errSpillDamaged) || seen < n/2 || seen >= n {
		t.Fatalf("a damaged bucket: %v after %d of %d records", err, seen, n)
	}

	// A bucket file that is gone: an error, not a panic.
	if err := os.Remove(bucket); err != nil {
		t.Fatal(err)
	}
	seen = 0
	if err := g.Stream(func(*Record) error { seen++; return nil }); !errors.Is(err, os.ErrNotExist) || seen != 0 {
		t.Fatalf("a bucket file gone: %v after %d records", err, seen)
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if now := runtime.NumGoroutine(); now > goroutines {
		t.Errorf("%d goroutines after streaming, %d before", now, goroutines)
	}
}

// StreamWithoutValues gives what Stream gives, but the values written and
// read of op and watch records; a final read keeps its value.
func TestStreamWithoutValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&Record{Kind: KindMeta, Meta: &Meta{Keys: []string{"k"}}})
	w.Write(&Record{Kind: KindOp, Op: OpPut, Key: "k", Value: "v1", Client: 1, Invoke: 2, Complete: 3, Outcome: OK, Rev: 1})
	w.Write(&Record{Kind: KindWatch, Key: "k", Read: "v1", Rev: 1, At: 4})
	w.Write(&Record{Kind: KindOp, Op: OpGet, Key: "k", Client: 2, Invoke: 5, Complete: 6, Outcome: OK, Found: true, Read: "v1", Rev: 1})
	w.Write(&Record{Kind: KindFinal, Key: "k", Found: true, Read: "v1", Rev: 1})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Spill(context.Background(), path, SpillOptions{Buckets: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	g := s.Groups()[0]
	var whole, without []Record
	if err := g.Stream(func(r *Record) error { whole = append(whole, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := g.StreamWithoutValues(func(r *Record) error { without = append(without, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(whole) != 4 || len(without) != 4 {
		t.Fatalf("streamed %d and %d records, want 4", len(whole), len(without))
	}
	for i := range whole {
		want := whole[i]
		if want.Kind != KindFinal {
			want.Value, want.Read = "", ""
		}
		if without[i] != want {
			t.Fatalf("record %d without values:\n got %+v\nwant %+v", i, without[i], want)
		}
	}
	if whole[0].Value != "v1" || whole[2].Read != "v1" || without[3].Read != "v1" {
		t.Fatalf("values lost: %+v, %+v", whole, without)
	}
}
