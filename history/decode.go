package history

import (
	"encoding/binary"
	"strconv"
)

// decodeFlat parses a line as appendRecord writes the frequent kinds: one
// object of string, integer and boolean fields. It sets only the fields the
// line has, as encoding/json does, and reports false — having perhaps set
// some — on anything else: a nested object (meta, end, fault, leadership),
// a string with an escape or a byte outside printable ASCII, a number that
// is not a plain integer of the field's range, null, a key it does not
// know by its exact name, or a syntax error. The caller then decodes the
// line again with the general decoder, which decides. Reading a long
// history is mostly parsing these lines; reflection-driven decoders spend
// most of that looking field names up.
//
// FuzzDecodeFlat holds it to encoding/json: whatever it accepts,
// encoding/json accepts and decodes to the same record.
func decodeFlat(line []byte, r *Record) bool {
	d := flatDecoder{b: line}
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return d.end()
	}
	for {
		f, ok := d.name()
		if !ok || !d.byte(':') {
			return false
		}
		d.space()
		if !d.field(f, r) {
			return false
		}
		if d.byte(',') {
			continue
		}
		if d.byte('}') {
			return d.end()
		}
		return false
	}
}

type flatDecoder struct {
	b []byte
	i int
}

func (d *flatDecoder) space() {
	if d.i < len(d.b) && d.b[d.i] > ' ' { // the encoder writes none
		return
	}
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte skips white space and then c, if it is there.
func (d *flatDecoder) byte(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end: nothing but white space may follow the object.
func (d *flatDecoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// str reads a string of printable ASCII without escapes (what the harness
// writes for keys, value ids and names); anything else is left to the
// general decoder.
func (d *flatDecoder) str() ([]byte, bool) {
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	j := start
	// Eight bytes at a time up to the word that holds the closing quote
	// (or anything else that ends a plain string), then byte by byte: the
	// strings are most of a line, and one byte at a time was half of
	// parsing it.
	for ; j+8 <= len(d.b) && plainWord(binary.LittleEndian.Uint64(d.b[j:])); j += 8 {
	}
	for ; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], true
		case c < 0x20 || c == '\\' || c >= 0x7f:
			return nil, false
		}
	}
	return nil, false
}

// plainWord: none of the eight bytes of x is a quote, a backslash, a
// control byte or outside printable ASCII (bitwise tests of all eight at
// once, each nonzero in a byte's top bit exactly when some byte matches).
func plainWord(x uint64) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	zeroIn := func(v uint64) uint64 { return (v - ones) &^ v }
	below := (x - ones*0x20) &^ x // some byte < 0x20
	above := (x + ones) | x       // some byte >= 0x7f
	return (zeroIn(quote)|zeroIn(backslash)|below|above)&tops == 0
}

// integer reads a JSON integer: an optional minus, then 0 or a digit
// string without a leading zero. Fractions and exponents, which
// encoding/json refuses for an integer field, are left to it.
// Its digits' value comes with it, read on the way (the times and
// revisions on every line: strconv's general parse was a tenth of reading
// a history), right while there are at most 19 digits.
func (d *flatDecoder) integer() (s []byte, digits uint64, ok bool) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	first := d.i
	for ; d.i < len(d.b); d.i++ {
		c := d.b[d.i] - '0'
		if c > 9 {
			break
		}
		digits = digits*10 + uint64(c)
	}
	n := d.i - first
	if n == 0 || (n > 1 && d.b[first] == '0') {
		return nil, 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return nil, 0, false
		}
	}
	return d.b[start:d.i], digits, true
}

func (d *flatDecoder) int64(bits int) (int64, bool) {
	s, digits, ok := d.integer()
	if !ok {
		return 0, false
	}
	if len(s) <= 18 { // at most 18 digits: no overflow at 64 bits
		neg := s[0] == '-'
		v := int64(digits)
		if neg {
			v = -v
		}
		return v, bits == 64 || v == int64(int32(v))
	}
	v, err := strconv.ParseInt(string(s), 10, bits)
	return v, err == nil
}

func (d *flatDecoder) uint64() (uint64, bool) {
	s, digits, ok := d.integer()
	if !ok || s[0] == '-' {
		return 0, false
	}
	if len(s) <= 19 { // at most 19 digits: no overflow
		return digits, true
	}
	v, err := strconv.ParseUint(string(s), 10, 64)
	return v, err == nil
}

func (d *flatDecoder) bool() (bool, bool) {
	switch {
	case len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
		return true, true
	case len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
		return false, true
	}
	return false, false
}

// string reads a string field's value; the names the harness writes over
// and over come back as the package's constants instead of new strings.
func (d *flatDecoder) string() (string, bool) {
	s, ok := d.str()
	if !ok {
		return "", false
	}
	return interned(s), true
}

// unique reads a string field whose values are seldom repeated (values,
// keys, errors): looking them up among the common names would only cost.
func (d *flatDecoder) unique() (string, bool) {
	s, ok := d.str()
	return string(s), ok
}

// interned is s as one of the strings most lines repeat, else a new
// string: a switch, which compares without hashing (a map of them was a
// tenth of parsing a line).
func interned(s []byte) string {
	switch string(s) {
	case string(KindOp):
		return string(KindOp)
	case string(KindInvoke):
		return string(KindInvoke)
	case string(KindWatch):
		return string(KindWatch)
	case string(KindFinal):
		return string(KindFinal)
	case string(KindStored):
		return string(KindStored)
	case string(KindReplica):
		return string(KindReplica)
	case string(KindHistory):
		return string(KindHistory)
	case OpPut:
		return OpPut
	case OpUpdate:
		return OpUpdate
	case OpCreate:
		return OpCreate
	case OpDelete:
		return OpDelete
	case OpPurge: // and MarkerPurge
		return OpPurge
	case OpGet:
		return OpGet
	case string(OK):
		return string(OK)
	case string(Fail):
		return string(Fail)
	case string(Unknown):
		return string(Unknown)
	case MarkerDel:
		return MarkerDel
	case PathDirect:
		return PathDirect
	case PathLeader:
		return PathLeader
	case ClassConflict:
		return ClassConflict
	case ClassBusy:
		return ClassBusy
	case ClassTimeout:
		return ClassTimeout
	}
	return string(s)
}

// The field names decodeFlat knows, as appendRecord writes them.
const (
	nameKind = iota
	nameClient
	nameOp
	nameKey
	nameValue
	nameExpectRev
	nameHasExpect
	nameOutcome
	nameRev
	nameFound
	nameRead
	nameMarker
	nameIntended
	nameInvoke
	nameComplete
	nameError
	nameErrClass
	nameTtl
	namePath
	nameCount
	nameWatcher
	nameAt
	nameNode
	names
)

// quotedNames: each name and the quote that closes it, as a line holds it.
var quotedNames = func() (q [names]string) {
	for i, n := range [names]string{"kind", "client", "op", "key", "value", "expect_rev", "has_expect", "outcome", "rev", "found", "read", "marker", "intended", "invoke", "complete", "error", "err_class", "ttl", "path", "count", "watcher", "at", "node"} {
		q[i] = n + `"`
	}
	return q
}()

// namesByFirst lists the names that begin with each byte.
var namesByFirst = func() (by [256][]uint8) {
	for i, n := range quotedNames {
		by[n[0]] = append(by[n[0]], uint8(i))
	}
	return by
}()

// nameWords: each quoted name as two little-endian words and the masks of
// the bytes it takes in them, to be compared with a line's sixteen bytes
// in four operations.
var nameWords = func() (w [names]struct{ lo, hi, loMask, hiMask uint64 }) {
	for i, q := range quotedNames {
		var b, m [16]byte
		copy(b[:], q)
		for j := range q {
			m[j] = 0xff
		}
		w[i].lo, w[i].hi = binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
		w[i].loMask, w[i].hiMask = binary.LittleEndian.Uint64(m[:8]), binary.LittleEndian.Uint64(m[8:])
	}
	return w
}()

// name reads a field's name, one of those it knows, matched whole with the
// quote that closes it: the names are a third of a line, and reading them
// byte by byte, then looking them up, was a third of parsing it. Any other
// name (one with an escape, another case) is left to the general decoder,
// which decides.
func (d *flatDecoder) name() (int, bool) {
	d.space()
	if d.i+1 >= len(d.b) || d.b[d.i] != '"' {
		return 0, false
	}
	rest := d.b[d.i+1:]
	if len(rest) >= 16 { // always but at the end of a line: a value follows
		lo, hi := binary.LittleEndian.Uint64(rest), binary.LittleEndian.Uint64(rest[8:])
		for _, f := range namesByFirst[rest[0]] {
			if w := &nameWords[f]; lo&w.loMask == w.lo && hi&w.hiMask == w.hi {
				d.i += 1 + len(quotedNames[f])
				return int(f), true
			}
		}
		return 0, false
	}
	for _, f := range namesByFirst[rest[0]] {
		if q := quotedNames[f]; len(rest) >= len(q) && string(rest[:len(q)]) == q {
			d.i += 1 + len(q)
			return int(f), true
		}
	}
	return 0, false
}

// field decodes the value of field f of r.
func (d *flatDecoder) field(f int, r *Record) bool {
	var ok bool
	switch f {
	case nameKind:
		var s string
		s, ok = d.string()
		r.Kind = Kind(s)
	case nameClient:
		var v int64
		v, ok = d.int64(strconv.IntSize)
		r.Client = int(v)
	case nameOp:
		r.Op, ok = d.string()
	case nameKey:
		r.Key, ok = d.unique()
	case nameValue:
		r.Value, ok = d.unique()
	case nameExpectRev:
		r.ExpectRev, ok = d.uint64()
	case nameHasExpect:
		r.HasExpect, ok = d.bool()
	case nameOutcome:
		var s string
		s, ok = d.string()
		r.Outcome = Outcome(s)
	case nameRev:
		r.Rev, ok = d.uint64()
	case nameFound:
		r.Found, ok = d.bool()
	case nameRead:
		r.Read, ok = d.unique()
	case nameMarker:
		r.Marker, ok = d.string()
	case nameIntended:
		r.Intended, ok = d.int64(64)
	case nameInvoke:
		r.Invoke, ok = d.int64(64)
	case nameComplete:
		r.Complete, ok = d.int64(64)
	case nameError:
		r.Error, ok = d.unique()
	case nameErrClass:
		r.ErrClass, ok = d.string()
	case nameTtl:
		r.TTL, ok = d.int64(64)
	case namePath:
		r.Path, ok = d.string()
	case nameCount:
		r.Count, ok = d.int64(64)
	case nameWatcher:
		var v int64
		v, ok = d.int64(strconv.IntSize)
		r.Watcher = int(v)
	case nameAt:
		r.At, ok = d.int64(64)
	case nameNode:
		r.Node, ok = d.string()
	}
	return ok
}
