package chaos

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeStore lays out a stream's files the way nats-server's file store
// does: <store>/jetstream/<account>/streams/<stream>/msgs/{N.blk,index.db}.
func fakeStore(t *testing.T, stream string) (store string, files map[string][]byte) {
	t.Helper()
	store = t.TempDir()
	dir := filepath.Join(store, "jetstream", "$G", "streams", stream)
	files = map[string][]byte{
		filepath.Join(dir, "meta.inf"):                                               []byte(`{"name":"` + stream + `"}`),
		filepath.Join(dir, "msgs", "1.blk"):                                          bytes.Repeat([]byte("message-block-one "), 200),
		filepath.Join(dir, "msgs", "2.blk"):                                          bytes.Repeat([]byte("message-block-two "), 200),
		filepath.Join(dir, "msgs", "index.db"):                                       bytes.Repeat([]byte{0xab}, 300),
		filepath.Join(store, "jetstream", "$G", "streams", "OTHER", "msgs", "1.blk"): []byte("not ours"),
	}
	for path, data := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return store, files
}

// Every corruption changes bytes on disk, of the named stream only, and
// says which file it changed.
func TestCorruptStoreChangesBytesOnDisk(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(0); seed < 30; seed++ {
		store, files := fakeStore(t, "KV_b")
		what, damaged, err := corruptStore(store, "KV_b", rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		for path, before := range files {
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				changed++
				if strings.Contains(path, "OTHER") {
					t.Fatalf("seed %d: corrupted another stream's file %s", seed, path)
				}
				if !strings.Contains(what, filepath.Base(path)) || damaged != path {
					t.Errorf("seed %d: changed %s but said %q, %s", seed, path, what, damaged)
				}
			}
		}
		if changed != 1 {
			t.Fatalf("seed %d: %d files changed (%q), want 1", seed, changed, what)
		}
		seen[strings.Fields(what)[0]] = true
	}
	for _, action := range []string{"flipped", "truncated"} {
		if !seen[action] {
			t.Errorf("30 seeds never %s a file", action)
		}
	}
}

func TestCorruptStoreWithoutTheStreamDoesNothing(t *testing.T) {
	store, _ := fakeStore(t, "KV_b")
	what, _, err := corruptStore(store, "KV_absent", rand.New(rand.NewPCG(1, 1)))
	if err != nil || what != "" {
		t.Fatalf("%q, %v", what, err)
	}
}
