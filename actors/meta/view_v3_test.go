package meta

import "testing"

func TestProxyViewV3(t *testing.T) {
	got := mustJSON(t, exampleCluster().View(1).ProxyView("10.0.0.1:6001").V3())
	want := `{"cluster_name":"mycluster","address":"10.0.0.1:6001","epoch":3,"nodes":[` +
		`{"address":"10.0.0.1:7001","proxy_address":"10.0.0.1:6001","slots":[{"range_list":[[0,8191]],"tag":"None"}],"repl":{"role":"master","peers":[{"node_address":"10.0.0.2:7004","proxy_address":"10.0.0.2:6002"}]}},` +
		`{"address":"10.0.0.1:7002","proxy_address":"10.0.0.1:6001","slots":[],"repl":{"role":"replica","peers":[{"node_address":"10.0.0.2:7003","proxy_address":"10.0.0.2:6002"}]}}],` +
		`"peers":[{"proxy_address":"10.0.0.2:6002","slots":[{"range_list":[[8192,16383]],"tag":"None"}]}],"cluster_config":` + cfgJSON + `}`
	if got != want {
		t.Errorf("v3 proxy view\n got %s\nwant %s", got, want)
	}
}

func TestFreeProxyViewV3(t *testing.T) {
	p := &ProxyResource{ProxyAddress: "h:1", NodeAddresses: [2]string{"h:2", "h:3"}, Host: "h"}
	got := mustJSON(t, FreeProxyView(p, 7).V3())
	want := `{"cluster_name":null,"address":"h:1","epoch":7,"nodes":[` +
		`{"address":"h:2","proxy_address":"h:1","slots":[],"repl":{"role":"master","peers":[]}},` +
		`{"address":"h:3","proxy_address":"h:1","slots":[],"repl":{"role":"master","peers":[]}}],"peers":[],"cluster_config":null}`
	if got != want {
		t.Errorf("v3 free proxy view\n got %s\nwant %s", got, want)
	}
}
