package history

// A history whose end record is missing was cut: its run was killed, or
// the file lost its last lines. What the final phase read before the cut is
// still in the file, and some of it is whole on its own: the final read of
// every key, the History() of every key. The end a cut history gets is made
// from those records and says so (Cut), so checks decide what the records
// decide and say precisely what only a real end record would have told.

// cutEnd gathers, record by record, what a cut history's end can claim.
type cutEnd struct {
	finals, histories map[string]bool
	at                int64 // the latest read after the run
}

func (c *cutEnd) see(r *Record) {
	switch r.Kind {
	case KindFinal:
		if c.finals == nil {
			c.finals = map[string]bool{}
		}
		c.finals[r.Key] = true
	case KindHistory:
		if c.histories == nil {
			c.histories = map[string]bool{}
		}
		c.histories[r.Key] = true
	default:
		return
	}
	c.at = max(c.at, r.At, r.Complete) // a final read is timed by its completion, History() by At
}

// end is the end of a cut history with the given meta line. Only the
// claims its records make whole are true: final reads when every key has
// one (the final phase reads every key after the workload stopped, so
// every acknowledged write precedes them in the file), History() when
// every key's was read (a run with more keys than the harness reads
// History() of samples them: never whole). The rest — whether the
// recording watcher saw every sequence, the stream's last sequence, the
// stored messages, the replicas, the expiry following — is unknown.
func (c *cutEnd) end(meta *Meta) *End {
	e := &End{Interrupted: true, Cut: true, At: c.at}
	if meta == nil || len(meta.Keys) == 0 {
		return e
	}
	e.Keys = len(meta.Keys)
	for _, k := range meta.Keys {
		if c.finals[k] {
			e.FinalKeys++
		}
		if c.histories[k] {
			e.HistoryKeys++
		}
	}
	e.FinalReads = e.FinalKeys == e.Keys
	e.HistoryReads = e.HistoryKeys == e.Keys && e.Keys <= MaxHistoryKeys
	return e
}
