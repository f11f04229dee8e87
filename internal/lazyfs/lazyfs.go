// Package lazyfs is a pass-through FUSE filesystem that can lose what was
// not fsynced, as a disk does when power is cut: every write goes through
// to a backing folder at once (so a killed process loses nothing, as with
// the kernel's page cache), and lazyfs remembers, per file, how large it
// was at its last fsync and the bytes that writes and truncations have
// changed below that size since. DropUnsynced puts every file back as it
// was at its last fsync. It is the approach of LazyFS (which Jepsen used),
// written on go-fuse's loopback filesystem.
//
// The model, stated once: file data is durable when fsync (or fdatasync)
// returns, or when a write returns on a file opened O_SYNC or O_DSYNC (the
// whole file's data then, as if fsynced: exact for the whole-file rewrites
// NATS opens O_SYNC, and losing less than a disk might where other handles
// wrote the same file unsynced); a file never fsynced goes back to empty.
// Metadata — creating, renaming, removing files and folders — is durable
// at once, as on a journalling filesystem that commits it before the data.
package lazyfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is one mounted lazyfs.
type FS struct {
	mountpoint, backing string
	server              *fuse.Server

	// mu orders each write with the capture of the bytes it replaces,
	// and fsyncs with both, so what is recorded as synced is what was.
	mu    sync.Mutex
	files map[uint64]*file // by the backing file's inode number
}

// file is what lazyfs knows of one backing file since its last fsync.
type file struct {
	synced int64  // its size at the last fsync
	undo   []undo // bytes below synced replaced since, oldest first
	dirty  int64  // bytes written or cut since the last fsync
}

// undo is bytes at off as they were at the last fsync.
type undo struct {
	off int64
	old []byte
}

// Loss is what DropUnsynced threw away.
type Loss struct {
	Files int   // files that had unsynced changes
	Bytes int64 // bytes written or truncated since their last fsync
}

// fuseDevice is the kernel's FUSE device (a variable for the test of a
// machine without it).
var fuseDevice = "/dev/fuse"

// Available says why FUSE cannot be mounted here (nil if it can).
func Available() error {
	f, err := os.OpenFile(fuseDevice, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("power-loss needs FUSE, and it is not available here: %v", err)
	}
	f.Close()
	return nil
}

// Mount mounts a lazyfs of backing at mountpoint (both folders are made if
// missing). Unmount undoes it.
func Mount(mountpoint, backing string) (*FS, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	for _, d := range []string{mountpoint, backing} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, err
	}
	l := &FS{mountpoint: mountpoint, backing: backing, files: map[uint64]*file{}}
	root := &gofs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *gofs.LoopbackRoot, _ *gofs.Inode, _ string, _ *syscall.Stat_t) gofs.InodeEmbedder {
		return &node{LoopbackNode: gofs.LoopbackNode{RootData: r}, fs: l}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	// No caching of names or attributes in the kernel: after a drop, a
	// restarted server must see the sizes the backing files have now.
	zero := time.Duration(0)
	server, err := gofs.Mount(mountpoint, root.RootNode, &gofs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName:      "kvharness-lazyfs",
			Name:        "lazyfs",
			DirectMount: true, // as root, mount(2) itself; fusermount otherwise
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mounting a lazy store at %s: %w", mountpoint, err)
	}
	l.server = server
	return l, nil
}

// Unmount unmounts the filesystem (retrying while it is busy, up to 5 s,
// then detaching it lazily, so that nothing removing its folder reaches
// the backing files through it). The backing folder keeps the files.
func (l *FS) Unmount() error {
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = l.server.Unmount(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		if detachErr := Detach(l.mountpoint); detachErr != nil {
			return fmt.Errorf("unmounting %s: %w (detaching: %v)", l.mountpoint, err, detachErr)
		}
		return nil // its server ends when the kernel lets go of it
	}
	l.server.Wait()
	return nil
}

// Mountpoint is where the filesystem is mounted.
func (l *FS) Mountpoint() string { return l.mountpoint }

// DropUnsynced puts every file back as it was at its last fsync, as power
// loss would, and says what was lost. Nothing may have the files open (the
// process using them is dead): lazyfs changes the backing files directly.
func (l *FS) DropUnsynced() (Loss, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var loss Loss
	err := filepath.WalkDir(l.backing, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := l.files[inode(info)]
		if st == nil || (st.dirty == 0 && len(st.undo) == 0 && info.Size() == st.synced) {
			return nil
		}
		loss.Files++
		loss.Bytes += st.dirty
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		for i := len(st.undo) - 1; i >= 0; i-- {
			if _, err := f.WriteAt(st.undo[i].old, st.undo[i].off); err != nil {
				return err
			}
		}
		if err := f.Truncate(st.synced); err != nil {
			return err
		}
		delete(l.files, inode(info)) // put back: durable as it is now
		return nil
	})
	if err != nil {
		// The files not reached keep their records: a second drop can
		// still put them back.
		return loss, err
	}
	// What is on disk now is what survived: it is the new synced state
	// (records of files removed since are forgotten with the rest).
	l.files = map[uint64]*file{}
	return loss, nil
}

// Forget makes the backing file at path durable as it is now: something
// changed it below lazyfs (a fault damaging the disk), so what lazyfs
// recorded of it no longer describes it. A file that is gone is no error.
func (l *FS) Forget(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.files, inode(info))
	return nil
}

func inode(info fs.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// state is f's record, begun at its current size when lazyfs has none (a
// file that was there before, or since a drop, is durable as found).
// Called with mu held.
func (l *FS) state(f *os.File) (*file, int64, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	ino := inode(info)
	st := l.files[ino]
	if st == nil {
		st = &file{synced: info.Size()}
		l.files[ino] = st
	}
	return st, info.Size(), nil
}

// replacing records the bytes of [off, end) that are below the synced size
// and still in the file (those beyond its size now were cut by a
// truncation, which recorded them). Called with mu held.
func (l *FS) replacing(f *os.File, off, end int64) error {
	st, size, err := l.state(f)
	if err != nil {
		return err
	}
	st.dirty += end - off
	if hi := min(end, size, st.synced); hi > off {
		old := make([]byte, hi-off)
		if _, err := f.ReadAt(old, off); err != nil {
			return err
		}
		st.undo = append(st.undo, undo{off: off, old: old})
	}
	return nil
}

// synced records that f's data is durable as it is now. Called with mu held.
func (l *FS) synced(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	l.files[inode(info)] = &file{synced: info.Size()}
	return nil
}

// node is a loopback node whose files are handles of lazyfs, and whose
// truncations are recorded.
type node struct {
	gofs.LoopbackNode
	fs *FS
}

var (
	_ gofs.NodeOpener    = (*node)(nil)
	_ gofs.NodeCreater   = (*node)(nil)
	_ gofs.NodeSetattrer = (*node)(nil)
)

func (n *node) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(n.RootData.RootNode.EmbeddedInode()))
}

func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	flags &^= syscall.O_APPEND | fuse.FMODE_EXEC
	p := n.backingPath()
	if flags&syscall.O_TRUNC != 0 {
		if errno := n.truncating(p, 0); errno != 0 {
			return nil, 0, errno
		}
	}
	f, err := os.OpenFile(p, readable(flags), 0)
	if err != nil {
		return nil, 0, gofs.ToErrno(err)
	}
	return n.fs.handle(f, flags), 0, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ch, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	// The loopback's handle owns the file; lazyfs opens its own.
	if r, ok := fh.(gofs.FileReleaser); ok {
		r.Release(ctx)
	}
	f, err := os.OpenFile(filepath.Join(n.backingPath(), name), readable(flags&^(syscall.O_APPEND|syscall.O_CREAT|syscall.O_EXCL|syscall.O_TRUNC)), 0)
	if err != nil {
		return nil, nil, 0, gofs.ToErrno(err)
	}
	// A new file is empty and nothing of it is synced; a record left
	// under its inode number is of a removed file whose number was reused.
	n.fs.mu.Lock()
	info, err := f.Stat()
	if err == nil && info.Size() == 0 {
		n.fs.files[inode(info)] = &file{}
	}
	n.fs.mu.Unlock()
	if err != nil {
		f.Close()
		return nil, nil, 0, gofs.ToErrno(err)
	}
	return ch, n.fs.handle(f, flags), fuseFlags, 0
}

func (n *node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		if errno := n.truncating(n.backingPath(), int64(size)); errno != 0 {
			return errno
		}
	}
	return n.LoopbackNode.Setattr(ctx, fh, in, out)
}

// readable turns write-only into read-write: lazyfs reads the bytes a
// write replaces through the same descriptor.
func readable(flags uint32) int {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		flags = flags&^syscall.O_ACCMODE | syscall.O_RDWR
	}
	return int(flags)
}

// truncating records what cutting the file at p to size takes away.
func (n *node) truncating(p string, size int64) syscall.Errno {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		return gofs.ToErrno(err)
	}
	defer f.Close()
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	info, err := f.Stat()
	if err != nil {
		return gofs.ToErrno(err)
	}
	if info.Size() <= size {
		return 0
	}
	return gofs.ToErrno(n.fs.replacing(f, size, info.Size()))
}

// handle is an open file of lazyfs: reads and the rest go to the
// loopback's handle, writes and fsyncs are recorded.
type handle struct {
	*gofs.LoopbackFile
	f    *os.File
	fs   *FS
	sync bool // opened O_SYNC or O_DSYNC: each write is durable when it returns
}

var (
	_ gofs.FileWriter   = (*handle)(nil)
	_ gofs.FileWritever = (*handle)(nil)
	_ gofs.FileFsyncer  = (*handle)(nil)
)

func (l *FS) handle(f *os.File, flags uint32) *handle {
	return &handle{LoopbackFile: gofs.NewLoopbackFileFromOS(f), f: f, fs: l, sync: flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0}
}

// PassthroughFd refuses the kernel's passthrough: every write must come
// through lazyfs.
func (h *handle) PassthroughFd() (int, bool) { return 0, false }

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.fs.replacing(h.f, off, off+int64(len(data))); err != nil {
		return 0, gofs.ToErrno(err)
	}
	n, err := h.f.WriteAt(data, off)
	if err == nil && h.sync {
		err = h.fs.synced(h.f)
	}
	return uint32(n), gofs.ToErrno(err)
}

func (h *handle) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	var all []byte
	for _, d := range data {
		all = append(all, d...)
	}
	return h.Write(ctx, all, off)
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.f.Sync(); err != nil {
		return gofs.ToErrno(err)
	}
	return gofs.ToErrno(h.fs.synced(h.f))
}
