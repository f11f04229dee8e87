package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/chaos"
	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/scenarios"
	"github.com/kvharness/kvharness/workload"
)

// setupBudget bounds connecting and creating the bucket.
const setupBudget = 60 * time.Second

// upTarget starts (or reaches) the scenario's servers. Faults that hit
// processes need spawned servers; with no nats-server binary given, the
// harness spawns kvharness itself (`kvharness server`), so a fault scenario
// runs on a machine with nothing installed.
func upTarget(s *scenarios.Scenario, schedule chaos.Schedule, opts Options, dir string) (*cluster.Target, error) {
	serverBin, selfServe := s.Target.ServerBin, false
	if serverBin == "" && !s.External() && schedule.NeedsProcesses() {
		serverBin, selfServe = opts.SelfBin, true
		if serverBin == "" {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("cannot find this binary to spawn servers: %w", err)
			}
			serverBin = exe
		}
	}
	return cluster.Up(cluster.TargetConfig{
		ServerURLs:    s.Target.Servers,
		MonitorURLs:   s.Target.Monitors,
		Auth:          opts.Auth,
		Nodes:         s.Target.Nodes,
		LogDir:        filepath.Join(dir, "nodes"),
		StoreParent:   filepath.Join(dir, "nodes"),
		ServerBin:     serverBin,
		SelfServe:     selfServe,
		Sync:          cluster.SyncInterval(s.Target.SyncInterval),
		LazyStores:    schedule.NeedsLazyStores(),
		SystemAccount: schedule.NeedsSystemAccount(),
	})
}

// runBucket is the bucket a run creates for itself, and the control
// connection the run reads the stream's state through.
type runBucket struct {
	name     string
	replicas int
	control  *nats.Conn
	js       jetstream.JetStream
	target   *cluster.Target
}

// createBucket creates the run's bucket under a unique name, so runs side
// by side on one cluster do not collide. The clean-ups delete it again
// (unless the scenario keeps it) and close the control connection.
func createBucket(s *scenarios.Scenario, target *cluster.Target, cleanup *cleanups) (*runBucket, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupBudget)
	defer cancel()
	control, err := target.Connect("kvharness-control")
	if err != nil {
		return nil, err
	}
	cleanup.add(control.Close)
	if err := cluster.WaitJetStream(ctx, control); err != nil {
		return nil, err
	}
	js, err := jetstream.New(control)
	if err != nil {
		return nil, err
	}
	b := &runBucket{name: bucketName(), replicas: s.Bucket.Replicas, control: control, js: js, target: target}
	if _, err := cluster.CreateBucket(ctx, js, s.BucketConfig(b.name)); err != nil {
		return nil, err
	}
	if !s.Bucket.Keep {
		cleanup.add(func() {
			dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			_ = cluster.DeleteBucket(dctx, js, b.name)
		})
	}
	return b, nil
}

// meta is the history's first line.
func (b *runBucket) meta(s *scenarios.Scenario, clock workload.Clock) history.Meta {
	m := s.Meta()
	m.Bucket = b.name
	m.Mode = string(b.target.Mode)
	m.Nodes = b.target.Nodes
	m.ServerVersion = b.control.ConnectedServerVersion()
	m.StartedAt = clock.Start().UTC().Format(time.RFC3339Nano)
	m.Harness, m.CPUs = Version(), runtime.NumCPU()
	m.Host, _ = os.Hostname()
	return m
}

// bucketName is unique per run.
func bucketName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "kvh_" + time.Now().UTC().Format("20060102_150405") + "_" + hex.EncodeToString(b)
}

// followLeadership follows the bucket stream's leadership through the run
// (see workload.Leadership); nil when nothing is recorded.
func followLeadership(target *cluster.Target, b *runBucket, clock workload.Clock, out *history.Writer, noRecord bool, cleanup *cleanups) (*workload.Leadership, error) {
	if noRecord {
		return nil, nil
	}
	// One connection per node, each staying with its node (see
	// workload.Leadership); a node unreachable now is left out.
	var conns []*nats.Conn
	for _, url := range target.NodeURLs(b.control) {
		nc, err := target.ConnectPinned(url, "kvharness-leadership")
		if err != nil {
			continue
		}
		cleanup.add(nc.Close)
		conns = append(conns, nc)
	}
	if len(conns) == 0 {
		nc, err := target.Connect("kvharness-leadership")
		if err != nil {
			return nil, err
		}
		cleanup.add(nc.Close)
		conns = append(conns, nc)
	}
	l := workload.FollowLeadership(conns, cluster.StreamName(b.name), b.replicas, clock, out)
	cleanup.add(l.Stop)
	return l, nil
}
