package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/fleet"
	"github.com/kvharness/kvharness/history"
	"github.com/kvharness/kvharness/internal/secrets"
	"github.com/kvharness/kvharness/workload"
)

// FleetOptions spread a run's clients over workers on other machines
// (`kvharness worker`); the run itself (target, bucket, watchers, nemesis,
// final phase, checks) stays here.
type FleetOptions struct {
	Workers int
	// Control: the control server's URL; empty starts one in this process
	// listening on Listen (default 127.0.0.1:0).
	Control string
	Listen  string
	// Await bounds waiting for the workers to register (default 60 s).
	Await time.Duration
	// ControlAuth: credentials on the control server (the one started
	// here demands a token, or a user and password, when given them).
	ControlAuth cluster.Auth
	// Secret: the fleet's shared secret, which signs every command to a
	// worker (see fleet's auth.go).
	Secret string
}

// fleetRun is a run's workers, prepared.
type fleetRun struct {
	coord *fleet.Coordinator
}

// prepareFleet brings up the control plane, waits for the workers and
// gives each its share of the workload; the clean-ups stop what it
// started. The workers get the target's URLs without credentials (they
// hold their own).
func prepareFleet(o *FleetOptions, wc workload.Config, target []string, bucket string, clock workload.Clock, log io.Writer, cleanup *cleanups) (*fleetRun, error) {
	url := o.Control
	if url == "" {
		listen := o.Listen
		if listen == "" {
			listen = "127.0.0.1:0"
		}
		a := o.ControlAuth
		if host, _, err := net.SplitHostPort(listen); err == nil && !fleet.Loopback(host) && a.Token == "" && a.User == "" {
			// The fleet's secret protects every message, but whoever can
			// connect could still fill or delete the control server's
			// streams.
			return nil, fmt.Errorf("--control-listen %s reaches beyond this machine: give the control server a --control-token (or --control-user and --control-password), the same for the workers", listen)
		}
		c, err := fleet.StartControl(listen, a.Token, a.User, a.Password)
		if err != nil {
			return nil, err
		}
		cleanup.add(c.Stop)
		url = c.URL()
	}
	o.ControlAuth.Register()
	auth, err := o.ControlAuth.Options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, append(auth, nats.Name("kvharness-coordinator"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the control server %s: %s", secrets.URL(url), secrets.Scrub(err.Error()))
	}
	cleanup.add(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), setupBudget)
	defer cancel()
	coord, err := fleet.NewCoordinator(ctx, nc, bucket, o.Secret, clock.Now, clock.Start(), log)
	if err != nil {
		return nil, err
	}
	await := o.Await
	if await <= 0 {
		await = 60 * time.Second
	}
	fmt.Fprintf(log, "kvharness: waiting for %d worker(s) on %s\n", o.Workers, secrets.URL(url))
	if err := coord.Await(ctx, o.Workers, await); err != nil {
		return nil, err
	}
	cleanup.add(coord.Stop) // a run that fails before its workers finish
	if err := coord.Prepare(ctx, wc, stripCredentials(target), bucket); err != nil {
		return nil, err
	}
	if err := coord.SyncClocks(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "kvharness: workers %v prepared\n", coord.Names())
	return &fleetRun{coord: coord}, nil
}

// stripCredentials: URLs as a worker gets them, without the coordinator's
// credentials.
func stripCredentials(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = secrets.WithoutCredentials(u)
	}
	return out
}

// run starts the workers together and follows them to their end (see
// fleet.Coordinator.Wait).
func (f *fleetRun) run(ctx context.Context) (workload.Stats, error) {
	if err := f.coord.Start(ctx); err != nil {
		return workload.Stats{}, err
	}
	return f.coord.Wait(ctx)
}

// merge estimates the workers' clocks a last time and copies their
// records into the run's history (see fleet.Coordinator.Merge).
func (f *fleetRun) merge(meta *history.Meta, out *history.Writer) error {
	_ = f.coord.SyncClocks(context.Background()) // a lost worker does not answer: its estimates so far stand
	return f.coord.Merge(context.Background(), out, meta)
}
