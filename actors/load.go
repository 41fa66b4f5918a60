package actors

import (
	"encoding/json"
	"fmt"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// loadState reads the whole broker state back from the store. The stored ordered-proxy flag
// wins over the configured one, as in undermoon; a new store records the configured flag.
func loadState(store persist.Backend, ordered bool) (*poolState, bool, error) {
	var st *poolState
	flagStored := false
	err := store.View(func(r persist.Reader) error {
		var err error
		st, flagStored, err = readState(r, ordered)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if !flagStored {
		if err := commitOrdered(store, st.ordered); err != nil {
			return nil, false, err
		}
	}
	return st, flagStored && st.ordered != ordered, nil
}

// readState decodes the whole broker state from one snapshot of a store; flagStored says
// whether the ordered-proxy flag was in it (else st.ordered is the configured one).
func readState(r persist.Reader, ordered bool) (st *poolState, flagStored bool, err error) {
	st = newPoolState()
	st.ordered = ordered
	err = func() error {
		if v := r.Get(persist.Meta, metaEpochKey); v != nil {
			e, err := decodeEpoch(v)
			if err != nil {
				return err
			}
			st.epoch = e
		}
		if v := r.Get(persist.Meta, metaReplicasKey); v != nil {
			if err := decodeRecord("replica addresses", v, &st.replicas); err != nil {
				return err
			}
		}
		if v := r.Get(persist.Meta, metaOrderedKey); v != nil {
			flagStored = true
			st.ordered = decodeOrdered(v)
		}
		err := r.ForEach(persist.Proxies, func(k string, v []byte) error {
			p := &meta.ProxyResource{}
			st.proxies[k] = p
			return decodeRecord("proxy "+k, v, p)
		})
		if err != nil {
			return err
		}
		err = r.ForEach(persist.Failed, func(k string, _ []byte) error {
			st.failed[k] = true
			return nil
		})
		if err != nil {
			return err
		}
		err = r.ForEach(persist.Failures, func(k string, v []byte) error {
			m := map[string]int64{}
			st.failures[k] = m
			return decodeRecord("failures of "+k, v, &m)
		})
		if err != nil {
			return err
		}
		return r.ForEach(persist.Clusters, func(k string, v []byte) error {
			c := &meta.ClusterStore{}
			st.clusters[k] = c
			return decodeRecord("cluster "+k, v, c)
		})
	}()
	if err != nil {
		return nil, false, fmt.Errorf("load state: %w", err)
	}
	st.links = meta.LinksOf(st.clusters)
	return st, flagStored, nil
}

// metadataJSON renders GET /metadata from one read transaction of the store, so it is a
// consistent, durable snapshot without stopping any actor.
func metadataJSON(store persist.Backend) ([]byte, error) {
	type doc struct {
		Version            string                     `json:"version"`
		GlobalEpoch        uint64                     `json:"global_epoch"`
		Clusters           map[string]json.RawMessage `json:"clusters"`
		AllProxies         map[string]json.RawMessage `json:"all_proxies"`
		FailedProxies      []string                   `json:"failed_proxies"`
		Failures           map[string]json.RawMessage `json:"failures"`
		EnableOrderedProxy bool                       `json:"enable_ordered_proxy"`
	}
	d := doc{Version: meta.StoreVersion, Clusters: map[string]json.RawMessage{}, AllProxies: map[string]json.RawMessage{},
		FailedProxies: []string{}, Failures: map[string]json.RawMessage{}}
	raw := func(m map[string]json.RawMessage) func(string, []byte) error {
		return func(k string, v []byte) error {
			m[k] = append(json.RawMessage(nil), v...)
			return nil
		}
	}
	err := store.View(func(r persist.Reader) error {
		if v := r.Get(persist.Meta, metaEpochKey); v != nil {
			d.GlobalEpoch, _ = decodeEpoch(v)
		}
		d.EnableOrderedProxy = decodeOrdered(r.Get(persist.Meta, metaOrderedKey))
		if err := r.ForEach(persist.Clusters, raw(d.Clusters)); err != nil {
			return err
		}
		if err := r.ForEach(persist.Proxies, raw(d.AllProxies)); err != nil {
			return err
		}
		if err := r.ForEach(persist.Failures, raw(d.Failures)); err != nil {
			return err
		}
		return r.ForEach(persist.Failed, func(k string, _ []byte) error {
			d.FailedProxies = append(d.FailedProxies, k)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(d)
}
