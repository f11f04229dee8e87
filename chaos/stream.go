package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/kvharness/kvharness/cluster"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// streamOps asks the cluster about, and acts on, the bucket's stream over
// the nemesis's own connection.
type streamOps struct {
	target *cluster.Target
	stream string
	mu     sync.Mutex // guards nc and js: faults that overlap share them
	nc     *nats.Conn
	js     jetstream.JetStream
}

func newStreamOps(t *cluster.Target, stream string) *streamOps {
	return &streamOps{target: t, stream: stream}
}

// conn connects lazily and again after a failure: the first attempt may
// come while every node is down.
func (s *streamOps) conn() (jetstream.JetStream, *nats.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil && !s.nc.IsClosed() {
		return s.js, s.nc, nil
	}
	nc, err := s.target.Connect("kvharness-nemesis")
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	s.nc, s.js = nc, js
	return js, nc, nil
}

func (s *streamOps) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		s.nc.Close()
	}
}

func (s *streamOps) info(ctx context.Context) (*jetstream.StreamInfo, error) {
	js, _, err := s.conn()
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := js.Stream(actx, s.stream)
	if err != nil {
		return nil, err
	}
	return st.Info(actx)
}

// leader is the name of the server leading the stream.
func (s *streamOps) leader(ctx context.Context) (string, error) {
	info, err := s.info(ctx)
	if err != nil {
		return "", err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return "", fmt.Errorf("stream %s has no leader", s.stream)
	}
	return info.Cluster.Leader, nil
}

// setReplicas changes the stream's replica count
// ($JS.API.STREAM.UPDATE), keeping the rest of its config.
func (s *streamOps) setReplicas(ctx context.Context, replicas int) error {
	info, err := s.info(ctx)
	if err != nil {
		return err
	}
	js, _, err := s.conn()
	if err != nil {
		return err
	}
	cfg := info.Config
	cfg.Replicas = replicas
	uctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = js.UpdateStream(uctx, cfg)
	return err
}

// stepDown asks the stream's leader to hand over leadership
// ($JS.API.STREAM.LEADER.STEPDOWN); nats.go's jetstream has no call for it.
func (s *streamOps) stepDown(ctx context.Context) error {
	_, nc, err := s.conn()
	if err != nil {
		return err
	}
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+s.stream, nil)
	if err != nil {
		return err
	}
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("step-down answer: %w", err)
	}
	if resp.Error != nil {
		return fmt.Errorf("step-down refused: %s", resp.Error.Description)
	}
	return nil
}

// waitStreamHealthy waits until the stream has a leader and every replica
// is current, online, and heard from lately (see streamHealth).
func (s *streamOps) waitStreamHealthy(ctx context.Context) error {
	var last error
	for {
		info, err := s.info(ctx)
		if err == nil {
			err = streamHealth(info)
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return last
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func streamHealth(info *jetstream.StreamInfo) error {
	if info.Config.Replicas <= 1 {
		return nil
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return fmt.Errorf("stream has no leader")
	}
	if len(info.Cluster.Replicas) != info.Config.Replicas-1 {
		return fmt.Errorf("stream has %d followers, wants %d", len(info.Cluster.Replicas), info.Config.Replicas-1)
	}
	for _, r := range info.Cluster.Replicas {
		if !r.Current || r.Offline {
			return fmt.Errorf("replica %s not current", r.Name)
		}
		// A leader cut off by a partition that has not yet stepped down
		// (it waits 10 s without a quorum) still answers, and calls its
		// followers current: its commit index froze with theirs. Only how
		// long ago it heard from them gives it away. A live follower
		// answers every append and, on an idle stream, a heartbeat at
		// least every 2 s (see workload/leadership.go).
		if r.Active > healthyContact {
			return fmt.Errorf("replica %s not heard from by leader %s for %s", r.Name, info.Cluster.Leader, r.Active.Round(time.Millisecond))
		}
	}
	return nil
}

// healthyContact: how lately a healthy stream's leader has heard from each
// replica.
const healthyContact = 2500 * time.Millisecond
