package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// The hand-written encoder must produce what encoding/json reads back as
// the same record, for every field and awkward strings.
func TestAppendRecordRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "k0001", "c3-17", `quote"back\slash`, "tab\tnewline\n", "ünïcödé", "<html>&", "\x00\x7f",
		// more words than a field's recent ones, and long ones (error texts)
		"k0002", "k0003", "k0004", "k0005", "k0006", "k0007", "k0008",
		"nats: API error: code=400 err_code=10071 description=wrong last sequence: 5",
		"nats: API error: code=400 err_code=10071 description=wrong last sequence: 6"}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	// Every record into one spill file too, read back, all of them.
	var file []byte
	var records []Record
	var w spillWriter // the file's: words as references, error texts as additions
	for i := 0; i < 2000; i++ {
		r := Record{
			Kind:   []Kind{KindOp, KindWatch, KindFinal, KindStored, KindHistory, KindReplica}[rng.IntN(6)],
			Client: rng.IntN(5) - 2, Op: pick(), Key: pick(), Value: pick(),
			ExpectRev: uint64(rng.IntN(3)) * 1e12, HasExpect: rng.IntN(2) == 0,
			Outcome: Outcome(pick()), Rev: []uint64{0, 7, 14, 1<<63 + 5, math.MaxUint64}[rng.IntN(5)], Found: rng.IntN(2) == 0,
			Read: pick(), Marker: pick(), Intended: rng.Int64N(2) * 5, Invoke: rng.Int64N(3) * 1e10, Complete: rng.Int64N(3) - 1,
			Error: pick(), ErrClass: pick(), TTL: rng.Int64N(2) * 2e9, Path: pick(), Count: rng.Int64N(5) - 2,
			Watcher: rng.IntN(4) - 1, At: []int64{0, 1, -2, math.MaxInt64, math.MinInt64}[rng.IntN(5)],
		}
		line := appendRecord(nil, &r)
		if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", line)
		}
		var back Record
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v\nline %s", back, r, line)
		}
		want, _ := json.Marshal(&r)
		if string(want)+"\n" != string(line) {
			t.Fatalf("differs from encoding/json:\n got %s\nwant %s", line, want)
		}
		// What the reader decodes with, and the spill files' codec.
		var read Record
		if err := unmarshalRecord(line, &read); err != nil || !reflect.DeepEqual(read, r) {
			t.Fatalf("the reader's decoder: %v\n got %+v\nwant %+v", err, read, r)
		}
		spilled := new(spillWriter).appendSpill(nil, &r)
		sr := newSpillReader(bytes.NewReader(append(binary.AppendUvarint(nil, uint64(len(spilled))), spilled...)))
		var unspilled Record
		if err := sr.next(&unspilled); err != nil || !reflect.DeepEqual(unspilled, r) {
			t.Fatalf("spill codec: %v\n got %+v\nwant %+v", err, unspilled, r)
		}
		rec := w.appendSpill(nil, &r)
		file = append(binary.AppendUvarint(file, uint64(len(rec))), rec...)
		records = append(records, r)
	}
	sr := newSpillReader(bytes.NewReader(file))
	for i, want := range records {
		var got Record
		if err := sr.next(&got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("spill file, record %d: %v\n got %+v\nwant %+v", i, err, got, want)
		}
	}
	if err := sr.next(&Record{}); err != io.EOF {
		t.Fatalf("after the last record: %v", err)
	}
}

// TestSpillReaderReadsEverySize: records read back from a spill file are
// what was written, a record larger than the reader's buffer too (copied
// out first); a long error text that repeats is shared.
func TestSpillReaderReadsEverySize(t *testing.T) {
	conflict := func(rev int) Record {
		return Record{Kind: KindOp, Op: OpUpdate, Key: "k", Value: fmt.Sprintf("c1-%d", rev), Outcome: Fail, ErrClass: ClassConflict,
			Error: fmt.Sprintf("nats: API error: code=400 err_code=10071 description=wrong last sequence: %d", rev)}
	}
	huge := conflict(3)
	huge.Error = strings.Repeat("x", 3<<20)
	newer := conflict(4)
	newer.Error = "nats: nats: API error: code=400 err_code=10164 description=wrong last sequence: nats: key revision mismatch"
	recs := []Record{conflict(1), conflict(2), huge, conflict(2), newer, {Kind: KindWatch, Key: "k", Rev: 9, Read: "c1-9", At: 1e12}, newer}
	var file []byte
	var w spillWriter
	for i := range recs {
		rec := w.appendSpill(nil, &recs[i])
		file = append(binary.AppendUvarint(file, uint64(len(rec))), rec...)
	}
	sr := newSpillReader(bytes.NewReader(file))
	read := make([]Record, len(recs))
	for i, want := range recs {
		got := &read[i]
		if err := sr.next(got); err != nil || !reflect.DeepEqual(*got, want) {
			t.Fatalf("record %d: %v (%d bytes of error, want %d)", i, err, len(got.Error), len(want.Error))
		}
	}
	if err := sr.next(&Record{}); err != io.EOF {
		t.Fatalf("after the last record: %v", err)
	}
	if unsafe.StringData(read[4].Error) != unsafe.StringData(read[6].Error) {
		t.Fatal("a long error text that repeats is not shared")
	}
}

// TestSpillErrorTextsAreAdditions: an error text is written as what it
// adds to the file's last one, and read back as the text it was; without
// that last one (a reader that did not read it), it is a damaged record.
func TestSpillErrorTextsAreAdditions(t *testing.T) {
	refused := func(rev int) Record {
		return Record{Kind: KindOp, Op: OpUpdate, Key: "k0001", Value: fmt.Sprintf("c1-%d", rev), Outcome: Fail, ErrClass: ClassConflict,
			Error: fmt.Sprintf("nats: nats: API error: code=400 err_code=10071 description=wrong last sequence: %d: nats: key revision mismatch", rev)}
	}
	recs := []Record{refused(39630), refused(39631), {Kind: KindWatch, Key: "k0001", Rev: 39632, Read: "c2-1"}, refused(39631), refused(7)}
	var w spillWriter
	var spilled [][]byte
	var file []byte
	for i := range recs {
		rec := w.appendSpill(nil, &recs[i])
		spilled = append(spilled, rec)
		file = append(binary.AppendUvarint(file, uint64(len(rec))), rec...)
	}
	if len(spilled[1]) > len(spilled[0])-len(recs[0].Error)+8 {
		t.Fatalf("the second error text was written whole: %d bytes, then %d", len(spilled[0]), len(spilled[1]))
	}
	sr := newSpillReader(bytes.NewReader(file))
	read := make([]Record, len(recs))
	for i := range recs {
		if err := sr.next(&read[i]); err != nil || !reflect.DeepEqual(read[i], recs[i]) {
			t.Fatalf("record %d: %v\n got %+v\nwant %+v", i, err, read[i], recs[i])
		}
	}
	if unsafe.StringData(read[1].Error) != unsafe.StringData(read[3].Error) {
		t.Fatal("a repeated error text was read back as a new string")
	}
	lone := append(binary.AppendUvarint(nil, uint64(len(spilled[1]))), spilled[1]...)
	if err := newSpillReader(bytes.NewReader(lone)).next(&Record{}); !errors.Is(err, errSpillDamaged) {
		t.Fatalf("an addition to no word: %v", err)
	}
}

func BenchmarkAppendRecord(b *testing.B) {
	r := &Record{Kind: KindOp, Client: 3, Op: OpUpdate, Key: "k0003", Value: "c3-12345", ExpectRev: 991, HasExpect: true,
		Outcome: Fail, Invoke: 123456789, Complete: 123999999, Error: "nats: API error: code=400 err_code=10071 description=wrong last sequence: 5", ErrClass: ClassConflict}
	var buf []byte
	for b.Loop() {
		buf = appendRecord(buf[:0], r)
	}
}

func BenchmarkEncodingJSON(b *testing.B) {
	r := &Record{Kind: KindOp, Client: 3, Op: OpUpdate, Key: "k0003", Value: "c3-12345", ExpectRev: 991, HasExpect: true,
		Outcome: Fail, Invoke: 123456789, Complete: 123999999, Error: "nats: API error: code=400 err_code=10071 description=wrong last sequence: 5", ErrClass: ClassConflict}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for b.Loop() {
		buf.Reset()
		_ = enc.Encode(r)
	}
}

// TestSpillWordsAreReferences: a word a field of the file held lately is
// written as a reference, a byte, and read back as the string read the
// first time; a reference to a word the reader never read is a damaged
// record.
func TestSpillWordsAreReferences(t *testing.T) {
	r := Record{Kind: KindOp, Op: OpUpdate, Key: "k0001", Value: "c1-5", Outcome: OK, Rev: 9, Path: PathLeader}
	var w spillWriter
	first := w.appendSpill(nil, &r)
	second := w.appendSpill(nil, &r)
	words := len(r.Op) + len(r.Key) + len(r.Outcome) + len(r.Path)
	if len(second) > len(first)-words+4 {
		t.Fatalf("the repeated words were written again: %d bytes, then %d", len(first), len(second))
	}
	var file []byte
	for _, rec := range [][]byte{first, second} {
		file = append(binary.AppendUvarint(file, uint64(len(rec))), rec...)
	}
	sr := newSpillReader(bytes.NewReader(file))
	var a, b Record
	if err := sr.next(&a); err != nil {
		t.Fatal(err)
	}
	if err := sr.next(&b); err != nil || b != r {
		t.Fatalf("%v\n got %+v\nwant %+v", err, b, r)
	}
	if unsafe.StringData(a.Key) != unsafe.StringData(b.Key) {
		t.Fatal("a reference was read back as a new string")
	}
	lone := append(binary.AppendUvarint(nil, uint64(len(second))), second...)
	if err := newSpillReader(bytes.NewReader(lone)).next(&a); !errors.Is(err, errSpillDamaged) {
		t.Fatalf("a reference to no word: %v", err)
	}
}

// TestSpillReaderSurvivesDamage: a spill file with bytes changed at
// random (references to words and error texts that are not there among
// them) reads back as records or as a damaged record, never a panic.
func TestSpillReaderSurvivesDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var w spillWriter
	var file []byte
	for i := range 300 {
		r := Record{Kind: KindOp, Client: i % 4, Op: []string{OpPut, OpUpdate, OpGet}[i%3], Key: fmt.Sprint("k", i%2), Value: fmt.Sprint("v", i),
			Outcome: OK, Rev: uint64(i), Invoke: int64(i) * 1e6, Complete: int64(i)*1e6 + 5e5}
		if i%3 == 1 {
			r.Outcome, r.ErrClass = Fail, ClassConflict
			r.Error = fmt.Sprintf("nats: nats: API error: code=400 err_code=10071 description=wrong last sequence: %d: nats: key revision mismatch", i/5)
		}
		rec := w.appendSpill(nil, &r)
		file = append(binary.AppendUvarint(file, uint64(len(rec))), rec...)
	}
	for range 2000 {
		damaged := bytes.Clone(file)
		for range 1 + rng.IntN(4) {
			damaged[rng.IntN(len(damaged))] = byte(rng.IntN(256))
		}
		sr := newSpillReader(bytes.NewReader(damaged))
		var r Record
		for n := 0; n < 1000 && sr.next(&r) == nil; n++ {
		}
		sr.close()
	}
}

// BenchmarkSpillRead reads back a spill of a key's usual records: writes
// (a third refused, naming the key's revision, which several refusals in a
// row name, or all with one text, as some servers write), gets and
// deliveries.
func BenchmarkSpillRead(b *testing.B) {
	for _, named := range []bool{true, false} {
		b.Run(map[bool]string{true: "revision-named", false: "one-text"}[named], func(b *testing.B) {
			var file []byte
			var w spillWriter
			for i := range 3000 {
				var r Record
				switch i % 3 {
				case 0:
					r = Record{Kind: KindOp, Client: i % 8, Op: OpUpdate, Key: "k0003", Value: fmt.Sprintf("c%d-%d", i%8, i), ExpectRev: uint64(i), HasExpect: true,
						Outcome: Fail, Invoke: 1e9 + int64(i)*1e5, Complete: 1e9 + int64(i)*1e5 + 3e5, ErrClass: ClassConflict,
						Error: fmt.Sprintf("nats: nats: API error: code=400 err_code=10071 description=wrong last sequence: %d: nats: key revision mismatch", i/30)}
					if !named {
						r.Error = "nats: nats: API error: code=400 err_code=10164 description=wrong last sequence: nats: key revision mismatch"
					}
				case 1:
					r = Record{Kind: KindOp, Client: i % 8, Op: OpGet, Key: "k0003", Outcome: OK, Found: true, Read: fmt.Sprintf("c1-%d", i), Rev: uint64(i), Invoke: 1e9 + int64(i)*1e5, Complete: 1e9 + int64(i)*1e5 + 2e5}
				default:
					r = Record{Kind: KindWatch, Key: "k0003", Rev: uint64(i), Read: fmt.Sprintf("c2-%d", i), At: 1e9 + int64(i)*1e5}
				}
				rec := w.appendSpill(nil, &r)
				file = append(binary.AppendUvarint(file, uint64(len(rec))), rec...)
			}
			b.SetBytes(int64(len(file)))
			var r Record
			for b.Loop() {
				sr := newSpillReader(bytes.NewReader(file))
				for sr.next(&r) == nil {
				}
				sr.close()
			}
		})
	}
}
