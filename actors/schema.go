package actors

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/seed248d40c9/fulcrum/persist"
)

// The broker's records on disk. While the engine runs, the pool is their only writer: its
// writer goroutine (pool.go startWrite → commitDeltas) writes every accepted delta with
// writeTo, and a new store gets the ordered-proxy flag from loadState. Offline,
// ImportMeta (fulcrum import-meta) writes a restore's delta the same way. Everything is
// read back by loadState at start and by metadataJSON for GET /metadata, each in one read
// transaction.
//
//	bucket    key                    value
//	meta      global_epoch           decimal text
//	meta      enable_ordered_proxy   "true" or "false"
//	meta      replica_addresses      JSON array of strings
//	proxies   proxy address          meta.ProxyResource as JSON
//	failed    proxy address          empty (the key is the mark)
//	failures  proxy address          {"reporter": unix seconds} as JSON, keys sorted
//	clusters  cluster name           meta.ClusterStore as JSON
//
// Records are JSON so that GET /metadata can be assembled from the stored bytes: its
// clusters, all_proxies and failures are the records as stored. The balancer's bucket
// (plans) is described in actors/balancer/planstore.go.

// Keys of the meta bucket.
const (
	metaEpochKey   = "global_epoch"
	metaOrderedKey = "enable_ordered_proxy"
	// Unlike undermoon, Fulcrum keeps the replica list across restarts.
	metaReplicasKey = "replica_addresses"
)

// writeTo appends the delta's records to a store batch.
func (d *delta) writeTo(b *persist.Batch) error {
	if d.epochSet {
		b.Put(persist.Meta, metaEpochKey, []byte(strconv.FormatUint(d.epoch, 10)))
	}
	if d.ordered != nil {
		b.Put(persist.Meta, metaOrderedKey, []byte(strconv.FormatBool(*d.ordered)))
	}
	if d.replicas != nil {
		if err := putJSON(b, persist.Meta, metaReplicasKey, *d.replicas); err != nil {
			return err
		}
	}
	if err := putRecords(d, b, persist.Proxies, d.proxies); err != nil {
		return err
	}
	for _, k := range sortedKeys(d.failed) {
		if d.failed[k] {
			b.Put(persist.Failed, k, nil)
		} else {
			b.Delete(persist.Failed, k)
		}
	}
	for _, k := range sortedKeys(d.failures) {
		if v := d.failures[k]; len(v) == 0 {
			b.Delete(persist.Failures, k)
		} else {
			b.Put(persist.Failures, k, failureJSON(v))
		}
	}
	return putRecords(d, b, persist.Clusters, d.clusters)
}

// putRecords writes a bucket's changed records in key order: nil deletes, a record encoded
// already (for a cluster view) is written as it is, any other is encoded here.
func putRecords[T any](d *delta, b *persist.Batch, bucket persist.Bucket, recs map[string]*T) error {
	for _, k := range sortedKeys(recs) {
		if v := recs[k]; v == nil {
			b.Delete(bucket, k)
		} else if data, ok := d.encodedRecord(v); ok {
			b.Put(bucket, k, data)
		} else if err := putJSON(b, bucket, k, v); err != nil {
			return err
		}
	}
	return nil
}

// commitOrdered records the ordered-proxy flag in a store that has none yet (loadState, or
// an HA leader's first load).
func commitOrdered(store persist.Backend, ordered bool) error {
	var b persist.Batch
	b.Put(persist.Meta, metaOrderedKey, []byte(strconv.FormatBool(ordered)))
	return store.Commit(&b)
}

func putJSON(b *persist.Batch, bucket persist.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Put(bucket, key, data)
	return nil
}

// failureJSON encodes a proxy's failure reports exactly as json.Marshal does (keys sorted),
// without its reflection: it is the record every failure report rewrites, and json.Marshal
// of a map cost 14 % of the server's CPU under failure reports.
func failureJSON(m map[string]int64) []byte {
	keys := sortedKeys(m)
	n := 2
	for _, k := range keys {
		if !plainJSONString(k) {
			data, _ := json.Marshal(m) // a map[string]int64 always encodes
			return data
		}
		n += len(k) + 24
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, m[k], 10)
	}
	return append(b, '}')
}

// plainJSONString says whether json.Marshal writes s unchanged between quotes: printable
// ASCII without the characters it escapes (quote, backslash, and <, >, & for HTML).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// encodedRecords are records' JSON encodings, by record (a *meta.ProxyResource or a
// *meta.ClusterStore): a record is immutable, so its pointer names its bytes.
type encodedRecords map[any][]byte

// encodeRecords encodes the proxy and cluster records a delta sets.
func encodeRecords(d *delta) (encodedRecords, error) {
	enc := make(encodedRecords, len(d.proxies)+len(d.clusters))
	if err := encodeInto(enc, d.proxies); err != nil {
		return nil, err
	}
	if err := encodeInto(enc, d.clusters); err != nil {
		return nil, err
	}
	return enc, nil
}

// encodeInto encodes the records of recs (nil ones are deletions) into enc.
func encodeInto[T any](enc encodedRecords, recs map[string]*T) error {
	for _, r := range recs {
		if r != nil {
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			enc[r] = data
		}
	}
	return nil
}

// decodeEpoch reads the global epoch as stored.
func decodeEpoch(v []byte) (uint64, error) {
	e, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("global epoch %q: %w", v, err)
	}
	return e, nil
}

// decodeOrdered reads the ordered-proxy flag as stored.
func decodeOrdered(v []byte) bool { return string(v) == "true" }

// decodeRecord reads a JSON record (replica list, proxy, failure reports, cluster); what
// names the record in the error.
func decodeRecord(what string, v []byte, into any) error {
	if err := json.Unmarshal(v, into); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
