package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/cluster"
	"github.com/kvharness/kvharness/fleet"
	"github.com/kvharness/kvharness/internal/secrets"
)

// newWorkerCmd is `kvharness worker --control URL`: a load generator that
// runs the share of a run a coordinator (`kvharness run --workers N`) gives
// it, run after run, until stopped.
func newWorkerCmd() *cobra.Command {
	var control string
	var cfg fleet.WorkerConfig
	cmd := &cobra.Command{
		Use:   "worker --control URL",
		Short: "Serve as a load generator for runs spread over several machines (run --workers N)",
		Args:  cobra.NoArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&control, "control", "", "the coordinator's control server (nats://host:port)")
	fl.StringVar(&cfg.Name, "name", "", "this worker's name, unique among the run's workers (default: host name and process id)")
	fl.IntVar(&cfg.Runs, "runs", 0, "serve this many runs, then exit (0: until stopped); a Kubernetes Job's pods use 1")
	fl.DurationVar(&cfg.ClockSkew, "clock-skew", 0, "tests only: add this to the worker's clock")
	_ = fl.MarkHidden("clock-skew")
	secretFile := fl.String("fleet-secret-file", "", "a file holding the fleet's secret (default: $KVHARNESS_FLEET_SECRET); commands not signed with it are refused")
	cfg.Limits = fleet.DefaultLimits
	fl.StringSliceVar(&cfg.Limits.AllowTargets, "allow-target", nil, "servers (host:port, or host) a job may load, comma-separated (default: loopback addresses only)")
	fl.IntVar(&cfg.Limits.MaxClients, "max-clients", cfg.Limits.MaxClients, "refuse a job with more clients")
	fl.Float64Var(&cfg.Limits.MaxRate, "max-rate", cfg.Limits.MaxRate, "refuse an open-loop job offering more ops/s (a closed loop is bounded by its clients, one op in flight each)")
	fl.DurationVar(&cfg.Limits.MaxDuration, "max-duration", cfg.Limits.MaxDuration, "refuse a longer job, and stop any job after this long")
	authFlags(cmd, &cfg.Auth)
	var controlAuth cluster.Auth
	controlAuthFlags(cmd, &controlAuth)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if control == "" {
			return usageErr("worker needs --control URL (the coordinator's control server)")
		}
		if cfg.Name == "" {
			host, _ := os.Hostname()
			cfg.Name = strings.Map(func(r rune) rune {
				if fleet.ValidName(string(r)) {
					return r
				}
				return '-'
			}, host) + "-" + strconv.Itoa(os.Getpid())
		}
		if !fleet.ValidName(cfg.Name) {
			return usageErr("--name %q: letters, digits, '-' and '_' only", cfg.Name)
		}
		var err error
		if cfg.Secret, err = fleetSecret(*secretFile); err != nil {
			return err
		}
		if cfg.Limits.MaxClients < 1 || !(cfg.Limits.MaxRate > 0) || cfg.Limits.MaxDuration <= 0 {
			return usageErr("--max-clients, --max-rate and --max-duration must be positive")
		}
		cfg.Log = cmd.ErrOrStderr()
		auth, err := controlAuth.Options()
		if err != nil {
			return usageErr("%v", err)
		}
		// The control server may not be up yet (workers are often started
		// beside their coordinator): keep trying, as after a disconnect.
		nc, err := nats.Connect(control, append(auth, nats.Name("kvharness-worker-"+cfg.Name), nats.Timeout(5*time.Second),
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
			nats.ReconnectErrHandler(logOnce(cfg.Log)), nats.ConnectHandler(func(*nats.Conn) {
				fmt.Fprintf(cfg.Log, "connected to the control server %s\n", secrets.URL(control))
			}))...)
		if err != nil {
			return usageErr("cannot reach the control server %s: %s", secrets.URL(control), secrets.Scrub(err.Error()))
		}
		defer nc.Close()
		// A load generator collects garbage less often (as a run's own
		// clients do): its memory is bounded, its records stream away.
		debug.SetGCPercent(400)
		ctx, stop := untilInterrupted()
		defer stop()
		if err := fleet.Serve(ctx, nc, cfg); err != nil {
			return usageErr("%v", err)
		}
		return nil
	}
	return cmd
}

// logOnce logs each distinct connection error once: a worker that cannot
// reach its control server (or is refused by it) says why, without a line
// per retry.
func logOnce(log io.Writer) nats.ConnErrHandler {
	var mu sync.Mutex
	last := ""
	return func(_ *nats.Conn, err error) {
		if err == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if msg := secrets.Scrub(err.Error()); msg != last {
			last = msg
			fmt.Fprintf(log, "cannot reach the control server (retrying): %s\n", msg)
		}
	}
}
