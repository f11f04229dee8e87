package main

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

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
	fl.DurationVar(&cfg.ClockSkew, "clock-skew", 0, "tests only: add this to the worker's clock")
	_ = fl.MarkHidden("clock-skew")
	authFlags(cmd, &cfg.Auth)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if control == "" {
			return usageErr("worker needs --control URL (the coordinator's control server)")
		}
		if cfg.Name == "" {
			host, _ := os.Hostname()
			cfg.Name = strings.Map(func(r rune) rune {
				if validName(string(r)) {
					return r
				}
				return '-'
			}, host) + "-" + strconv.Itoa(os.Getpid())
		}
		if !validName(cfg.Name) {
			return usageErr("--name %q: letters, digits, '-' and '_' only", cfg.Name)
		}
		cfg.Log = cmd.ErrOrStderr()
		// The control server may not be up yet (workers are often started
		// beside their coordinator): keep trying, as after a disconnect.
		nc, err := nats.Connect(control, nats.Name("kvharness-worker-"+cfg.Name), nats.Timeout(5*time.Second),
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
		if err != nil {
			return usageErr("cannot reach the control server %s: %s", secrets.URL(control), secrets.Scrub(err.Error()))
		}
		defer nc.Close()
		ctx, stop := untilInterrupted()
		defer stop()
		if err := fleet.Serve(ctx, nc, cfg); err != nil {
			return usageErr("%v", err)
		}
		return nil
	}
	return cmd
}

// validName: a worker's name is a token of NATS subjects.
func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}
