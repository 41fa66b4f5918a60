package meta

import "errors"

// Error is a broker error with undermoon's wire code (the "error" field of the JSON body).
// The HTTP status of each code lives in one table in httpapi/errors.go.
type Error struct{ Code string }

func (e *Error) Error() string { return e.Code }

// The broker's sentinel errors, one per undermoon code that Fulcrum produces.
var (
	ErrInUse                   = &Error{"IN_USE"}
	ErrNoAvailableResource     = &Error{"NO_AVAILABLE_RESOURCE"}
	ErrResourceNotBalance      = &Error{"RESOURCE_NOT_BALANCE"}
	ErrAlreadyExisted          = &Error{"ALREADY_EXISTED"}
	ErrClusterNotFound         = &Error{"CLUSTER_NOT_FOUND"}
	ErrFreeNodeNotFound        = &Error{"FREE_NODE_NOT_FOUND"}
	ErrFreeNodeFound           = &Error{"FREE_NODE_FOUND"}
	ErrProxyNotFound           = &Error{"PROXY_NOT_FOUND"}
	ErrInvalidNodeNumber       = &Error{"INVALID_NODE_NUMBER"}
	ErrNodeNumAlreadyEnough    = &Error{"NODE_NUM_ALREADY_ENOUGH"}
	ErrInvalidClusterName      = &Error{"INVALID_CLUSTER_NAME"}
	ErrInvalidMigrationTask    = &Error{"INVALID_MIGRATION_TASK"}
	ErrInvalidProxyAddress     = &Error{"INVALID_PROXY_ADDRESS"}
	ErrMigrationTaskNotFound   = &Error{"MIGRATION_TASK_NOT_FOUND"}
	ErrMigrationRunning        = &Error{"MIGRATION_RUNNING"}
	ErrInvalidConfig           = &Error{"INVALID_CONFIG"}
	ErrSlotsAlreadyEven        = &Error{"SLOTS_ALREADY_EVEN"}
	ErrInvalidMetaVersion      = &Error{"INVALID_META_VERSION"}
	ErrEpochSmallerThanCurrent = &Error{"EPOCH_SMALLER_THAN_CURRENT"}
	ErrMissingProxyIndex       = &Error{"MISSING_SERVER_PROXY_INDEX"}
	ErrProxyOutOfOrder         = &Error{"PROXY_RESOURCE_OUT_OF_ORDER"}
	ErrOneClusterExisted       = &Error{"ONE_CLUSTER_ALREADY_EXISTED"}
	ErrProxyNotSync            = &Error{"PROXY_NOT_SYNC"}
	ErrNodeNumberChanging      = &Error{"NODE_NUMBER_CHANGING"}
	ErrPersistence             = &Error{"PERSISTENCE_IO_ERROR"}
	// ErrTooManyReporters is a failure report for a proxy that has MaxReporters live ones.
	ErrTooManyReporters = &Error{"TOO_MANY_REPORTERS"}
	// ErrEpochOutOfRange is an epoch above MaxEpoch: set, restored or reported by a proxy.
	ErrEpochOutOfRange = &Error{"EPOCH_OUT_OF_RANGE"}
	// ErrEpochExhausted is a change that would move the global epoch past 2^64-1.
	ErrEpochExhausted = &Error{"EPOCH_EXHAUSTED"}
	// ErrInvalidRequest is a request that is malformed beyond what undermoon has a code for.
	ErrInvalidRequest = &Error{"INVALID_REQUEST"}
)

// ConfigError is INVALID_CONFIG with the offending key and value, as undermoon reports it.
type ConfigError struct {
	Key, Value string
	Message    string // FIELD_NOT_FOUND or INVALID_VALUE
}

func (e *ConfigError) Error() string {
	return "INVALID_CONFIG " + e.Key + "=" + e.Value + ": " + e.Message
}

func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// Code returns the wire code of a broker error, or "" when err is not one.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
