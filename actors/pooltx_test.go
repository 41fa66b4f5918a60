package actors

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// TestLinksFollowClusterChanges: the host-link table kept up to date delta by delta equals
// the one counted from scratch, and a transaction's view includes its own changes.
func TestLinksFollowClusterChanges(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	st := newPoolState()
	cluster := func(name string) *meta.ClusterStore {
		c := &meta.ClusterStore{Name: name}
		for i := 0; i < 1+rnd.Intn(3); i++ {
			a, b := rnd.Intn(6), rnd.Intn(6)
			c.Chunks = append(c.Chunks, meta.ChunkStore{Hosts: [2]string{fmt.Sprint("h", a), fmt.Sprint("h", b+6)}})
		}
		return c
	}
	for step := 0; step < 300; step++ {
		tx := &poolTx{base: st}
		for i := 0; i < 1+rnd.Intn(3); i++ {
			name := fmt.Sprint("c", rnd.Intn(10))
			if rnd.Intn(3) == 0 {
				tx.setCluster(name, nil)
			} else {
				tx.setCluster(name, cluster(name))
			}
		}
		want := meta.LinksOf(tx.clusters())
		got := tx.links()
		for a := 0; a < 6; a++ {
			for b := 6; b < 12; b++ {
				ha, hb := fmt.Sprint("h", a), fmt.Sprint("h", b)
				if got.Count(ha, hb) != want.Count(ha, hb) {
					t.Fatalf("step %d: transaction sees %d links %s-%s, want %d", step, got.Count(ha, hb), ha, hb, want.Count(ha, hb))
				}
			}
		}
		tx.d.applyTo(st)
		if !reflect.DeepEqual(st.links, meta.LinksOf(st.clusters)) {
			t.Fatalf("step %d: kept links %v, counted %v", step, st.links, meta.LinksOf(st.clusters))
		}
	}
}

// TestFailureJSONMatchesEncodingJSON: the failure record is stored byte for byte as
// json.Marshal would write it, whatever the reporter ids.
func TestFailureJSONMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name    string
		reports map[string]int64
	}{
		{"empty", map[string]int64{}},
		{"one", map[string]int64{"coordinator-1": 1764558000}},
		{"sorted by id", map[string]int64{"b": 2, "a": 1, "c": 3, "aa": 4}},
		{"negative and zero times", map[string]int64{"x": -5, "y": 0}},
		{"quote and backslash", map[string]int64{`a"b`: 1, `c\d`: 2, "plain": 3}},
		{"html characters", map[string]int64{"<script>": 1, "a&b": 2}},
		{"control characters", map[string]int64{"tab\there": 1, "nul\x00": 2}},
		{"unicode", map[string]int64{"коорд": 1, "line\u2028sep": 2}},
		{"invalid utf-8", map[string]int64{"bad\xff": 1}},
		{"delete character", map[string]int64{"del\x7f": 1}},
	}
	for _, tt := range tests {
		want, err := json.Marshal(tt.reports)
		if err != nil {
			t.Fatal(err)
		}
		if got := failureJSON(tt.reports); string(got) != string(want) {
			t.Errorf("%s: failureJSON = %s, json.Marshal = %s", tt.name, got, want)
		}
	}
}

// TestCommitDeltasStoresLastChange: a batch whose deltas change the same records stores
// each record as the last delta left it, deletions included, and the deltas themselves are
// not changed (the pool applies them to its durable state after the write).
func TestCommitDeltasStoresLastChange(t *testing.T) {
	store, err := persist.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p1 := &meta.ProxyResource{ProxyAddress: "p1:1", Host: "h1"}
	p2 := &meta.ProxyResource{ProxyAddress: "p2:1", Host: "h2"}
	deltas := []*delta{
		{epoch: 1, epochSet: true, proxies: map[string]*meta.ProxyResource{"p1:1": p1, "p2:1": p2},
			failures: map[string]map[string]int64{"p1:1": {"a": 10}}, failed: map[string]bool{"p2:1": true}},
		{epoch: 2, epochSet: true, failures: map[string]map[string]int64{"p1:1": {"a": 10, "b": 11}}},
		{epoch: 3, epochSet: true, proxies: map[string]*meta.ProxyResource{"p2:1": nil}, failed: map[string]bool{"p2:1": false}},
	}
	if err := commitDeltas(store, deltas); err != nil {
		t.Fatal(err)
	}
	if len(deltas[0].proxies) != 2 || len(deltas[1].proxies) != 0 || len(deltas[0].failures["p1:1"]) != 1 {
		t.Fatal("commitDeltas changed the deltas it was given")
	}
	err = store.View(func(r persist.Reader) error {
		checks := []struct {
			bucket persist.Bucket
			key    string
			want   string // "" = absent
		}{
			{persist.Meta, metaEpochKey, "3"},
			{persist.Failures, "p1:1", `{"a":10,"b":11}`},
			{persist.Proxies, "p2:1", ""},
		}
		for _, c := range checks {
			if got := string(r.Get(c.bucket, c.key)); got != c.want {
				t.Errorf("%s/%s = %q, want %q", c.bucket, c.key, got, c.want)
			}
		}
		if r.Get(persist.Failed, "p2:1") != nil {
			t.Error("p2:1 still marked failed")
		}
		if r.Get(persist.Proxies, "p1:1") == nil {
			t.Error("proxy p1:1 not stored")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
