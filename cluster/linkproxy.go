package cluster

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// LinkMode says what a LinkProxy does with the traffic it carries.
type LinkMode int

const (
	// LinkPass forwards everything (after the configured delay).
	LinkPass LinkMode = iota
	// LinkBlackhole stops forwarding: bytes are held, connections stay
	// open and the endpoints only notice by their own timeouts — the
	// way a dropped cable looks. Healing resets the held connections, since
	// what they hold is stale, and the endpoints dial again.
	LinkBlackhole
	// LinkReset closes every connection and refuses new ones at once,
	// the way a crashed switch port or a firewall REJECT looks.
	LinkReset
)

// String names the mode as scenarios spell it.
func (m LinkMode) String() string {
	switch m {
	case LinkBlackhole:
		return "blackhole"
	case LinkReset:
		return "reset"
	}
	return "pass"
}

// LinkProxy is a TCP forwarder in front of one destination that the
// harness controls: a network fault without root, iptables or namespaces.
// Every connection through it can be cut (blackhole or reset) or slowed
// (delay plus jitter, order kept, as TCP would).
type LinkProxy struct {
	ln     net.Listener
	target string

	mu   sync.Mutex
	mode LinkMode
	// held: with mode LinkPass, the ways whose bytes are held as by
	// LinkBlackhole — [0] the dialer's to the target, [1] the target's
	// back — for a cut one way only (see HoldOneWay).
	held    [2]bool
	delay   time.Duration
	jitter  time.Duration
	changed chan struct{} // closed and replaced on every change of mode
	conns   map[*proxiedConn]struct{}
	closed  bool
	rng     *rand.Rand
	wg      sync.WaitGroup
}

// NewLinkProxy listens on a free loopback port and forwards to target.
func NewLinkProxy(target string, seed uint64) (*LinkProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &LinkProxy{ln: ln, target: target, changed: make(chan struct{}), conns: map[*proxiedConn]struct{}{},
		rng: rand.New(rand.NewPCG(seed, 0x11c))}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the host:port to dial instead of the target.
func (p *LinkProxy) Addr() string { return p.ln.Addr().String() }

// SetMode cuts or restores the link, both ways.
func (p *LinkProxy) SetMode(m LinkMode) { p.set(m, [2]bool{}) }

// HoldOneWay cuts one way, as a blackhole: the bytes the dialer sends
// (back false) or those the target sends back (back true) are held, the
// other way passes. SetMode restores both ways.
func (p *LinkProxy) HoldOneWay(back bool) {
	var held [2]bool
	held[wayOf(back)] = true
	p.set(LinkPass, held)
}

func wayOf(back bool) int {
	if back {
		return 1
	}
	return 0
}

func (p *LinkProxy) set(m LinkMode, held [2]bool) {
	p.mu.Lock()
	wasHeld := p.mode == LinkBlackhole || p.held != [2]bool{}
	p.mode, p.held = m, held
	var drop []*proxiedConn
	// Held bytes are stale once the hold ends: the connections they were
	// held on are reset, and the endpoints dial again.
	if m == LinkReset || (wasHeld && m != LinkBlackhole && held == [2]bool{}) {
		for c := range p.conns {
			drop = append(drop, c)
		}
	}
	p.mu.Unlock()
	// Close what is dropped before waking the held readers, so none of them
	// forwards the stale chunk it holds.
	for _, c := range drop {
		c.close()
	}
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// SetDelay delays every chunk by delay plus a uniform random share of
// jitter; zero for both restores direct forwarding.
func (p *LinkProxy) SetDelay(delay, jitter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay, p.jitter = delay, jitter
}

// Close stops the proxy and every connection through it.
func (p *LinkProxy) Close() {
	p.mu.Lock()
	p.closed = true
	var drop []*proxiedConn
	for c := range p.conns {
		drop = append(drop, c)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range drop {
		c.close()
	}
	p.wg.Wait()
}

func (p *LinkProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.closed || p.mode == LinkReset
		p.mu.Unlock()
		if refuse {
			in.Close()
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			in.Close() // the destination is down: so is the link
			continue
		}
		c := &proxiedConn{a: in, b: out, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(4)
		go p.pump(c, in, out, false)
		go p.pump(c, out, in, true)
	}
}

// chunk is data read from one side, due to be written to the other.
type chunk struct {
	data []byte
	due  time.Time
}

// pump forwards one direction: a reader that stamps each chunk with its
// due time and a writer that waits for it, so a delay does not throttle
// throughput and chunks keep their order.
func (p *LinkProxy) pump(c *proxiedConn, src, dst net.Conn, back bool) {
	queue := make(chan chunk, 256)
	go func() {
		defer p.wg.Done()
		for ch := range queue {
			if d := time.Until(ch.due); d > 0 {
				select {
				case <-time.After(d):
				case <-c.done:
					return
				}
			}
			if _, err := dst.Write(ch.data); err != nil {
				p.forget(c)
				return
			}
		}
	}()
	defer p.wg.Done()
	defer close(queue)
	var lastDue time.Time
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			delay, ok := p.waitPassing(c, back)
			if !ok {
				return
			}
			due := time.Now().Add(delay)
			if due.Before(lastDue) {
				due = lastDue
			}
			lastDue = due
			select {
			case queue <- chunk{data: append([]byte(nil), buf[:n]...), due: due}:
			case <-c.done:
				return
			}
		}
		if err != nil {
			p.forget(c)
			return
		}
	}
}

// waitPassing holds a reader while its way (back: from the target to the
// dialer) is blackholed and returns the delay for the chunk it read; false
// when the connection is gone.
func (p *LinkProxy) waitPassing(c *proxiedConn, back bool) (time.Duration, bool) {
	for {
		p.mu.Lock()
		mode, changed := p.mode, p.changed
		if p.held[wayOf(back)] {
			mode = LinkBlackhole
		}
		delay := p.delay
		if p.jitter > 0 {
			delay += time.Duration(p.rng.Int64N(int64(p.jitter)))
		}
		p.mu.Unlock()
		if mode == LinkPass {
			return delay, true
		}
		if mode == LinkReset {
			p.forget(c)
			return 0, false
		}
		select {
		case <-changed:
		case <-c.done:
			return 0, false
		}
	}
}

func (p *LinkProxy) forget(c *proxiedConn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.close()
}

// proxiedConn is one forwarded connection: both of its sockets close
// together.
type proxiedConn struct {
	a, b net.Conn
	once sync.Once
	done chan struct{}
}

func (c *proxiedConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.a.Close()
		c.b.Close()
	})
}
