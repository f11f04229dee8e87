package cluster

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats-server/v2/server"
)

// Serve runs one nats-server from a config file in this process until
// SIGINT/SIGTERM (or SIGKILL). It is what `kvharness server` does, so the
// harness can spawn itself as server processes — real processes to kill
// and pause — on a machine with no nats-server installed.
func Serve(configFile string) error {
	opts, err := server.ProcessConfigFile(configFile)
	if err != nil {
		return fmt.Errorf("server config %s: %w", configFile, err)
	}
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	s.ConfigureLogger()
	s.Start()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		s.Shutdown()
	}()
	s.WaitForShutdown()
	return nil
}
