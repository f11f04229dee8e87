package history

import "iter"

// pendingInvokes are the writes invoked and not (yet) completed while a
// history is read, found again by client and invocation time. A client's
// first pending write sits in a slot of its own: a client of a closed loop
// has one at a time, its op lines follow soon, and looking a pair up in a
// map was a fortieth of reading a history. Others (a pipelined client's)
// are kept by invocation time, the few invoked in the same nanosecond by
// another client beside.
type pendingInvokes struct {
	byClient []*Record // client → its pending write, if any (clients 0 to maxSlotClient)
	byInvoke map[int64]pendingAt
}

// maxSlotClient: a client with a higher number (or below 0) is kept by
// invocation time only.
const maxSlotClient = 1 << 16

// add keeps inv, an invoke record, until take finds it. A second invoke of
// one client at one time replaces the first (as a map by both would).
func (p *pendingInvokes) add(inv *Record) {
	c := inv.Client
	if c < 0 || c >= maxSlotClient {
		p.addByInvoke(inv)
		return
	}
	if c >= len(p.byClient) {
		p.byClient = append(p.byClient, make([]*Record, c+1-len(p.byClient))...)
	}
	switch slot := p.byClient[c]; {
	case slot == nil:
		if len(p.byInvoke) > 0 {
			p.takeByInvoke(c, inv.Invoke) // replaced
		}
		p.byClient[c] = inv
	case slot.Invoke == inv.Invoke:
		p.byClient[c] = inv
	default:
		p.addByInvoke(inv)
	}
}

// take is the invoke of client at invoke, no longer kept; nil if none.
func (p *pendingInvokes) take(client int, invoke int64) *Record {
	if client >= 0 && client < len(p.byClient) {
		if inv := p.byClient[client]; inv != nil && inv.Invoke == invoke {
			p.byClient[client] = nil
			return inv
		}
	}
	if len(p.byInvoke) == 0 {
		return nil
	}
	return p.takeByInvoke(client, invoke)
}

// pendingAt are the writes invoked at one time: one, nearly always.
type pendingAt struct {
	first *Record
	more  []*Record
}

// addByInvoke keeps inv by its invocation time.
func (p *pendingInvokes) addByInvoke(inv *Record) {
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

// takeByInvoke is the invoke of client at invoke kept by its invocation
// time, no longer kept; nil if none.
func (p *pendingInvokes) takeByInvoke(client int, invoke int64) *Record {
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
		for _, inv := range p.byClient {
			if inv != nil && !yield(inv) {
				return
			}
		}
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
