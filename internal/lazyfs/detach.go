package lazyfs

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Detach lazily unmounts whatever is mounted at mountpoint: it leaves the
// folder tree at once, and the kernel drops it once nothing uses it. It is
// the way out for a mount whose server died with a killed harness (every
// access then fails with "transport endpoint is not connected") or that
// stays busy. It needs root or fusermount3 (or fusermount).
func Detach(mountpoint string) error {
	err := syscall.Unmount(mountpoint, syscall.MNT_DETACH)
	if err == nil {
		return nil
	}
	for _, tool := range []string{"fusermount3", "fusermount"} {
		if path, lookErr := exec.LookPath(tool); lookErr == nil && exec.Command(path, "-u", "-z", mountpoint).Run() == nil {
			return nil
		}
	}
	return err
}

// DetachUnder detaches every mount inside dir (a killed run's stores), so
// that removing dir removes only the backing files.
func DetachUnder(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := Detach(m); err != nil {
			return err
		}
	}
	return nil
}

// mountsUnder lists the mount points inside dir, from /proc/self/mountinfo
// (the fifth field; spaces and the like are written octal-escaped).
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil // no procfs: nothing mounted that we could know of
		}
		return nil, err
	}
	defer f.Close()
	var mounts []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if strings.HasPrefix(mp, dir+string(filepath.Separator)) {
			mounts = append(mounts, mp)
		}
	}
	return mounts, s.Err()
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
