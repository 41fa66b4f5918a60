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
	f(strings.Replace(good, `[[8192,16383]]`, `[[8192,16000]]`, 1), false, ErrInvalidMetadata, "no owner")
	f(strings.Replace(good, `"global_epoch":9`, `"global_epoch":"9"`, 1), false, ErrInvalidMetadata, "")
	old := `{"version":"mem-broker-0.1","global_epoch":3,"clusters":{},"all_proxies":{"a:1":{"proxy_address":"a:1","node_addresses":["a:2","a:3"],"host":"a","cluster":null}},"failed_proxies":[],"failures":{}}`
	ms, err = ParseStore([]byte(old), true)
	if err != nil || ms.Version != StoreVersion || ms.EnableOrderedProxy || ms.AllProxies["a:1"].Index != 0 {
		t.Fatalf("upgrading mem-broker-0.1: %+v, %v", ms, err)
	}
}
