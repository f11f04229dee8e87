package workload

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/kvharness/kvharness/history"
)

// MixOps are the operations a mix may weigh, in a fixed order so that a seed
// gives the same sequence whatever order the mix was written in.
var MixOps = history.Ops

// Mix is op weights, e.g. put=2,update=3,get=3.
type Mix map[string]int

// ParseMix reads "put=2,update=3,get=3".
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix entry %q: want op=weight", part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mix entry %q: weight must be a whole number >= 0", part)
		}
		m[strings.TrimSpace(name)] = n
	}
	return m, m.Validate()
}

// MaxMixWeight bounds one op's weight, so that the weights' sum, drawn from
// on every op, cannot overflow (fuzzing found put=2^63-1,get=2^63-1 panic).
const MaxMixWeight = 1_000_000

// MixError is a bad op mix; Op names the entry at fault, if one is (a
// scenario file points at its line).
type MixError struct {
	Op  string
	Msg string
}

func (e *MixError) Error() string { return e.Msg }

// Validate checks op names and that something has weight: the one rule for
// mixes, from a flag or a scenario file. Ops are checked in a fixed order,
// so the same bad mix always names the same entry.
func (m Mix) Validate() error {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	total := 0
	for _, name := range names {
		if !isMixOp(name) {
			return &MixError{Op: name, Msg: fmt.Sprintf("unknown op %q in mix (known: %s)", name, strings.Join(MixOps, ", "))}
		}
		if m[name] < 0 || m[name] > MaxMixWeight {
			return &MixError{Op: name, Msg: fmt.Sprintf("op %q has weight %d: weights go from 0 to %d", name, m[name], MaxMixWeight)}
		}
		total += m[name]
	}
	if total == 0 {
		return &MixError{Msg: "op mix has no positive weight"}
	}
	return nil
}

func (m Mix) String() string {
	var parts []string
	for _, op := range MixOps {
		if m[op] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", op, m[op]))
		}
	}
	return strings.Join(parts, ",")
}

// Ops lists the ops with positive weight.
func (m Mix) Ops() []string {
	var ops []string
	for _, op := range MixOps {
		if m[op] > 0 {
			ops = append(ops, op)
		}
	}
	return ops
}

func isMixOp(name string) bool {
	for _, op := range MixOps {
		if op == name {
			return true
		}
	}
	return false
}

// KeySpace names the keys and picks one per operation.
type KeySpace struct {
	Keys []string
	// Zipf > 1 skews picks toward the first keys (hot keys); 0 is uniform.
	Zipf float64
}

// NewKeySpace makes n keys named k0000...
func NewKeySpace(n int, zipf float64) KeySpace {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
	}
	return KeySpace{Keys: keys, Zipf: zipf}
}

// Planned is one operation a client is about to perform; the client fills
// in what depends on its own state (the expected revision).
type Planned struct {
	Op  string
	Key string
	// CAS: delete with a last-revision precondition.
	CAS bool
	// Path: for a get, how it is routed (history.Record.Path).
	Path string
}

// Generator produces one client's reproducible sequence of operations: the
// same seed and client id give the same ops, keys and choices.
type Generator struct {
	rng     *rand.Rand
	zipf    *rand.Zipf
	keys    []string
	cum     []int
	ops     []string
	total   int
	path    string
	own     string // when set, the only key this client touches
	client  int
	seq     uint64
	valSize int
}

// NewGenerator builds client's generator.
func NewGenerator(seed uint64, client int, mix Mix, ks KeySpace, valueSize int) *Generator {
	g := &Generator{rng: rand.New(rand.NewPCG(seed, uint64(client)+1)), keys: ks.Keys, client: client, valSize: valueSize}
	for _, op := range MixOps {
		if w := mix[op]; w > 0 {
			g.total += w
			g.cum = append(g.cum, g.total)
			g.ops = append(g.ops, op)
		}
	}
	if ks.Zipf > 1 && len(ks.Keys) > 1 {
		g.zipf = rand.NewZipf(g.rng, ks.Zipf, 1, uint64(len(ks.Keys)-1))
	}
	return g
}

// Next plans the next operation.
func (g *Generator) Next() Planned {
	n := g.rng.IntN(g.total)
	i := sort.SearchInts(g.cum, n+1)
	p := Planned{Op: g.ops[i]}
	switch {
	case g.own != "":
		p.Key = g.own
	case g.zipf != nil:
		p.Key = g.keys[g.zipf.Uint64()]
	default:
		p.Key = g.keys[g.rng.IntN(len(g.keys))]
	}
	if p.Op == history.OpDelete || p.Op == history.OpPurge {
		p.CAS = g.rng.IntN(2) == 0
	}
	if p.Op == history.OpGet {
		p.Path = g.getPath()
	}
	return p
}

// getPath picks a get's read path (history.Record.Path).
func (g *Generator) getPath() string {
	switch g.path {
	case history.PathLeader:
		return history.PathLeader
	case history.PathBoth:
		if g.rng.IntN(2) == 0 {
			return history.PathLeader
		}
	}
	return "" // direct: left out of the record (history.PathOf)
}

// NextValue returns a value unique in the run: its id (client and sequence)
// padded to the value size. The id is what the history records.
func (g *Generator) NextValue() (id string, payload []byte) {
	g.seq++
	id = "c" + strconv.Itoa(g.client) + "-" + strconv.FormatUint(g.seq, 10)
	return id, EncodeValue(id, g.valSize)
}

// EncodeValue pads id to size bytes: "id|xxxx". Values never shrink below
// the id, so uniqueness survives any size.
func EncodeValue(id string, size int) []byte {
	if size <= len(id)+1 {
		return []byte(id)
	}
	b := make([]byte, size)
	copy(b, id)
	b[len(id)] = '|'
	for i := len(id) + 1; i < size; i++ {
		b[i] = 'x'
	}
	return b
}

// DecodeValue returns the id of a stored value; a foreign value comes back
// whole, cut to 64 bytes, so it shows up as never written.
func DecodeValue(b []byte) string {
	for i, c := range b {
		if c == '|' {
			return string(b[:i])
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
