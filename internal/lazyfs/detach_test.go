package lazyfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kvharness/kvharness/internal/testenv"
)

// The child half of TestDetachUnderFreesADeadMount: it mounts a lazyfs
// and waits to be killed, as a harness killed mid-run does.
func TestMain(m *testing.M) {
	if dir := os.Getenv("LAZYFS_TEST_MOUNT_AND_WAIT"); dir != "" {
		if _, err := Mount(filepath.Join(dir, "n1.mnt"), filepath.Join(dir, "n1")); err != nil {
			os.Exit(3)
		}
		os.WriteFile(filepath.Join(dir, "mounted"), nil, 0o600)
		time.Sleep(time.Minute)
		os.Exit(4)
	}
	os.Exit(m.Run())
}

// A mount whose server died (the harness was SIGKILLed) blocks removing
// the run's store until it is detached; DetachUnder frees it.
func TestDetachUnderFreesADeadMount(t *testing.T) {
	testenv.FUSE(t, Available())
	dir := t.TempDir()
	store := filepath.Join(dir, "kvharness-cluster-1")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "LAZYFS_TEST_MOUNT_AND_WAIT="+store)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(store, "mounted")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			child.Wait()
			t.Fatal("the child did not mount")
		}
	}
	child.Process.Kill()
	child.Wait()
	t.Cleanup(func() { Detach(filepath.Join(store, "n1.mnt")) }) // if the test fails below
	if _, err := os.Stat(filepath.Join(store, "n1.mnt")); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("the dead mount answers %v, want ENOTCONN", err)
	}
	if mounts, _ := mountsUnder(dir); len(mounts) != 1 {
		t.Fatalf("mounts under the store: %q", mounts)
	}
	if err := DetachUnder(dir); err != nil {
		t.Fatal(err)
	}
	if mounts, _ := mountsUnder(dir); len(mounts) != 0 {
		t.Fatalf("still mounted: %q", mounts)
	}
	if err := os.RemoveAll(store); err != nil {
		t.Fatalf("removing the store after the detach: %v", err)
	}
}

// mountinfo writes spaces and the like in mount points as octal escapes.
func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{`/a/b`: "/a/b", `/a\040b`: "/a b", `/tab\011`: "/tab\t", `/x\9`: `/x\9`} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}
