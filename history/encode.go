package history

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendRecord appends r as one JSON line, the same object encoding/json
// would produce. Recording sits on every operation's path, and reflection
// costs the server CPU on a shared machine, so the frequent kinds are
// written by hand; meta and end lines, one each per run, go through
// encoding/json.
func appendRecord(b []byte, r *Record) []byte {
	if r.Meta != nil || r.End != nil || r.Fault != nil || r.Leadership != nil || r.Node != "" {
		j, err := json.Marshal(r)
		if err != nil {
			panic(err) // plain structs of strings and numbers always marshal
		}
		return append(append(b, j...), '\n')
	}
	b = append(b, `{"kind":`...)
	b = appendString(b, string(r.Kind))
	if r.Client != 0 {
		b = appendIntField(b, "client", int64(r.Client))
	}
	b = appendStringField(b, "op", r.Op)
	b = appendStringField(b, "key", r.Key)
	b = appendStringField(b, "value", r.Value)
	if r.ExpectRev != 0 {
		b = appendUintField(b, "expect_rev", r.ExpectRev)
	}
	if r.HasExpect {
		b = append(b, `,"has_expect":true`...)
	}
	b = appendStringField(b, "outcome", string(r.Outcome))
	if r.Rev != 0 {
		b = appendUintField(b, "rev", r.Rev)
	}
	if r.Found {
		b = append(b, `,"found":true`...)
	}
	b = appendStringField(b, "read", r.Read)
	b = appendStringField(b, "marker", r.Marker)
	if r.Intended != 0 {
		b = appendIntField(b, "intended", r.Intended)
	}
	if r.Invoke != 0 {
		b = appendIntField(b, "invoke", r.Invoke)
	}
	if r.Complete != 0 {
		b = appendIntField(b, "complete", r.Complete)
	}
	b = appendStringField(b, "error", r.Error)
	b = appendStringField(b, "err_class", r.ErrClass)
	if r.TTL != 0 {
		b = appendIntField(b, "ttl", r.TTL)
	}
	b = appendStringField(b, "path", r.Path)
	if r.Count != 0 {
		b = appendIntField(b, "count", r.Count)
	}
	if r.Watcher != 0 {
		b = appendIntField(b, "watcher", int64(r.Watcher))
	}
	if r.At != 0 {
		b = appendIntField(b, "at", r.At)
	}
	return append(b, '}', '\n')
}

func appendStringField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendIntField(b []byte, name string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func appendUintField(b []byte, name string, v uint64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendUint(b, v, 10)
}

// appendString quotes s for JSON. Plain printable ASCII — every key and
// value id the harness writes — is copied; anything else (error texts,
// foreign values) goes through encoding/json's escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			j, _ := json.Marshal(s)
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
