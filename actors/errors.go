package actors

import "github.com/seed248d40c9/fulcrum/actors/meta"

// Errors of the engine itself, beside the broker's own codes in package meta.
var (
	// ErrInternal answers a request whose handling panicked; the actor keeps running.
	ErrInternal = &meta.Error{Code: "INTERNAL_ERROR"}
	// ErrTimeout answers a request whose actor did not reply in time.
	ErrTimeout = &meta.Error{Code: "TIMEOUT"}
	// ErrStopped answers requests made after Stop.
	ErrStopped = &meta.Error{Code: "UNAVAILABLE"}
	// ErrOverloaded answers a whole-state restore while another one runs: each holds the
	// parsed document, several times the size of its body, in memory.
	ErrOverloaded = &meta.Error{Code: "OVERLOADED"}
)
