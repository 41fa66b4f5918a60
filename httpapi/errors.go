package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// The HTTP layer's own codes: requests refused before any actor sees them.
var (
	errNoEndpoint       = &meta.Error{Code: "NOT_FOUND"}
	errMethodNotAllowed = &meta.Error{Code: "METHOD_NOT_ALLOWED"}
	errPayloadTooLarge  = &meta.Error{Code: "PAYLOAD_TOO_LARGE"}
	errRequestTimeout   = &meta.Error{Code: "REQUEST_TIMEOUT"}
	errUnauthorized     = &meta.Error{Code: "UNAUTHORIZED"}
	errReplicaReadOnly  = &meta.Error{Code: "REPLICA_READ_ONLY"}
)

// errorRow is one row of the error table: an error value, its HTTP status and what it means.
// The row's wire shape follows from its value: a *meta.Error answers undermoon's
// {"error": CODE, "message": ...} with its Code; any other value is a balancer kind, matched
// with errors.Is, and answers Astraea's {"code": status, "message": ...}.
type errorRow struct {
	err         error
	status      int
	description string
}

// errorTable is every error Fulcrum answers with, and the only place statuses are decided.
// Broker codes and statuses are undermoon's (its code, where its docs disagree); the rest are
// Fulcrum's own. A new error value needs its row here: TestErrorTableCoversEveryError fails
// otherwise, and TestOpenAPIErrorCodes wants its code in openapi.json.
var errorTable = []errorRow{
	// The broker (package meta): undermoon's codes.
	{meta.ErrInUse, 409, "the proxy belongs to a cluster"},
	{meta.ErrNoAvailableResource, 409, "not enough free proxies on enough hosts"},
	{meta.ErrResourceNotBalance, 409, "one host holds more than half of the free proxies"},
	{meta.ErrAlreadyExisted, 409, "already exists"},
	{meta.ErrClusterNotFound, 404, "no such cluster"},
	{meta.ErrFreeNodeNotFound, 404, "the cluster has no slot-less nodes"},
	{meta.ErrFreeNodeFound, 409, "the cluster has slot-less nodes"},
	{meta.ErrProxyNotFound, 404, "no such proxy"},
	{meta.ErrInvalidNodeNumber, 400, "node number must be a positive multiple of 4"},
	{meta.ErrNodeNumAlreadyEnough, 409, "the cluster already has that many nodes"},
	{meta.ErrInvalidClusterName, 400, "cluster names are 1 to 31 characters of [A-Za-z0-9@_-]"},
	{meta.ErrInvalidMigrationTask, 400, "invalid migration task"},
	{meta.ErrInvalidProxyAddress, 400, "proxy address must be host:port"},
	{meta.ErrMigrationTaskNotFound, 404, "no such migration task"},
	{meta.ErrMigrationRunning, 409, "the cluster is migrating slots"},
	{meta.ErrInvalidConfig, 400, "invalid cluster config"},
	{meta.ErrSlotsAlreadyEven, 400, "no slot-less nodes to expand to"},
	{meta.ErrInvalidMetaVersion, 409, "unsupported metadata version"},
	{meta.ErrInvalidMetadata, 400, "the metadata document is malformed or breaks an invariant"},
	{meta.ErrEpochSmallerThanCurrent, 409, "the epoch must be larger than the current one"},
	{meta.ErrMissingProxyIndex, 400, "ordered-proxy mode needs the proxy's index"},
	{meta.ErrProxyOutOfOrder, 409, "free proxy indices are not consecutive"},
	{meta.ErrOneClusterExisted, 409, "ordered-proxy mode allows one cluster"},
	{meta.ErrProxyNotSync, 500, "proxies did not reach the cluster's epoch"},
	{meta.ErrNodeNumberChanging, 409, "another scaling operation is running on the cluster"},
	{meta.ErrPersistence, 500, "the change could not be written to disk"},
	{meta.ErrTooManyReporters, 409, "the proxy already has the most live failure reports kept (64)"},
	{meta.ErrEpochOutOfRange, 400, "epochs are at most 2^63, so that they can still grow"},
	{meta.ErrEpochExhausted, 409, "the global epoch cannot grow any more"},
	{meta.ErrInvalidRequest, 400, "malformed request"},

	// The engine (package actors): asks that did not get, or could not get, an answer.
	{actors.ErrInternal, 500, "internal error"},
	{actors.ErrTimeout, 503, "the engine did not answer in time; a change was not applied"},
	{actors.ErrOutcomeUnknown, 504, "the change was accepted but its commit did not report in time; it may be applied"},
	{actors.ErrStopped, 503, "the service is shutting down"},
	{actors.ErrOverloaded, 503, "too many requests or request body bytes in flight, or another restore running"},
	{actors.ErrNoLeader, 503, "no leader takes changes now (HA on etcd): none is elected, it cannot be reached, or it lost its leadership; nothing was written"},
	{actors.ErrEtcdUnavailable, 503, "this instance cannot reach etcd (HA), or a commit's outcome is unknown; retry"},

	// HTTP itself.
	{errNoEndpoint, 404, "no such endpoint"},
	{errMethodNotAllowed, 405, "method not allowed on this endpoint"},
	{errPayloadTooLarge, 413, "request body too large"},
	{errRequestTimeout, 408, "request not received in time"},
	{errUnauthorized, 401, "a valid bearer token is required (--auth-token-file)"},
	{errReplicaReadOnly, 409, "a replica takes changes only from its master's push"},

	// The balancer (package balancer): kinds, in Astraea's shape.
	{balancer.ErrInvalid, 400, "the request is malformed"},
	{balancer.ErrConflict, 409, "Kafka's layout or the plan's state does not allow it now"},
	{balancer.ErrNotFound, 404, "no such plan"},
	{balancer.ErrUnavailable, 503, "Kafka could not be read; retry later"},
	{balancer.ErrBusy, 503, "too many plan searches in progress; retry later"},
	{balancer.ErrTimeout, 503, "the search or the plan did not answer in time; retry later"},
	{balancer.ErrStopped, 503, "the balancer is stopping"},
	{balancer.ErrInternal, 500, "internal error"},
}

// byCode indexes the table's undermoon rows by code; balancerKinds are the other rows, in
// table order.
var byCode, balancerKinds = indexErrorTable(errorTable)

func indexErrorTable(table []errorRow) (map[string]*errorRow, []*errorRow) {
	codes := make(map[string]*errorRow)
	var kinds []*errorRow
	for i := range table {
		r := &table[i]
		if e, ok := r.err.(*meta.Error); ok {
			if codes[e.Code] != nil {
				panic("httpapi: error code " + e.Code + " has two rows")
			}
			codes[e.Code] = r
			continue
		}
		kinds = append(kinds, r)
	}
	return codes, kinds
}

// requestError is an error of the table with a message saying what exactly is wrong.
type requestError struct {
	kind    *meta.Error
	message string
}

func (e *requestError) Error() string { return e.kind.Code + ": " + e.message }

func (e *requestError) Unwrap() error { return e.kind }

func badRequest(msg string) error { return &requestError{meta.ErrInvalidRequest, msg} }

type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// configErrorBody is undermoon's INVALID_CONFIG shape: key and value always present.
type configErrorBody struct {
	Error   string `json:"error"`
	Key     string `json:"key"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

// writeError renders err as {"error": CODE, "message": ...} with the status of the code's
// row. The message is a requestError's own, the row's description for a bare sentinel, and
// err's text otherwise. An error without a row is a bug (the table test walks every error
// value): it answers INTERNAL_ERROR, naming the error.
func writeError(ctx *fasthttp.RequestCtx, err error) {
	var ce *meta.ConfigError
	if errors.As(err, &ce) {
		// undermoon's INVALID_CONFIG carries the key and value, and the reason as message.
		b, _ := json.Marshal(configErrorBody{Error: "INVALID_CONFIG", Key: ce.Key, Value: ce.Value, Message: ce.Message})
		writeJSONError(ctx, byCode[meta.ErrInvalidConfig.Code].status, b)
		return
	}
	code := meta.Code(err)
	row := byCode[code]
	body := errorBody{Error: code, Message: err.Error()}
	var re *requestError
	switch {
	case row == nil:
		row = byCode[actors.ErrInternal.Code]
		body.Error = actors.ErrInternal.Code
		if code != "" {
			body.Message = fmt.Sprintf("error code %s has no row in the error table: %v", code, err)
		}
	case errors.As(err, &re):
		body.Message = re.message
	case err.Error() == code:
		body.Message = row.description
	}
	b, _ := json.Marshal(body)
	writeJSONError(ctx, row.status, b)
}

func writeJSONError(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
}

// balancerStatus is the status of the balancer kind err matches. An error of no kind is
// Kafka or the planners not answering as expected, worth retrying later: 503.
func balancerStatus(err error) int {
	for _, r := range balancerKinds {
		if errors.Is(err, r.err) {
			return r.status
		}
	}
	return fasthttp.StatusServiceUnavailable
}
