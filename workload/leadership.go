package workload

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/history"
)

// Leadership follows the bucket's stream through the run: every
// leadershipPoll it asks the stream for its cluster state over a connection
// of its own, and writes the stretches in which a leader was in contact with
// a quorum of current replicas as leadership records.
//
// What it measures is when the stream could commit, which is what removes a
// key whose TTL ran out on a bucket with limit markers: the leader proposes
// the removal (or the marker) and it takes effect once a quorum has it. A
// fault that leaves no such leader delays expiry, and ttl-expiry allows for
// the time outside these stretches (see checker/ttl.go).
//
// Each answer yields one instant known to be healthy: when the leader last
// heard from the replica that completes its quorum (the answer's time minus
// that replica's "active"). The request's send time is used as "now", so
// the instant is never later than the truth. A stretch continues while such
// instants follow one another within leadershipGap (a healthy leader hears
// from its followers at least every heartbeat, 1 s) under the same leader;
// unanswered polls do not end it, only the absence of fresh contact does.
// An answer from a leader whose last contact is older than the current
// stretch's (a deposed leader on the far side of a partition) is ignored.
type Leadership struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

const (
	// leadershipPoll: how often the stream is asked. leadershipAsk bounds
	// one question, so a cluster that does not answer costs polls, not the
	// observer.
	leadershipPoll = 250 * time.Millisecond
	leadershipAsk  = 500 * time.Millisecond
	// leadershipGap: the longest pause between two instants of known
	// contact that still counts as one stretch. nats-server's raft leader
	// hears from each live follower on every append, and when idle sends a
	// heartbeat on a 1 s ticker — but only at a tick with nothing appended
	// in the second before (raft.go, notActive), so after a last append
	// the next contact can come almost 2 s later; half a second more
	// absorbs scheduling.
	leadershipGap = 2500 * time.Millisecond
)

// FollowLeadership starts following stream's leadership until Stop,
// asking through every connection in conns at each poll — one per node,
// so that a partition of one node does not blind the observer: whichever
// side the leader is on answers. replicas is the stream's replication
// factor.
func FollowLeadership(conns []*nats.Conn, stream string, replicas int, clock Clock, out *history.Writer) *Leadership {
	l := &Leadership{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		// Stretches with a quorum in contact, and with every replica.
		quorum, all := stretcher{}, stretcher{all: true}
		write := func(done *history.Leadership) {
			if done != nil {
				out.Write(&history.Record{Kind: history.KindLeadership, Leadership: done})
			}
		}
		t := time.NewTicker(leadershipPoll)
		defer t.Stop()
		for {
			sent := clock.Now()
			// Of the answers (a leader cut off answers too, through the
			// nodes on its side), the freshest contact counts.
			var q, a answer
			for _, info := range askEveryNode(conns, stream) {
				q.keep(info, replicas/2, sent)
				a.keep(info, replicas-1, sent)
			}
			if q.ok {
				write(quorum.observe(q.leader, q.at))
			}
			if a.ok {
				write(all.observe(a.leader, a.at))
			}
			select {
			case <-l.stop:
				write(quorum.flush())
				write(all.flush())
				return
			case <-t.C:
			}
		}
	}()
	return l
}

// Stop ends the following and writes the stretch in progress. It may be
// called more than once.
func (l *Leadership) Stop() {
	if l == nil {
		return
	}
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// stretcher joins instants of known contact into stretches.
type stretcher struct {
	all bool // stretches of contact with every replica
	cur *history.Leadership
}

// observe takes one healthy instant and returns the stretch it ended, if
// any.
func (s *stretcher) observe(leader string, at int64) *history.Leadership {
	c := s.cur
	if c != nil && c.Leader == leader && at-c.To <= int64(leadershipGap) {
		c.To = max(c.To, at)
		return nil
	}
	if c != nil && c.Leader != leader && at <= c.To {
		// Another leader's contact no newer than what the current one
		// showed: a deposed leader cut off on its side of a partition,
		// still answering with the instant it lost its followers.
		return nil
	}
	done := s.cur
	s.cur = &history.Leadership{Leader: leader, From: at, To: at, All: s.all}
	return done
}

func (s *stretcher) flush() *history.Leadership {
	done := s.cur
	s.cur = nil
	return done
}

// streamInfo is the part of a $JS.API.STREAM.INFO answer the observer
// reads (nats.go's StreamInfo has no error field, and its jetstream.Stream
// asks twice).
type streamInfo struct {
	Error   *struct{ Code int } `json:"error"`
	Cluster *struct {
		Leader   string `json:"leader"`
		Replicas []struct {
			Current bool          `json:"current"`
			Offline bool          `json:"offline"`
			Active  time.Duration `json:"active"`
		} `json:"replicas"`
	} `json:"cluster"`
}

// answer is the freshest contact among one poll's answers.
type answer struct {
	leader string
	at     int64
	ok     bool
}

func (a *answer) keep(info streamInfo, need int, sent int64) {
	if at, ok := contact(info, need, sent); ok && (!a.ok || at > a.at) {
		*a = answer{leader: info.Cluster.Leader, at: at, ok: true}
	}
}

// askEveryNode asks the stream through every connection at once and
// returns the answers that came from a leader.
func askEveryNode(conns []*nats.Conn, stream string) []streamInfo {
	infos := make([]streamInfo, len(conns))
	oks := make([]bool, len(conns))
	var wg sync.WaitGroup
	for i, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i], oks[i] = askLeadership(nc, stream)
		}()
	}
	wg.Wait()
	var out []streamInfo
	for i := range infos {
		if oks[i] {
			out = append(out, infos[i])
		}
	}
	return out
}

// askLeadership asks the stream once; ok: a leader answered.
func askLeadership(nc *nats.Conn, stream string) (streamInfo, bool) {
	var info streamInfo
	if !nc.IsConnected() {
		return info, false // its node is down or cut off: no wait
	}
	ctx, cancel := context.WithTimeout(context.Background(), leadershipAsk)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.INFO."+stream, nil)
	if err != nil {
		return info, false
	}
	if json.Unmarshal(msg.Data, &info) != nil || info.Error != nil || info.Cluster == nil || info.Cluster.Leader == "" {
		return info, false
	}
	return info, true
}

// contact is when the leader last heard from need current followers (a
// quorum with itself: replicas/2; every replica: replicas-1): the request's
// send time minus the staleness of the follower that completes the count.
func contact(info streamInfo, need int, sent int64) (int64, bool) {
	if need <= 0 {
		return sent, true
	}
	var fresh []time.Duration
	for _, r := range info.Cluster.Replicas {
		if r.Current && !r.Offline {
			fresh = append(fresh, r.Active)
		}
	}
	if len(fresh) < need {
		return 0, false
	}
	slices.Sort(fresh)
	return sent - int64(fresh[need-1]), true
}
