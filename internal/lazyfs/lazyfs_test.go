package lazyfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kvharness/kvharness/internal/testenv"
)

// mount mounts a lazyfs for one test (see testenv.FUSE where FUSE is
// missing).
func mount(t *testing.T) (*FS, string) {
	t.Helper()
	testenv.FUSE(t, Available())
	dir := t.TempDir()
	l, err := Mount(filepath.Join(dir, "mnt"), filepath.Join(dir, "disk"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return l, l.Mountpoint()
}

func write(t *testing.T, path string, flags int, off int64, data string, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(data), off); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every kind of change made after a file's last fsync is undone by a drop,
// and nothing fsynced is.
func TestDropPutsFilesBackAsLastSynced(t *testing.T) {
	l, mnt := mount(t)
	appended := filepath.Join(mnt, "appended")
	write(t, appended, os.O_CREATE|os.O_WRONLY, 0, "synced.", true)
	write(t, appended, os.O_WRONLY, 7, "lost", false)

	overwritten := filepath.Join(mnt, "overwritten")
	write(t, overwritten, os.O_CREATE|os.O_WRONLY, 0, "0123456789", true)
	write(t, overwritten, os.O_WRONLY, 3, "abcdefghij", false) // over the synced end and past it

	cut := filepath.Join(mnt, "sub", "cut")
	if err := os.Mkdir(filepath.Dir(cut), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, cut, os.O_CREATE|os.O_WRONLY, 0, "keep all of this", true)
	if err := os.Truncate(cut, 4); err != nil {
		t.Fatal(err)
	}
	write(t, cut, os.O_WRONLY, 4, "!", false)

	rewritten := filepath.Join(mnt, "rewritten")
	write(t, rewritten, os.O_CREATE|os.O_WRONLY, 0, "old contents", true)
	write(t, rewritten, os.O_WRONLY|os.O_TRUNC, 0, "new", false)

	never := filepath.Join(mnt, "never")
	write(t, never, os.O_CREATE|os.O_WRONLY, 0, "never synced", false)

	syncWrites := filepath.Join(mnt, "o_sync")
	write(t, syncWrites, os.O_CREATE|os.O_WRONLY|syscall.O_SYNC, 0, "durable at once", false)

	renamed := filepath.Join(mnt, "renamed")
	write(t, filepath.Join(mnt, "tmp"), os.O_CREATE|os.O_WRONLY, 0, "synced then renamed", true)
	if err := os.Rename(filepath.Join(mnt, "tmp"), renamed); err != nil {
		t.Fatal(err)
	}
	write(t, renamed, os.O_WRONLY, 0, "S", false)

	untouched := filepath.Join(mnt, "untouched")
	write(t, untouched, os.O_CREATE|os.O_WRONLY, 0, "all synced", true)

	loss, err := l.DropUnsynced()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		appended: "synced.", overwritten: "0123456789", cut: "keep all of this", rewritten: "old contents",
		never: "", syncWrites: "durable at once", renamed: "synced then renamed", untouched: "all synced",
	} {
		if got := content(t, path); got != want {
			t.Errorf("%s after the drop: %q, want %q", filepath.Base(path), got, want)
		}
	}
	// appended 4, overwritten 10, cut 12+1, rewritten 12+3, never 12, renamed 1.
	if loss.Files != 6 || loss.Bytes != 4+10+13+15+12+1 {
		t.Errorf("loss %+v, want 6 files, %d bytes", loss, 4+10+13+15+12+1)
	}
	// A second drop finds nothing; the files are durable as they are.
	if again, err := l.DropUnsynced(); err != nil || again != (Loss{}) {
		t.Errorf("second drop: %+v, %v", again, err)
	}
}

// What was written after a drop is lost by the next one, from the state
// the drop left, and a big append is undone whole.
func TestDropAfterDrop(t *testing.T) {
	l, mnt := mount(t)
	p := filepath.Join(mnt, "blk")
	write(t, p, os.O_CREATE|os.O_WRONLY, 0, "a", true)
	write(t, p, os.O_WRONLY, 1, "b", false)
	if _, err := l.DropUnsynced(); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 1<<20)
	write(t, p, os.O_WRONLY, 1, string(big), false)
	loss, err := l.DropUnsynced()
	if err != nil || loss.Bytes != 1<<20 {
		t.Fatalf("loss %+v, %v", loss, err)
	}
	if got := content(t, p); got != "a" {
		t.Errorf("after two drops: %q, want \"a\"", got)
	}
}

// Without FUSE, mounting says so in one line, and makes nothing.
func TestWithoutFUSE(t *testing.T) {
	defer func(d string) { fuseDevice = d }(fuseDevice)
	fuseDevice = filepath.Join(t.TempDir(), "no-fuse")
	dir := t.TempDir()
	_, err := Mount(filepath.Join(dir, "mnt"), filepath.Join(dir, "disk"))
	if err == nil {
		t.Fatal("mounted without FUSE")
	}
	testenv.OneLine(t, err)
	if !strings.Contains(err.Error(), "power-loss needs FUSE") {
		t.Errorf("error %q does not say what needs FUSE", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("made %d folders", len(entries))
	}
}

// A file changed below lazyfs (a corruption fault damaging the disk) and
// then forgotten is durable as it is: a drop does not put it back from
// before the change.
func TestForgetKeepsWhatChangedBelow(t *testing.T) {
	l, mnt := mount(t)
	path := filepath.Join(mnt, "blk")
	write(t, path, os.O_CREATE|os.O_WRONLY, 0, "synced", true)
	write(t, path, os.O_WRONLY, 0, "SY", false)
	backing := filepath.Join(l.backing, "blk")
	if err := os.WriteFile(backing, []byte("damaged!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(backing); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(filepath.Join(l.backing, "gone")); err != nil {
		t.Errorf("forgetting a file that is gone: %v", err)
	}
	if _, err := l.DropUnsynced(); err != nil {
		t.Fatal(err)
	}
	if got := content(t, path); got != "damaged!" {
		t.Errorf("after the drop: %q, want the damage kept", got)
	}
}
