package actors

import "github.com/seed248d40c9/fulcrum/actors/meta"

// Errors of the engine itself, beside the broker's own codes in package meta.
var (
	// ErrInternal answers a request whose handling panicked; the actor keeps running.
	ErrInternal = &meta.Error{Code: "INTERNAL_ERROR"}
	// ErrTimeout answers a request whose actor did not reply in time. For a change it means
	// "not applied": the change was not accepted before the asker gave up, and never will be.
	ErrTimeout = &meta.Error{Code: "TIMEOUT"}
	// ErrOutcomeUnknown answers a change that was accepted but whose commit did not report
	// within the store's timeout: it may or may not be applied; read the state to know.
	ErrOutcomeUnknown = &meta.Error{Code: "OUTCOME_UNKNOWN"}
	// ErrStopped answers requests made after Stop.
	ErrStopped = &meta.Error{Code: "UNAVAILABLE"}
	// ErrOverloaded answers a whole-state restore while another one runs: each holds the
	// parsed document, several times the size of its body, in memory.
	ErrOverloaded = &meta.Error{Code: "OVERLOADED"}
)
