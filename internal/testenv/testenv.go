// Package testenv finds, for tests, the nats-server releases `make test`
// builds into .tools/ and names in the environment.
package testenv

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
)

// The environment variables `make test` sets: the current nats-server
// release and an older one.
const (
	NATSServer    = "KVHARNESS_NATS_SERVER"
	NATSServerOld = "KVHARNESS_NATS_SERVER_OLD"
)

// Releases lists both, current first.
var Releases = []string{NATSServer, NATSServerOld}

// ServerBin returns the binary env names. Without it the test is skipped —
// or fails under `make test` (KVHARNESS_REQUIRE_EXTERNAL), so a suite that
// should have run these tests never passes empty.
func ServerBin(t testing.TB, env string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		if os.Getenv("KVHARNESS_REQUIRE_EXTERNAL") != "" {
			t.Fatalf("%s not set (run `make test`)", env)
		}
		t.Skipf("%s not set; `make test` builds nats-server releases and sets it", env)
	}
	return bin
}

// SyncBuffer is a process's or a goroutine's output, read while it writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// OneLine fails the test unless err reads as one clear line: what the CLI
// prints for bad input (the fuzz tests hold every rejection to it).
func OneLine(t testing.TB, err error) {
	t.Helper()
	if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("not one clear line: %q", msg)
	}
}

// FUSE skips the test where /dev/fuse cannot be opened (err says why), or
// fails it under CI (KVHARNESS_REQUIRE_FUSE, which .ci/run sets), so the
// power-loss tests never pass empty there.
func FUSE(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("KVHARNESS_REQUIRE_FUSE") != "" {
		t.Fatal(err)
	}
	t.Skip(err)
}
