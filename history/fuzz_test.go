package history

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/kvharness/kvharness/internal/testenv"
)

// historySeeds: a short real run's history (testdata/small-run.jsonl,
// `kvharness run single --ops 60 --clients 2 --keys 2`), plain and
// compressed, cut short and damaged, and the checker's recorded histories.
func historySeeds(f *testing.F) [][]byte {
	plain, err := os.ReadFile("testdata/small-run.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	enc, _ := zstd.NewWriter(nil)
	packed := enc.EncodeAll(plain, nil)
	seeds := [][]byte{plain, packed, plain[:len(plain)/2], packed[:len(packed)/2], []byte{}, []byte("\n\n"),
		[]byte(`{"kind":"meta","meta":{}}` + "\n" + `{"kind":"op","client":1,"op":"put","key":"k","value":"v","outcome":"ok","rev":18446744073709551615,"invoke":-5,"complete":-9}`),
		[]byte(`{"kind":"meta"}` + "\n" + `{"kind":"invoke","client":1,"op":"update","key":"k"}` + "\n" + `{"kind":"end","at":1}`),
		[]byte(`{"kind":"meta","meta":{"keys":["k"]}}` + "\n" + `{"kind":"watch","key":"k","rev":1,"at":1e300}`),
		append(bytes.Clone(packed[:8]), bytes.Repeat([]byte{0xff}, 64)...),
	}
	zs, _ := filepath.Glob("../checker/testdata/*.jsonl.zst")
	for _, z := range zs {
		if b, err := os.ReadFile(z); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// Any file given as a history, plain or compressed, is read or refused
// with one clear line; never a panic or a hang.
func FuzzRead(f *testing.F) {
	for _, s := range historySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data))
		if err != nil {
			testenv.OneLine(t, err)
			return
		}
		defer r.Close()
		// A few bytes of zstd can stand for gigabytes: a real history that
		// long is slow to read too, so only the first megabytes are read.
		h, err := Read(io.LimitReader(r, 4<<20))
		if err != nil {
			testenv.OneLine(t, err)
			return
		}
		if h.Meta == nil || h.End == nil {
			t.Fatalf("read without a meta line or an end: %+v", h)
		}
		// What was read must come back from the spill files a long check
		// cuts it into, as it went in.
		var buf []byte
		for _, l := range [][]Record{h.Ops, h.Watch, h.Final, h.Replicas, h.Stored, h.KeyHistory} {
			for i := range l {
				in := &l[i]
				rec := new(spillWriter).appendSpill(nil, in)
				buf = binary.AppendUvarint(buf[:0], uint64(len(rec)))
				var out Record
				if err := newSpillReader(bytes.NewReader(append(buf, rec...))).next(&out); err != nil {
					t.Fatalf("spill of %+v: %v", in, err)
				}
				if out.Kind != in.Kind || out.Key != in.Key || out.Value != in.Value || out.Rev != in.Rev || out.At != in.At || out.Invoke != in.Invoke || out.Error != in.Error {
					t.Fatalf("spilled %+v\nread back %+v", in, out)
				}
			}
		}
	})
}
