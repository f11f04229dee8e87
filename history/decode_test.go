package history

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	gojson "github.com/goccy/go-json"
)

// Whatever decodeFlat accepts, encoding/json accepts too and decodes to
// the same record. (What it leaves goes to go-json, as before it.)
func FuzzDecodeFlat(f *testing.F) {
	plain, err := os.ReadFile("testdata/small-run.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for line := range bytes.Lines(plain) {
		f.Add(line)
	}
	for _, s := range []string{
		`{}`, ` { } `, `{"kind":"op","client":-0}`, `{"kind":"op","client":01}`, `{"rev":-1}`, `{"rev":18446744073709551615}`,
		`{"rev":18446744073709551616}`, `{"client":1e3}`, `{"client":1.0}`, `{"found":null}`, `{"Kind":"op"}`,
		`{"kind":"op","kind":"watch"}`, `{"kind":"op",}`, `{"kind":"op"} x`, `{"key":"a\"b"}`, `{"key":"\u00e9"}`,
		`{"key":"é"}`, `{"has_expect":true,"found":false}`, `{"meta":{}}`, `{"kind":"op","nope":1}`, "{\"kind\":\"op\"}\n",
		`{"invoke":9223372036854775808}`, `{"watcher":-9223372036854775808}`, `{"kind" : "op" , "rev" : 3 }`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast, std Record
		stdErr := json.Unmarshal(line, &std)
		if decodeFlat(line, &fast) {
			if stdErr != nil {
				t.Fatalf("decodeFlat took %q, which encoding/json refuses: %v", line, stdErr)
			}
			if !reflect.DeepEqual(fast, std) {
				t.Fatalf("%q:\ndecodeFlat    %+v\nencoding/json %+v", line, fast, std)
			}
		}
	})
}

// The lines a run writes are taken by decodeFlat, all but the meta, fault,
// leadership and end lines.
func TestDecodeFlatTakesWhatRunsWrite(t *testing.T) {
	f, err := os.Open("testdata/small-run.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	flat, other := 0, 0
	for s.Scan() {
		var r Record
		if decodeFlat(s.Bytes(), &r) {
			flat++
			continue
		}
		other++
		if err := json.Unmarshal(s.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Meta == nil && r.End == nil && r.Fault == nil && r.Leadership == nil {
			t.Errorf("decodeFlat gave up on a flat line: %s", s.Bytes())
		}
	}
	if flat < 100 || other > 4 {
		t.Fatalf("decodeFlat took %d lines, left %d", flat, other)
	}
}

var benchLine = []byte(`{"kind":"op","client":3,"op":"update","key":"k0003","value":"c3-12345","expect_rev":991,"has_expect":true,"outcome":"fail","invoke":123456789,"complete":123999999,"error":"nats: API error: code=400 err_code=10071 description=wrong last sequence: 5","err_class":"conflict"}`)

func BenchmarkDecodeFlat(b *testing.B) {
	for b.Loop() {
		var r Record
		if !decodeFlat(benchLine, &r) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkDecodeGoJSON(b *testing.B) {
	for b.Loop() {
		var r Record
		if err := gojson.Unmarshal(benchLine, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPlainWord holds the eight-byte test to the byte-by-byte one: every
// byte value at every place among plain bytes, then random words.
func TestPlainWord(t *testing.T) {
	plainByte := func(c byte) bool { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' }
	plain := func(w [8]byte) bool {
		for _, c := range w {
			if !plainByte(c) {
				return false
			}
		}
		return true
	}
	check := func(w [8]byte) {
		if got := plainWord(binary.LittleEndian.Uint64(w[:])); got != plain(w) {
			t.Fatalf("%q: plainWord %v", w, got)
		}
	}
	for p := range 8 {
		for v := range 256 {
			for _, fill := range []byte{'a', 0x20, 0x7e, '!', '#', '[', ']'} {
				w := [8]byte{fill, fill, fill, fill, fill, fill, fill, fill}
				w[p] = byte(v)
				check(w)
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1_000_000 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		check(w)
		for i := range w { // mostly plain, now and then not
			if rng.IntN(8) != 0 {
				w[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		check(w)
	}
}
