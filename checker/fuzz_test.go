package checker

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/kvharness/kvharness/history"
)

// Whatever history the reader accepts, however odd (hand-edited, damaged,
// from another version), the checker gives a verdict: never a panic or a
// hang. Seeds: a short real run, its lines shuffled in time and revision,
// and the recorded histories of testdata.
func FuzzCheck(f *testing.F) {
	plain, err := os.ReadFile("../history/testdata/small-run.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(bytes.ReplaceAll(plain, []byte(`"rev":2,`), []byte(`"rev":1,`)))
	f.Add(bytes.ReplaceAll(plain, []byte(`"outcome":"ok"`), []byte(`"outcome":"unknown"`)))
	f.Add(bytes.ReplaceAll(plain, []byte(`"complete":`), []byte(`"complete":-`)))
	f.Add(bytes.ReplaceAll(plain, []byte(`"at":`), []byte(`"at":9`)))
	zs, _ := filepath.Glob("testdata/*.jsonl.zst")
	for _, z := range zs {
		b, err := os.ReadFile(z)
		if err != nil {
			f.Fatal(err)
		}
		dec, _ := zstd.NewReader(nil)
		if out, err := dec.DecodeAll(b, nil); err == nil {
			f.Add(out)
		}
		dec.Close()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := history.Read(io.LimitReader(bytes.NewReader(data), 1<<20))
		if err != nil {
			return // the reader's own fuzz test holds its errors to one line
		}
		res := Check(h, Options{Timeout: 200 * time.Millisecond, memoryBudget: 64 << 20})
		switch res.Verdict {
		case Pass, Fail, Unknown:
		default:
			t.Fatalf("verdict %q", res.Verdict)
		}
		for _, c := range res.Checks {
			if c.Name == "" || (c.Result != Pass && c.Result != Fail && c.Result != Unknown && c.Result != Skipped) {
				t.Fatalf("check %+v", c)
			}
		}
	})
}
