package meta

import (
	"errors"
	"strings"
	"testing"
)

func TestParseStore(t *testing.T) {
	good := mustJSON(t, exampleStore())
	ms, err := ParseStore([]byte(good), false)
	if err != nil || ms.Clusters["mycluster"] == nil {
		t.Fatalf("ParseStore(valid) = %v", err)
	}
	f := func(doc string, allowOld bool, want error, msg string) {
		t.Helper()
		_, err := ParseStore([]byte(doc), allowOld)
		if !errors.Is(err, want) || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseStore(%.60s...) = %v, want %v containing %q", doc, err, want, msg)
		}
	}
	f(`{"version":"mem-broker-0.3"}`, false, ErrInvalidMetaVersion, "mem-broker-0.3")
	f(`{"version":"mem-broker-0.1","global_epoch":0,"clusters":{},"all_proxies":{},"failed_proxies":[],"failures":{}}`, false, ErrInvalidMetaVersion, "0.1")
	f(`{"version":"mem-broker-0.2","global_epoch":0,"clusters":{},"all_proxies":{},"failed_proxies":[],"failures":{}}`, false, ErrInvalidMetadata, "enable_ordered_proxy")
	f(`{"version":"mem-broker-0.2"`, false, ErrInvalidMetadata, "unexpected end")
	f(`[]`, false, ErrInvalidMetadata, "")
	f(strings.Replace(good, `"role_position":"Normal"`, `"role_position":"Sideways"`, 1), false, ErrInvalidMetadata, "Sideways")
	f(strings.Replace(good, `"global_epoch":9`, `"global_epoch":"9"`, 1), false, ErrInvalidMetadata, "")
	old := `{"version":"mem-broker-0.1","global_epoch":3,"clusters":{},"all_proxies":{"a:1":{"proxy_address":"a:1","node_addresses":["a:2","a:3"],"host":"a","cluster":null}},"failed_proxies":[],"failures":{}}`
	ms, err = ParseStore([]byte(old), true)
	if err != nil || ms.Version != StoreVersion || ms.EnableOrderedProxy || ms.AllProxies["a:1"].Index != 0 {
		t.Fatalf("upgrading mem-broker-0.1: %+v, %v", ms, err)
	}
}

// TestCheckStore: after the version, undermoon's order is the epoch, then the document; so a
// stale and broken push is refused as stale.
func TestCheckStore(t *testing.T) {
	good := mustJSON(t, exampleStore()) // global_epoch 9
	broken := strings.Replace(good, `[[8192,16383]]`, `[[8192,16000]]`, 1)
	tests := []struct {
		name    string
		doc     string
		current uint64
		want    error
	}{
		{"valid, same epoch", good, 9, nil},
		{"valid, newer than current", good, 3, nil},
		{"valid, stale", good, 10, ErrEpochSmallerThanCurrent},
		{"broken, stale", broken, 10, ErrEpochSmallerThanCurrent},
		{"broken, not stale", broken, 9, ErrInvalidMetadata},
		{"epoch above 2^63", strings.Replace(good, `"global_epoch":9`, `"global_epoch":9223372036854775809`, 1), 0, ErrEpochOutOfRange},
		{"epoch 2^63", strings.Replace(good, `"global_epoch":9`, `"global_epoch":9223372036854775808`, 1), 0, nil},
		{"epoch 2^64-1, broken", strings.Replace(broken, `"global_epoch":9`, `"global_epoch":18446744073709551615`, 1), 0, ErrEpochOutOfRange},
	}
	for _, tt := range tests {
		ms, err := ParseStore([]byte(tt.doc), false)
		if err != nil {
			t.Fatalf("%s: ParseStore: %v", tt.name, err)
		}
		if err := CheckStore(ms, tt.current); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: CheckStore = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestAddEpoch(t *testing.T) {
	tests := []struct {
		e, n, want uint64
		err        error
	}{
		{0, 1, 1, nil},
		{MaxEpoch, 1, MaxEpoch + 1, nil},
		{1<<64 - 2, 1, 1<<64 - 1, nil},
		{1<<64 - 1, 1, 1<<64 - 1, ErrEpochExhausted},
		{1<<64 - 2, 2, 1<<64 - 2, ErrEpochExhausted},
	}
	for _, tt := range tests {
		got, err := AddEpoch(tt.e, tt.n)
		if got != tt.want || err != tt.err {
			t.Errorf("AddEpoch(%d, %d) = %d, %v; want %d, %v", tt.e, tt.n, got, err, tt.want, tt.err)
		}
	}
}
