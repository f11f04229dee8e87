package cluster

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// Links runs every cluster route of an n-node cluster through proxies the
// harness controls: node i reaches node j's route port only through
// proxy (i, j). Either node may dial the route, so cutting both (i, j) and
// (j, i) cuts the link between them, whatever connection the servers
// keep.
//
// Servers gossip each other's route address and dial addresses they learn
// ("implicit routes"), which would bypass the proxies. So every node
// advertises a sink address instead, which accepts and closes: learned
// routes fail, configured routes (the proxies) are the only way through.
type Links struct {
	n       int
	proxies [][]*LinkProxy // [from][to], nil on the diagonal
	sink    net.Listener
	wg      sync.WaitGroup
}

// NewLinks builds proxies from every node to every other node's route
// address.
func NewLinks(routeAddrs []string, seed uint64) (*Links, error) {
	n := len(routeAddrs)
	l := &Links{n: n, proxies: make([][]*LinkProxy, n)}
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l.sink = sink
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l.proxies[i] = make([]*LinkProxy, n)
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			p, err := NewLinkProxy(routeAddrs[j], seed+uint64(i*n+j))
			if err != nil {
				l.Close()
				return nil, err
			}
			l.proxies[i][j] = p
		}
	}
	return l, nil
}

// RoutesFor returns the route URLs node i is configured with.
func (l *Links) RoutesFor(i int) []string {
	var urls []string
	for j, p := range l.proxies[i] {
		if j != i {
			urls = append(urls, "nats-route://"+p.Addr())
		}
	}
	return urls
}

// Advertise is the address every node advertises for its routes.
func (l *Links) Advertise() string { return l.sink.Addr().String() }

// Partition cuts every link between nodes of different groups; nodes in
// no group keep their links to everyone (a bridge). Links inside a group
// pass.
func (l *Links) Partition(groups [][]int, mode LinkMode) error {
	group := make([]int, l.n)
	for i := range group {
		group[i] = -1
	}
	for g, members := range groups {
		for _, i := range members {
			if i < 0 || i >= l.n {
				return fmt.Errorf("partition: no node %d", i)
			}
			group[i] = g
		}
	}
	for i := 0; i < l.n; i++ {
		for j := 0; j < l.n; j++ {
			if i == j {
				continue
			}
			cut := group[i] >= 0 && group[j] >= 0 && group[i] != group[j]
			if cut {
				l.proxies[i][j].SetMode(mode)
			} else {
				l.proxies[i][j].SetMode(LinkPass)
			}
		}
	}
	return nil
}

// CutOneWay holds (as a blackhole) every byte a node of from sends to a
// node of to, while their bytes to it pass: an asymmetric partition. Links
// between other pairs pass.
func (l *Links) CutOneWay(from, to []int) error {
	in := func(set []int, i int) bool { return slices.Contains(set, i) }
	for _, i := range append(slices.Clone(from), to...) {
		if i < 0 || i >= l.n {
			return fmt.Errorf("partition: no node %d", i)
		}
	}
	for i := 0; i < l.n; i++ {
		for j := 0; j < l.n; j++ {
			switch {
			case i == j:
			case in(from, i) && in(to, j) && in(from, j) && in(to, i):
				l.proxies[i][j].SetMode(LinkBlackhole) // cut both ways
			case in(from, i) && in(to, j):
				l.proxies[i][j].HoldOneWay(false) // i dials j: what i sends is held
			case in(to, i) && in(from, j):
				l.proxies[i][j].HoldOneWay(true) // i dials j: what j answers is held
			default:
				l.proxies[i][j].SetMode(LinkPass)
			}
		}
	}
	return nil
}

// Slow delays every link that touches one of nodes, both ways.
func (l *Links) Slow(nodes []int, delay, jitter time.Duration) {
	touched := make([]bool, l.n)
	for _, i := range nodes {
		touched[i] = true
	}
	for i := 0; i < l.n; i++ {
		for j := 0; j < l.n; j++ {
			if i != j && (touched[i] || touched[j]) {
				l.proxies[i][j].SetDelay(delay, jitter)
			}
		}
	}
}

// Heal restores every link: no cut, no delay.
func (l *Links) Heal() {
	for i := 0; i < l.n; i++ {
		for j := 0; j < l.n; j++ {
			if i != j {
				l.proxies[i][j].SetDelay(0, 0)
				l.proxies[i][j].SetMode(LinkPass)
			}
		}
	}
}

// Close stops every proxy.
func (l *Links) Close() {
	for _, row := range l.proxies {
		for _, p := range row {
			if p != nil {
				p.Close()
			}
		}
	}
	if l.sink != nil {
		l.sink.Close()
	}
	l.wg.Wait()
}
