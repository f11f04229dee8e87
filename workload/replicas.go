package workload

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
)

// ReadDirect reads key's last message with a direct get
// ($JS.API.DIRECT.GET.<stream>.<subject>) on nc. Direct gets are served by
// a queue group of the stream's replicas and the server prefers a member on
// the requester's own server, so through a connection to one node this is
// that node's replica — when it has caught up far enough to serve direct
// gets; a replica that has not answers from a peer instead.
func ReadDirect(ctx context.Context, nc *nats.Conn, bucket, key string) (history.Record, error) {
	rec := history.Record{Kind: history.KindReplica, Key: key}
	msg, err := nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+cluster.StreamName(bucket)+"."+cluster.Subject(bucket, key), nil)
	if err != nil {
		return rec, err
	}
	switch msg.Header.Get("Status") {
	case "":
	case "404":
		return rec, nil // never written
	default:
		return rec, fmt.Errorf("direct get %s: status %s %s", key, msg.Header.Get("Status"), msg.Header.Get("Description"))
	}
	rec.Rev, err = strconv.ParseUint(msg.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return rec, fmt.Errorf("direct get %s: bad Nats-Sequence %q", key, msg.Header.Get("Nats-Sequence"))
	}
	rec.Marker = markerOf(msg.Header)
	if rec.Marker == "" {
		rec.Found = true
		rec.Read = DecodeValue(msg.Data)
	}
	return rec, nil
}

// replicaState is what one node holds for every key.
type replicaState struct {
	node string
	read func(ctx context.Context, key string) (history.Record, error)
	recs map[string]history.Record
	err  error
}

// ReadReplicas reads every key from every node's own replica, and from the
// stream leader beside them, and records the answers. Followers apply what
// the leader committed a little after it, so a key on which the answers
// differ is read again, everywhere, for a bounded time, until they agree;
// what is recorded is the last round, leader included, so the comparison
// never mixes reads from before and after a late write. It returns the
// names of the nodes read.
func ReadReplicas(ctx context.Context, t *cluster.Target, control *nats.Conn, bucket string, keys []string, clock Clock, out *history.Writer) []string {
	urls := t.NodeURLs(control)
	if len(urls) < 2 {
		return nil
	}
	states := []*replicaState{{node: history.PathLeader, recs: map[string]history.Record{},
		read: func(ctx context.Context, key string) (history.Record, error) {
			return ReadLast(ctx, control, bucket, key)
		}}}
	var nodes []string
	for _, u := range urls {
		nc, err := t.ConnectOnly(u, "kvharness-replica-read")
		st := &replicaState{node: u, recs: map[string]history.Record{}, err: err}
		if err == nil {
			defer nc.Close()
			st.node = nc.ConnectedServerName()
			st.read = func(ctx context.Context, key string) (history.Record, error) { return ReadDirect(ctx, nc, bucket, key) }
		}
		nodes = append(nodes, st.node)
		states = append(states, st)
	}
	pending := keys
	deadline := time.Now().Add(10 * time.Second)
	for len(pending) > 0 {
		var wg sync.WaitGroup
		for _, st := range states {
			if st.err != nil {
				continue
			}
			wg.Add(1)
			go func(st *replicaState) {
				defer wg.Done()
				for _, key := range pending {
					rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					invoke := clock.Now()
					rec, err := st.read(rctx, key)
					cancel()
					rec.Kind, rec.Node, rec.Invoke, rec.Complete = history.KindReplica, st.node, invoke, clock.Now()
					if err != nil {
						rec.Error = err.Error()
					}
					st.recs[key] = rec
				}
			}(st)
		}
		wg.Wait()
		pending = disagreeing(states, pending)
		if len(pending) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, st := range states {
		if st.err != nil {
			out.Write(&history.Record{Kind: history.KindReplica, Node: st.node, Error: "cannot connect: " + st.err.Error()})
			continue
		}
		for _, key := range keys {
			rec := st.recs[key]
			out.Write(&rec)
		}
	}
	return nodes
}

// disagreeing returns the keys whose last message differs between nodes,
// or that some node could not answer.
func disagreeing(states []*replicaState, keys []string) []string {
	var differ []string
	for _, key := range keys {
		var first *history.Record
		for _, st := range states {
			if st.err != nil {
				continue
			}
			rec := st.recs[key]
			if rec.Error != "" {
				differ = append(differ, key)
				break
			}
			if first == nil {
				first = &rec
				continue
			}
			if !history.SameMessage(*first, rec) {
				differ = append(differ, key)
				break
			}
		}
	}
	return slices.Clip(differ)
}
