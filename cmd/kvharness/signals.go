package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// untilInterrupted is a context the first SIGINT or SIGTERM ends: the run,
// session or search in progress stops what it issues, reads the final
// state, checks what it recorded and reports. A second signal kills the
// process the default way — a history stays valid up to its last line.
func untilInterrupted() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}
