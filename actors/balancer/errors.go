package balancer

import (
	"errors"
	"fmt"
)

// Kinds of errors a proposal can fail with. Each error returned by Propose matches exactly
// one of them with errors.Is; each kind has its status in httpapi's error table.
var (
	// ErrInvalid: the request is malformed (bad limit, unknown topic, bad weights...).
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: Kafka answered, but its layout cannot be planned now (offline replica,
	// reassignment in progress).
	ErrConflict = errors.New("layout cannot be planned now")
	// ErrUnavailable: Kafka could not be read (unreachable, timed out).
	ErrUnavailable = errors.New("kafka unavailable")
	// ErrBusy: too many searches are running; retry later.
	ErrBusy = errors.New("too many plan searches in progress")
	// ErrTimeout: the search did not answer in time (the planners are busy with other
	// searches, or stuck).
	ErrTimeout = errors.New("plan search did not answer in time")
	// ErrStopped: the balancer is stopping or stopped.
	ErrStopped = errors.New("balancer is stopped")
	// ErrInternal: a bug (a recovered panic, an unexpected reply).
	ErrInternal = errors.New("internal error")
)

// kindError carries a kind for errors.Is and a message that does not repeat the kind's
// text, so that clients read "unknown topic \"x\"" rather than a chain of prefixes.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

func withKind(kind, err error) error { return &kindError{kind: kind, err: err} }

// ErrNotFound: no plan has that token.
var ErrNotFound = errors.New("no such plan")
