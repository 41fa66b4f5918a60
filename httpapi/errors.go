package httpapi

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// errorSpec is one row of the API error table: the HTTP status of a code and what it means.
type errorSpec struct {
	Status      int
	Description string
}

// errorTable maps every error code Fulcrum answers with to its status. Broker codes and
// statuses are undermoon's (its code, where its docs disagree); the rest are Fulcrum's own.
var errorTable = map[string]errorSpec{
	"IN_USE":                      {409, "the proxy belongs to a cluster"},
	"NO_AVAILABLE_RESOURCE":       {409, "not enough free proxies on enough hosts"},
	"RESOURCE_NOT_BALANCE":        {409, "one host holds more than half of the free proxies"},
	"ALREADY_EXISTED":             {409, "already exists"},
	"CLUSTER_NOT_FOUND":           {404, "no such cluster"},
	"FREE_NODE_NOT_FOUND":         {404, "the cluster has no slot-less nodes"},
	"FREE_NODE_FOUND":             {409, "the cluster has slot-less nodes"},
	"PROXY_NOT_FOUND":             {404, "no such proxy"},
	"INVALID_NODE_NUMBER":         {400, "node number must be a positive multiple of 4"},
	"NODE_NUM_ALREADY_ENOUGH":     {409, "the cluster already has that many nodes"},
	"INVALID_CLUSTER_NAME":        {400, "cluster names are 1 to 31 characters of [A-Za-z0-9@_-]"},
	"INVALID_MIGRATION_TASK":      {400, "invalid migration task"},
	"INVALID_PROXY_ADDRESS":       {400, "proxy address must be host:port"},
	"MIGRATION_TASK_NOT_FOUND":    {404, "no such migration task"},
	"MIGRATION_RUNNING":           {409, "the cluster is migrating slots"},
	"INVALID_CONFIG":              {400, "invalid cluster config"},
	"SLOTS_ALREADY_EVEN":          {400, "no slot-less nodes to expand to"},
	"INVALID_META_VERSION":        {409, "unsupported metadata version"},
	"INVALID_METADATA":            {400, "the metadata document is malformed or breaks an invariant"},
	"EPOCH_SMALLER_THAN_CURRENT":  {409, "the epoch must be larger than the current one"},
	"MISSING_SERVER_PROXY_INDEX":  {400, "ordered-proxy mode needs the proxy's index"},
	"PROXY_RESOURCE_OUT_OF_ORDER": {409, "free proxy indices are not consecutive"},
	"ONE_CLUSTER_ALREADY_EXISTED": {409, "ordered-proxy mode allows one cluster"},
	"PROXY_NOT_SYNC":              {500, "proxies did not reach the cluster's epoch"},
	"NODE_NUMBER_CHANGING":        {409, "another scaling operation is running on the cluster"},
	"PERSISTENCE_IO_ERROR":        {500, "the change could not be written to disk"},
	"TOO_MANY_REPORTERS":          {409, "the proxy already has the most live failure reports kept (64)"},
	"EPOCH_OUT_OF_RANGE":          {400, "epochs are at most 2^63, so that they can still grow"},
	"EPOCH_EXHAUSTED":             {409, "the global epoch cannot grow any more"},

	"INVALID_REQUEST":    {400, "malformed request"},
	"NOT_FOUND":          {404, "no such endpoint"},
	"METHOD_NOT_ALLOWED": {405, "method not allowed on this endpoint"},
	"PAYLOAD_TOO_LARGE":  {413, "request body too large"},
	"REQUEST_TIMEOUT":    {408, "request not received in time"},
	"INTERNAL_ERROR":     {500, "internal error"},
	"TIMEOUT":            {503, "the engine did not answer in time; a change was not applied"},
	"OUTCOME_UNKNOWN":    {504, "the change was accepted but its commit did not report in time; it may be applied"},
	"UNAVAILABLE":        {503, "the service is shutting down"},
	"OVERLOADED":         {503, "too many requests or request body bytes in flight, or another restore running"},
}

// requestError is a malformed request, with a message saying what is wrong.
type requestError struct {
	code, message string
}

func (e *requestError) Error() string { return e.code + ": " + e.message }

func badRequest(msg string) error { return &requestError{"INVALID_REQUEST", msg} }

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

// writeError renders err as {"error": CODE, "message": ...} with the code's status.
func writeError(ctx *fasthttp.RequestCtx, err error) {
	body := errorBody{Error: "INTERNAL_ERROR", Message: err.Error()}
	var re *requestError
	var ce *meta.ConfigError
	switch {
	case errors.As(err, &re):
		body.Error, body.Message = re.code, re.message
	case errors.As(err, &ce):
		// undermoon's INVALID_CONFIG carries the key and value, and the reason as message.
		b, _ := json.Marshal(configErrorBody{Error: "INVALID_CONFIG", Key: ce.Key, Value: ce.Value, Message: ce.Message})
		ctx.Response.Header.SetContentType("application/json")
		ctx.SetStatusCode(errorTable["INVALID_CONFIG"].Status)
		ctx.SetBody(b)
		return
	default:
		if code := meta.Code(err); code != "" {
			body.Error = code
			if spec, ok := errorTable[code]; ok && err.Error() == code {
				body.Message = spec.Description
			}
		}
	}
	spec, ok := errorTable[body.Error]
	if !ok {
		spec = errorTable["INTERNAL_ERROR"]
	}
	b, _ := json.Marshal(body)
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(spec.Status)
	ctx.SetBody(b)
}
