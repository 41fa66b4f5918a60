package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/meta"
)

func clusterOf(t *testing.T, s *testServer, name string) *meta.ClusterView {
	t.Helper()
	var body struct{ Cluster *meta.ClusterView }
	s.getJSON("/clusters/meta/"+name, &body)
	return body.Cluster
}

// commitAll commits every Migrating range the view shows, like a coordinator, until none.
func commitAll(t *testing.T, s *testServer, name string) {
	t.Helper()
	for round := 0; round < 100; round++ {
		committed := false
		for _, n := range clusterOf(t, s, name).Nodes {
			for _, r := range n.Slots {
				if r.Tag.Kind != meta.TagMigrating {
					continue
				}
				task, _ := json.Marshal(map[string]any{"cluster_name": name, "slot_range": r})
				s.okEmpty("PUT", "/clusters/migrations", string(task))
				wantError(t, s.api("PUT", "/clusters/migrations", string(task)), 404, "MIGRATION_TASK_NOT_FOUND")
				committed = true
			}
		}
		if !committed {
			return
		}
	}
	t.Fatal("migrations do not converge")
}

func TestScalingEndpoints(t *testing.T) {
	s := startServer(t, withEngine(func(o *actors.Options) { o.MigrationLimit = 1 }))
	s.addHosts(4, 2)
	s.okEmpty("POST", "/clusters/meta/c", `{"node_number":4}`)

	var added []meta.NodeView
	if err := json.Unmarshal(s.ok("PATCH", "/clusters/nodes/c", `{"node_number":4}`), &added); err != nil || len(added) != 4 {
		t.Fatalf("PATCH nodes answered %d nodes (%v), want the 4 new ones", len(added), err)
	}
	for _, n := range added {
		if n.ClusterName != "c" || len(n.Slots) != 0 {
			t.Fatalf("new node %+v must belong to c and carry no slots", n)
		}
	}
	wantError(t, s.api("PUT", "/clusters/nodes/c", `{"cluster_node_number":8}`), 409, "NODE_NUM_ALREADY_ENOUGH")
	wantError(t, s.api("POST", "/clusters/migrations/shrink/c/4", ""), 409, "FREE_NODE_FOUND")
	s.okEmpty("POST", "/clusters/migrations/expand/c", "")
	wantError(t, s.api("POST", "/clusters/migrations/expand/c", ""), 409, "MIGRATION_RUNNING")
	wantError(t, s.api("PATCH", "/clusters/nodes/c", `{"node_number":4}`), 409, "MIGRATION_RUNNING")
	wantError(t, s.api("DELETE", "/clusters/free_nodes/c", ""), 409, "MIGRATION_RUNNING")
	wantError(t, s.api("PATCH", "/clusters/config/c", `{"compression_strategy":"allow_all"}`), 409, "MIGRATION_RUNNING")
	var info meta.ClusterInfo
	s.getJSON("/clusters/info/c", &info)
	if !info.IsMigrating || info.NodeNumber != 8 {
		t.Fatalf("info during migration: %+v", info)
	}
	commitAll(t, s, "c")
	wantError(t, s.api("POST", "/clusters/migrations/expand/c", ""), 400, "SLOTS_ALREADY_EVEN")
	wantError(t, s.api("DELETE", "/clusters/free_nodes/c", ""), 404, "FREE_NODE_NOT_FOUND")
	s.okEmpty("POST", "/clusters/migrations/shrink/c/4", "")
	commitAll(t, s, "c")
	s.okEmpty("DELETE", "/clusters/free_nodes/c", "")
	s.getJSON("/clusters/info/c", &info)
	if info != (meta.ClusterInfo{Name: "c", NodeNumber: 4, NodeNumberWithSlots: 4}) {
		t.Fatalf("after scaling back: %+v", info)
	}
	var grown []meta.NodeView
	json.Unmarshal(s.ok("PUT", "/clusters/nodes/c", `{"cluster_node_number":12}`), &grown)
	if len(grown) != 8 {
		t.Fatalf("PUT nodes to 12 answered %d nodes", len(grown))
	}
}

func TestScalingErrors(t *testing.T) {
	s := startServer(t)
	s.addHosts(2, 1)
	s.okEmpty("POST", "/clusters/meta/c", `{"node_number":4}`)
	f := func(method, path, body string, status int, code string) {
		t.Helper()
		wantError(t, s.api(method, path, body), status, code)
	}
	f("PATCH", "/clusters/nodes/c", `{"node_number":3}`, 400, "INVALID_NODE_NUMBER")
	f("PATCH", "/clusters/nodes/c", `{"node_number":4}`, 409, "NO_AVAILABLE_RESOURCE")
	f("PATCH", "/clusters/nodes/c", `{"node_number":"4"}`, 400, "INVALID_REQUEST")
	f("PATCH", "/clusters/nodes/c", `{}`, 400, "INVALID_REQUEST")
	f("PATCH", "/clusters/nodes/c", `{"node_number":4`, 400, "INVALID_REQUEST")
	f("PATCH", "/clusters/nodes/nope", `{"node_number":4}`, 404, "CLUSTER_NOT_FOUND")
	f("PATCH", "/clusters/nodes/no.pe", `{"node_number":4}`, 400, "INVALID_CLUSTER_NAME")
	f("PUT", "/clusters/nodes/c", `{"node_number":8}`, 400, "INVALID_REQUEST") // wrong field name
	f("PUT", "/clusters/nodes/c", `{"cluster_node_number":4}`, 409, "NODE_NUM_ALREADY_ENOUGH")
	f("POST", "/clusters/migrations/shrink/c/abc", "", 400, "INVALID_REQUEST")
	f("POST", "/clusters/migrations/shrink/c/4", "", 400, "INVALID_NODE_NUMBER")
	f("POST", "/clusters/migrations/shrink/c/0", "", 400, "INVALID_NODE_NUMBER")
	f("POST", "/clusters/migrations/shrink/nope/4", "", 404, "CLUSTER_NOT_FOUND")
	f("POST", "/clusters/migrations/expand/c", "", 400, "SLOTS_ALREADY_EVEN")
	f("POST", "/clusters/migrations/expand/nope", "", 404, "CLUSTER_NOT_FOUND")
	f("POST", "/clusters/migrations/auto/c/6", "", 400, "INVALID_NODE_NUMBER")
	f("POST", "/clusters/migrations/auto/c/x", "", 400, "INVALID_REQUEST")
	f("POST", "/clusters/migrations/auto/nope/8", "", 404, "CLUSTER_NOT_FOUND")
	f("DELETE", "/clusters/free_nodes/c", "", 404, "FREE_NODE_NOT_FOUND")
	f("DELETE", "/clusters/free_nodes/nope", "", 404, "CLUSTER_NOT_FOUND")
	task := func(name, tag string) string {
		return fmt.Sprintf(`{"cluster_name":%q,"slot_range":{"range_list":[[0,5000]],"tag":%s}}`, name, tag)
	}
	migrating := `{"Migrating":{"epoch":3,"src_proxy_address":"a:1","src_node_address":"a:2","dst_proxy_address":"b:1","dst_node_address":"b:2"}}`
	f("PUT", "/clusters/migrations", task("c", `"None"`), 400, "INVALID_MIGRATION_TASK")
	f("PUT", "/clusters/migrations", task("c", migrating), 404, "MIGRATION_TASK_NOT_FOUND")
	f("PUT", "/clusters/migrations", task("nope", migrating), 404, "CLUSTER_NOT_FOUND")
	f("PUT", "/clusters/migrations", task("c", `"Whatever"`), 400, "INVALID_REQUEST")
	f("PUT", "/clusters/migrations", `{"cluster_name":"c"}`, 400, "INVALID_REQUEST")
	f("PUT", "/clusters/migrations", `[]`, 400, "INVALID_REQUEST")
	if r := s.api("GET", "/clusters/migrations", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /clusters/migrations: %d", r.status)
	}
}
