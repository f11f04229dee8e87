package history

// GroupOf assigns a key to one of n groups. A history too large to check at
// once is checked a group of keys at a time: nearly everything the checker
// asks is about one key, and what is not, it gathers in a first pass.
// Records without a key (a replica read that failed for a whole node) go to
// group 0.
func GroupOf(key string, n int) int {
	if n <= 1 || key == "" {
		return 0
	}
	// FNV-1a, inline: this runs for every record of a history.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// Split cuts h into n histories by GroupOf, each with the whole run's meta
// line (its Keys narrowed to the group's), end and faults, and the per-key
// records of its own keys.
func (h *History) Split(n int) []*History {
	groups := make([]*History, n)
	for i := range groups {
		groups[i] = h.EmptyGroup(func(key string) bool { return GroupOf(key, n) == i })
	}
	for s := range shelves {
		if from := h.list(s); from != nil {
			for _, r := range *from {
				to := groups[GroupOf(r.Key, n)].list(s)
				*to = append(*to, r)
			}
		}
	}
	for _, d := range h.Delivered {
		g := groups[GroupOf(d.Key, n)]
		g.Delivered = append(g.Delivered, d)
	}
	return groups
}

// EmptyGroup is a group of keys (those member says belong to it) before
// any per-key record is added: the run's meta line with only the group's
// keys, its end and its faults.
func (h *History) EmptyGroup(member func(key string) bool) *History {
	g := &History{End: h.End, Faults: h.Faults, Leadership: h.Leadership, Truncated: h.Truncated, DamagedTail: h.DamagedTail}
	if h.Meta != nil {
		m := *h.Meta
		m.Keys = nil
		for _, k := range h.Meta.Keys {
			if member(k) {
				m.Keys = append(m.Keys, k)
			}
		}
		g.Meta = &m
	}
	return g
}
