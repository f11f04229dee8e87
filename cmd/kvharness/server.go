package main

import (
	"github.com/spf13/cobra"

	"github.com/kvharness/kvharness/cluster"
)

// newServerCmd is `kvharness server -c FILE`: the embedded nats-server as a
// process of its own, which is what --server-bin runs when it names this
// binary (and the default for faults that need processes).
func newServerCmd() *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use:    "server -c CONFIG",
		Short:  "Run one nats-server (the embedded release) from a config file",
		Args:   cobra.NoArgs,
		Hidden: false,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" {
				return usageErr("server needs -c CONFIG")
			}
			if err := cluster.Serve(config); err != nil {
				return usageErr("%v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&config, "config", "c", "", "nats-server config file")
	return cmd
}
