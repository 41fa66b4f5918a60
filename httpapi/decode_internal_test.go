package httpapi

import (
	"errors"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

func TestStrictUnmarshal(t *testing.T) {
	type inner struct {
		Epoch uint64 `json:"epoch"`
	}
	type body struct {
		NodeNumber *int64            `json:"node_number"`
		Items      []inner           `json:"items"`
		Labels     map[string]string `json:"labels"`
		Any        any               `json:"any"`
		Proxy      *meta.ProxyResource
	}
	tests := []struct {
		name, doc string
		want      error
	}{
		{"plain", `{"node_number":4}`, nil},
		{"unknown keys are ignored", `{"node_number":4,"cost":1.5}`, nil},
		{"duplicate key", `{"node_number":4,"node_number":8}`, ErrDuplicateKey},
		{"wrong case", `{"NODE_NUMBER":4}`, ErrKeyCase},
		{"wrong case, one letter", `{"Node_number":4}`, ErrKeyCase},
		{"field name without tag", `{"Proxy":{"proxy_address":"a:1"}}`, nil},
		{"field name without tag, wrong case", `{"proxy":{}}`, ErrKeyCase},
		{"wrong case in an array element", `{"items":[{"epoch":1},{"EPOCH":2}]}`, ErrKeyCase},
		{"duplicate in an array element", `{"items":[{"epoch":1,"epoch":2}]}`, ErrDuplicateKey},
		{"map keys are data", `{"labels":{"A":"1","a":"2"}}`, nil},
		{"duplicate map key", `{"labels":{"a":"1","a":"2"}}`, ErrDuplicateKey},
		{"duplicate under any", `{"any":{"x":{"y":1,"y":2}}}`, ErrDuplicateKey},
		{"custom unmarshaler's shape", `{"Proxy":{"Proxy_Address":"a:1"}}`, ErrKeyCase},
		{"custom unmarshaler, duplicate", `{"Proxy":{"host":"a","host":"b"}}`, ErrDuplicateKey},
	}
	for _, tt := range tests {
		var v body
		err := strictUnmarshal([]byte(tt.doc), &v)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: strictUnmarshal(%s) = %v, want %v", tt.name, tt.doc, err, tt.want)
		}
	}
}

func TestStrictUnmarshalMetaStore(t *testing.T) {
	tests := []struct {
		name, doc string
		want      error
	}{
		{"top-level duplicate", `{"version":"mem-broker-0.2","global_epoch":1,"global_epoch":2}`, ErrDuplicateKey},
		{"top-level case", `{"Global_Epoch":1}`, ErrKeyCase},
		{"chunk key case", `{"clusters":{"c":{"chunks":[{"Role_Position":"Normal"}]}}}`, ErrKeyCase},
		{"task tag case", `{"clusters":{"c":{"chunks":[{"migrating_slots":[[{"meta":{"EPOCH":1}}],[]]}]}}}`, ErrKeyCase},
		{"failures duplicate reporter", `{"failures":{"a:1":{"r":1,"r":2}}}`, ErrDuplicateKey},
		{"malformed is left to json", `{"version":`, nil},
	}
	for _, tt := range tests {
		err := checkKeys([]byte(tt.doc), metaStoreType)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: checkKeys(%s) = %v, want %v", tt.name, tt.doc, err, tt.want)
		}
	}
}

// The balancer's POST body goes through the same decoder.
func TestPlanBodyIsStrict(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"duplicate changes", `{"changes":[{"topic":"a","partition":0,"after":[{"brokerId":1}]}],"changes":[]}`},
		{"wrong case", `{"Changes":[{"topic":"a","partition":0,"after":[{"brokerId":1}]}]}`},
		{"duplicate brokerId", `{"changes":[{"topic":"a","partition":0,"after":[{"brokerId":1,"brokerId":2}]}]}`},
		{"brokerid", `{"changes":[{"topic":"a","partition":0,"after":[{"brokerid":1}]}]}`},
	}
	for _, tt := range tests {
		if _, err := parsePlanBody([]byte(tt.doc)); err == nil {
			t.Errorf("%s: parsePlanBody(%s) accepted it", tt.name, tt.doc)
		}
	}
	if _, err := parsePlanBody([]byte(`{"changes":[{"topic":"a","partition":0,"after":[{"brokerId":1,"size":5}]}],"cost":1}`)); err != nil {
		t.Errorf("a valid body with unknown keys: %v", err)
	}
}
