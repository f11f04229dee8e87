// Package secrets keeps credentials out of everything kvharness prints or
// writes. kvharness runs in CI with production-like credentials, and CI
// keeps stdout, stderr and the results folder: a token in a server URL, a
// password in a failed connection's error, must never reach them.
//
// Two layers. At the source, URLs are redacted wherever they are turned
// into text (URL, URLs). As a backstop, every secret the process was given
// (a flag's value, a URL's password or token, an nkey seed) is registered,
// and the writers of stdout, stderr and the result files scrub it from
// whatever text reaches them (Scrub, Writer), whichever library wrote it.
package secrets

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a secret.
const Mask = "[REDACTED]"

var (
	mu sync.RWMutex
	// known: the registered secrets, longest first, so a secret that
	// contains another is masked whole.
	known []string
)

// Register adds secrets to be scrubbed from all output. Empty strings are
// ignored; short ones are kept too: garbled output is better than a leak.
func Register(values ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, v := range values {
		if v == "" || v == Mask || slices.Contains(known, v) {
			continue
		}
		known = append(known, v)
		// The forms a secret takes when a library quotes or escapes it.
		for _, form := range []string{url.QueryEscape(v), url.PathEscape(v), url.UserPassword("x", v).String()[2:]} {
			if form != v && !slices.Contains(known, form) {
				known = append(known, form)
			}
		}
	}
	sort.Slice(known, func(i, j int) bool { return len(known[i]) > len(known[j]) })
}

// longest is the longest registered secret's length (at most 4 KiB: a
// secret is a token, not a document).
func longest() int {
	mu.RLock()
	defer mu.RUnlock()
	if len(known) == 0 {
		return 0
	}
	return min(len(known[0]), 4<<10)
}

// Scrub masks every registered secret in s.
func Scrub(s string) string {
	mu.RLock()
	defer mu.RUnlock()
	for _, k := range known {
		if strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, Mask)
		}
	}
	return s
}

// ScrubBytes is Scrub for a file's contents; b itself is returned when it
// holds no secret.
func ScrubBytes(b []byte) []byte {
	mu.RLock()
	defer mu.RUnlock()
	for _, k := range known {
		if bytes.Contains(b, []byte(k)) {
			b = bytes.ReplaceAll(b, []byte(k), []byte(Mask))
		}
	}
	return b
}

// userinfo matches the credentials part of a URL inside any text
// (scheme://user:password@ or scheme://token@), for text URL cannot parse.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^@/\s,]*@`)

// URL is u without its credentials: nats://user:password@h becomes
// nats://user:[REDACTED]@h, nats://token@h becomes nats://[REDACTED]@h
// (NATS reads a user name without a password as a token). The secrets it
// removes are registered, so an error that quotes the URL is scrubbed too.
func URL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return userinfo.ReplaceAllString(u, "${1}"+Mask+"@")
	}
	if pw, ok := p.User.Password(); ok {
		Register(pw)
		return strings.Replace(u, p.User.String(), url.User(p.User.Username()).String()+":"+Mask, 1)
	}
	Register(p.User.Username())
	return strings.Replace(u, p.User.String(), Mask, 1)
}

// RegisterURLsIn registers the credentials of every URL in text (a flag's
// value, a list of URLs).
func RegisterURLsIn(text string) {
	for _, m := range userinfo.FindAllStringSubmatchIndex(text, -1) {
		u := text[m[0]:]
		if end := strings.IndexAny(u[m[3]-m[0]:], "/\t\n ,"); end >= 0 {
			u = u[:m[3]-m[0]+end]
		}
		URL(u)
	}
}

// WithoutCredentials is u with no credentials at all (what another process
// is given: it holds its own).
func WithoutCredentials(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return userinfo.ReplaceAllString(u, "${1}")
	}
	p.User = nil
	return p.String()
}

// URLs is URL for each of us.
func URLs(us []string) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = URL(u)
	}
	return out
}

// RegisterSeedFile registers the nkey seeds in an nkey seed or credentials
// file (lines of "S" followed by the key type, as nkeys encodes them), so
// an error that quoted one could not show it. A file that cannot be read is
// left to the connection, which says so.
func RegisterSeedFile(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= 50 && line[0] == 'S' && !strings.ContainsAny(line, " -") {
			Register(line)
		}
	}
}

// Writer scrubs what is written through it, a line at a time (a secret
// split across two writes is still caught): text is held until a newline
// or a carriage return (a progress line), or until Flush.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
	buf []byte
}

// NewWriter scrubs everything written to out.
func NewWriter(out io.Writer) *Writer { return &Writer{out: out} }

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	end := bytes.LastIndexAny(w.buf, "\n\r")
	if end < 0 {
		if len(w.buf) < 64<<10 {
			return len(p), nil
		}
		// A line this long goes out in part; the tail that could begin a
		// secret stays for the next write.
		end = len(w.buf) - 1 - longest()
	}
	if _, err := w.out.Write(scrubText(w.buf[:end+1])); err != nil {
		return 0, err
	}
	w.buf = append(w.buf[:0], w.buf[end+1:]...)
	return len(p), nil
}

// scrubText masks the registered secrets and the credentials of any URL
// in text printed for people: a URL from a scenario file that failed to
// load is printed before it could be registered.
func scrubText(b []byte) []byte {
	b = ScrubBytes(b)
	if bytes.Contains(b, []byte("://")) {
		b = userinfo.ReplaceAll(b, []byte("${1}"+Mask+"@"))
	}
	return b
}

// Flush writes what is held.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(scrubText(w.buf))
	w.buf = w.buf[:0]
	return err
}
