package history

import "iter"

// pendingInvokes are the writes invoked and not (yet) completed while a
// history is read, found again by client and invocation time. They are
// kept by invocation time alone, the few invoked in the same nanosecond
// by another client beside: a map keyed by a number is looked up several
// times faster than one keyed by a pair, which was a fortieth of reading
// a history.
type pendingInvokes struct {
	byInvoke map[int64]pendingAt
}

// pendingAt are the writes invoked at one time: one, nearly always.
type pendingAt struct {
	first *Record
	more  []*Record
}

// add keeps inv, an invoke record, until take finds it. A second invoke of
// one client at one time replaces the first (as a map by both would).
func (p *pendingInvokes) add(inv *Record) {
	if p.byInvoke == nil {
		p.byInvoke = map[int64]pendingAt{}
	}
	at, ok := p.byInvoke[inv.Invoke]
	switch {
	case !ok:
		at.first = inv
	case at.first.Client == inv.Client:
		at.first = inv
	default:
		i := 0
		for i < len(at.more) && at.more[i].Client != inv.Client {
			i++
		}
		if i == len(at.more) {
			at.more = append(at.more, inv)
		}
		at.more[i] = inv
	}
	p.byInvoke[inv.Invoke] = at
}

// take is the invoke of client at invoke, no longer kept; nil if none.
func (p *pendingInvokes) take(client int, invoke int64) *Record {
	at, ok := p.byInvoke[invoke]
	if !ok {
		return nil
	}
	if at.first.Client == client {
		inv := at.first
		if len(at.more) == 0 {
			delete(p.byInvoke, invoke)
			return inv
		}
		at.first, at.more = at.more[0], at.more[1:]
		p.byInvoke[invoke] = at
		return inv
	}
	for i, inv := range at.more {
		if inv.Client == client {
			at.more = append(at.more[:i:i], at.more[i+1:]...)
			p.byInvoke[invoke] = at
			return inv
		}
	}
	return nil
}

// all are the invokes still kept.
func (p *pendingInvokes) all() iter.Seq[*Record] {
	return func(yield func(*Record) bool) {
		for _, at := range p.byInvoke {
			if !yield(at.first) {
				return
			}
			for _, inv := range at.more {
				if !yield(inv) {
					return
				}
			}
		}
	}
}
