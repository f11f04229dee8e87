package history

import (
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
		key, ok := d.str()
		if !ok || !d.byte(':') {
			return false
		}
		d.space()
		if !d.field(key, r) {
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
	for j := start; j < len(d.b); j++ {
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

// integer reads a JSON integer: an optional minus, then 0 or a digit
// string without a leading zero. Fractions and exponents, which
// encoding/json refuses for an integer field, are left to it.
func (d *flatDecoder) integer() ([]byte, bool) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || (n > 1 && d.b[digits] == '0') {
		return nil, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return nil, false
		}
	}
	return d.b[start:d.i], true
}

func (d *flatDecoder) int64(bits int) (int64, bool) {
	s, ok := d.integer()
	if !ok {
		return 0, false
	}
	if len(s) <= 18 { // at most 18 digits: no overflow at 64 bits
		neg := s[0] == '-'
		if neg {
			s = s[1:]
		}
		v := int64(digitsValue(s))
		if neg {
			v = -v
		}
		return v, bits == 64 || v == int64(int32(v))
	}
	v, err := strconv.ParseInt(string(s), 10, bits)
	return v, err == nil
}

func (d *flatDecoder) uint64() (uint64, bool) {
	s, ok := d.integer()
	if !ok || s[0] == '-' {
		return 0, false
	}
	if len(s) <= 19 { // at most 19 digits: no overflow
		return digitsValue(s), true
	}
	v, err := strconv.ParseUint(string(s), 10, 64)
	return v, err == nil
}

// digitsValue is the value of a string of decimal digits short enough not
// to overflow (the times and revisions on every line: strconv's general
// parse was a tenth of reading a history).
func digitsValue(s []byte) uint64 {
	var v uint64
	for _, c := range s {
		v = v*10 + uint64(c-'0')
	}
	return v
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

// field decodes the value of one field of r named key.
func (d *flatDecoder) field(key []byte, r *Record) bool {
	var ok bool
	switch string(key) {
	case "kind":
		var s string
		s, ok = d.string()
		r.Kind = Kind(s)
	case "client":
		var v int64
		v, ok = d.int64(strconv.IntSize)
		r.Client = int(v)
	case "op":
		r.Op, ok = d.string()
	case "key":
		r.Key, ok = d.unique()
	case "value":
		r.Value, ok = d.unique()
	case "expect_rev":
		r.ExpectRev, ok = d.uint64()
	case "has_expect":
		r.HasExpect, ok = d.bool()
	case "outcome":
		var s string
		s, ok = d.string()
		r.Outcome = Outcome(s)
	case "rev":
		r.Rev, ok = d.uint64()
	case "found":
		r.Found, ok = d.bool()
	case "read":
		r.Read, ok = d.unique()
	case "marker":
		r.Marker, ok = d.string()
	case "intended":
		r.Intended, ok = d.int64(64)
	case "invoke":
		r.Invoke, ok = d.int64(64)
	case "complete":
		r.Complete, ok = d.int64(64)
	case "error":
		r.Error, ok = d.unique()
	case "err_class":
		r.ErrClass, ok = d.string()
	case "ttl":
		r.TTL, ok = d.int64(64)
	case "path":
		r.Path, ok = d.string()
	case "count":
		r.Count, ok = d.int64(64)
	case "watcher":
		var v int64
		v, ok = d.int64(strconv.IntSize)
		r.Watcher = int(v)
	case "at":
		r.At, ok = d.int64(64)
	case "node":
		r.Node, ok = d.string()
	}
	return ok
}
