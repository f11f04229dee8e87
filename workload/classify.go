// Package workload drives client operations against a NATS KV bucket and
// records them: op generation, pacing, the clients, error classification,
// the recording watcher and the final reads.
package workload

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kvharness/kvharness/history"
)

// Classify maps an error from nats.go or the server to an outcome and an
// error class. It is the one table of the project; tests drive each class
// it can against a real server.
//
// The rule for writes: a failure is definite only when we know nothing was
// written (a precondition was refused, the request was refused before
// anything was stored, nobody stored the subject). Everything else — and
// anything we do not recognise — is unknown, because calling an unknown a
// failure makes the checker report violations that did not happen.
//
// Reads change nothing, so any read error is simply a failed read.
func Classify(op string, err error) (history.Outcome, string) {
	if err == nil {
		return history.OK, ""
	}
	class := classOf(err)
	if !history.IsWrite(op) {
		if class == "not-found" {
			return history.OK, ""
		}
		return history.Fail, class
	}
	switch class {
	case history.ClassConflict, history.ClassBusy, history.ClassBadRequest, history.ClassNoResponders:
		return history.Fail, class
	case "not-found":
		// A write never answers "not found"; if one does, we cannot know.
		return history.Unknown, history.ClassOther
	}
	return history.Unknown, class
}

// conflictCodes: "wrong last sequence". 10071 ("wrong last sequence: N") is
// a settled mismatch, on R1 and replicated streams alike. 10164 ("wrong last
// sequence", no number; nats-server 2.12+) is a replicated stream's leader
// refusing a CAS while another write to the key is in flight
// (server/jetstream_batching.go): nothing is proposed, so it is a definite
// failure, but the precondition was never compared — the expected revision
// may well have been the current one. It gets its own class so the checker
// does not read it as "the revision differed". (Checked in classify_test.go
// on v2.15.2.)
var conflictCodes = map[jetstream.ErrorCode]bool{
	jetstream.JSErrCodeStreamWrongLastSequence:         true,
	jetstream.JSErrCodeStreamWrongLastSequenceConstant: true,
}

func classOf(err error) string {
	// First: nats.go wraps 10164 so that it also matches ErrKeyExists and
	// ErrKeyRevisionMismatch below, which would call it a conflict.
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant {
		return history.ClassBusy
	}
	// A 10071 names the key's last revision ("wrong last sequence: N"),
	// on every release read here (2.9.20 to 2.15.2); one that names none is
	// not taken for a comparison: busy, as 10164. The checker reads the
	// same from the text.
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		if _, named, _ := history.WrongLastSequence(apiErr.Description); !named {
			return history.ClassBusy
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return "not-found"
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return history.ClassConflict
	case errors.Is(err, jetstream.ErrInvalidKey), errors.Is(err, nats.ErrMaxPayload),
		errors.Is(err, nats.ErrBadSubject), errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum),
		errors.Is(err, nats.ErrPermissionViolation):
		return history.ClassBadRequest
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return history.ClassNoResponders
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return history.ClassTimeout
	case errors.Is(err, context.Canceled):
		return history.ClassCanceled
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrStaleConnection), errors.Is(err, nats.ErrInvalidConnection),
		errors.Is(err, io.EOF):
		return history.ClassDisconnected
	}
	if errors.As(err, &apiErr) {
		switch {
		case conflictCodes[apiErr.ErrorCode]:
			return history.ClassConflict
		case strings.Contains(strings.ToLower(apiErr.Description), "wrong last sequence"):
			// Older servers: same meaning, other codes.
			return history.ClassConflict
		case apiErr.Code == 503:
			return history.ClassUnavailable
		case apiErr.Code == 400:
			return history.ClassBadRequest
		case apiErr.ErrorCode == jetstream.JSErrCodeMessageNotFound:
			return "not-found"
		}
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "wrong last sequence"):
		return history.ClassConflict
	case strings.Contains(msg, "no suitable peers"), strings.Contains(msg, "not current"),
		strings.Contains(msg, "no leader"), strings.Contains(msg, "temporarily unavailable"):
		return history.ClassUnavailable
	}
	return history.ClassOther
}
