package history

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriterConcurrentRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
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
	if len(h.Ops) != 4000 || h.Meta.Scenario != "t" || h.End == nil || !h.End.FinalReads || h.Truncated != 0 {
		t.Fatalf("ops %d meta %+v end %+v truncated %d", len(h.Ops), h.Meta, h.End, h.Truncated)
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
	if len(h.Ops) != 1 || h.Truncated != 1 || h.End != nil {
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
