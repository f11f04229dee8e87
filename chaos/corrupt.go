package chaos

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// corruptStore damages one file of stream's replica in a stopped node's
// store: it flips bits in a message block, truncates the last block (a
// torn write), or flips bits in the stream's index (index.db). It says what
// it did and which file it damaged; nothing to damage is not an error (the
// node may not host the stream).
func corruptStore(storeDir, stream string, rng *rand.Rand) (what, path string, err error) {
	var streamDir string
	err = filepath.WalkDir(storeDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a store half-written by a crash: walk what is there
		}
		if d.IsDir() && d.Name() == stream && filepath.Base(filepath.Dir(path)) == "streams" {
			streamDir = path
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	if streamDir == "" {
		return "", "", nil
	}
	blocks, _ := filepath.Glob(filepath.Join(streamDir, "msgs", "*.blk"))
	slices.Sort(blocks)
	index := filepath.Join(streamDir, "msgs", "index.db")
	actions := []string{}
	if len(blocks) > 0 {
		actions = append(actions, "flip", "truncate")
	}
	if _, err := os.Stat(index); err == nil {
		actions = append(actions, "index")
	}
	if len(actions) == 0 {
		return "", "", nil
	}
	switch actions[rng.IntN(len(actions))] {
	case "flip":
		path = blocks[rng.IntN(len(blocks))]
		what, err = flipBits(path, streamDir, rng)
	case "truncate":
		path = blocks[len(blocks)-1]
		what, err = truncateTail(path, streamDir, rng)
	default:
		path = index
		what, err = flipBits(path, streamDir, rng)
	}
	return what, path, err
}

// flipBits flips 8 random bits of path.
func flipBits(path, base string, rng *rand.Rand) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(data) == 0 {
		return "", nil
	}
	var at []string
	flipped := map[int]bool{} // distinct bytes: a second flip could undo the first
	for k := 0; k < 8 && len(flipped) < len(data); k++ {
		off := rng.IntN(len(data))
		if flipped[off] {
			k--
			continue
		}
		flipped[off] = true
		data[off] ^= 1 << rng.IntN(8)
		at = append(at, fmt.Sprint(off))
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf("flipped %d bits of %s at bytes %s", len(at), rel(base, path), strings.Join(at, ",")), nil
}

// truncateTail cuts path to a random length below its size: the last
// writes never reached the disk, and one was torn.
func truncateTail(path, base string, rng *rand.Rand) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Size() == 0 {
		return "", nil
	}
	to := rng.Int64N(fi.Size())
	if err := os.Truncate(path, to); err != nil {
		return "", err
	}
	return fmt.Sprintf("truncated %s from %d to %d bytes", rel(base, path), fi.Size(), to), nil
}

func rel(base, path string) string {
	if r, err := filepath.Rel(base, path); err == nil {
		return r
	}
	return path
}
