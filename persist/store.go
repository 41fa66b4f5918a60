// Package persist is Fulcrum's durable store: a bbolt file under the data directory with
// one bucket per kind of record. Every Commit is one transaction, fsynced before it
// returns; callers batch concurrent changes into one Commit (group commit).
package persist

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names one kind of record.
type Bucket string

// The buckets of the broker's state; the key of each record is its natural name.
const (
	Meta     Bucket = "meta"     // global_epoch, enable_ordered_proxy, replica_addresses (actors/schema.go)
	Clusters Bucket = "clusters" // cluster name → ClusterStore JSON
	Proxies  Bucket = "proxies"  // proxy address → ProxyResource JSON
	Failed   Bucket = "failed"   // proxy address → empty
	Failures Bucket = "failures" // proxy address → {reporter: unix seconds} JSON
	// Plans holds the Kafka balancer's executed plans and their progress (token → JSON);
	// only the balancer writes it.
	Plans Bucket = "plans"
)

var buckets = []Bucket{Meta, Clusters, Proxies, Failed, Failures, Plans}

// FileName is the database file inside the data directory.
const FileName = "fulcrum.db"

// Backend is a durable store of the buckets above: the bbolt Store (one machine) or the
// EtcdStore (several instances, one leader). The broker's pool, its loader and replicator,
// and the balancer's plan records use only this.
type Backend interface {
	// Commit applies the batch all or nothing and returns once it is durable.
	Commit(b *Batch) error
	// View runs fn on one consistent snapshot of the whole store.
	View(fn func(r Reader) error) error
	// ForEach reads one bucket alone, on one consistent snapshot of it (on etcd, one range
	// read of that bucket's keys instead of View's read of every bucket), and calls fn for
	// each of its records in key order; the slices are valid only during the call. An
	// unknown bucket is an error.
	ForEach(bucket Bucket, fn func(key string, value []byte) error) error
	Close() error
}

// Reader reads one consistent snapshot of a store: a bbolt read transaction or an etcd
// Snapshot.
type Reader interface {
	// Get returns the value of key, or nil; valid only during the View callback.
	Get(bucket Bucket, key string) []byte
	// ForEach calls fn for every record of the bucket in key order; the slices are valid
	// only during the call.
	ForEach(bucket Bucket, fn func(key string, value []byte) error) error
}

// Store is the bbolt database. It is safe for concurrent use; bbolt allows one writer and
// many readers at a time.
type Store struct {
	db *bolt.DB
}

// Open creates the data directory if needed and opens (or creates) the database in it.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("persist: data dir: %w", err)
	}
	// The timeout makes a second process on the same directory fail fast instead of waiting
	// forever for the file lock.
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("persist: open %s: %w", dir, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("persist: init buckets: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database file.
func (s *Store) Close() error { return s.db.Close() }

type op struct {
	bucket Bucket
	key    string
	value  []byte // nil deletes
}

// Batch is a list of puts and deletes applied in order by one Commit.
type Batch struct{ ops []op }

// Put sets key to value (which must not be modified afterwards).
func (b *Batch) Put(bucket Bucket, key string, value []byte) {
	if value == nil {
		value = []byte{}
	}
	b.ops = append(b.ops, op{bucket, key, value})
}

// Delete removes key.
func (b *Batch) Delete(bucket Bucket, key string) { b.ops = append(b.ops, op{bucket, key, nil}) }

// Len is the number of operations.
func (b *Batch) Len() int { return len(b.ops) }

// bulkOps is the size from which a batch is written as a bulk load (a restore): its keys
// come sorted per bucket, so the pages it fills are filled to bulkFillPercent instead of
// half, which halves the pages to split, write and sync (a 5,000-cluster restore commits
// in about half the time). Small batches keep bbolt's default, which leaves room for the
// inserts that follow.
const (
	bulkOps         = 1024
	bulkFillPercent = 0.9
)

// Commit applies the batch in one transaction and returns once it is on disk.
func (s *Store) Commit(b *Batch) error {
	fill := bolt.DefaultFillPercent
	if len(b.ops) >= bulkOps {
		fill = bulkFillPercent
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		var bk *bolt.Bucket
		var name Bucket
		for _, o := range b.ops {
			if bk == nil || o.bucket != name {
				if bk, name = tx.Bucket([]byte(o.bucket)), o.bucket; bk == nil {
					return fmt.Errorf("persist: unknown bucket %q", o.bucket)
				}
				bk.FillPercent = fill
			}
			var err error
			if o.value == nil {
				err = bk.Delete([]byte(o.key))
			} else {
				err = bk.Put([]byte(o.key), o.value)
			}
			if err != nil {
				return fmt.Errorf("persist: %s/%s: %w", o.bucket, o.key, err)
			}
		}
		return nil
	})
}

// boltReader is a Reader on one bbolt read transaction.
type boltReader struct{ tx *bolt.Tx }

func (r boltReader) Get(bucket Bucket, key string) []byte {
	bk := r.tx.Bucket([]byte(bucket))
	if bk == nil {
		return nil
	}
	return bk.Get([]byte(key))
}

func (r boltReader) ForEach(bucket Bucket, fn func(key string, value []byte) error) error {
	bk := r.tx.Bucket([]byte(bucket))
	if bk == nil {
		return nil
	}
	return bk.ForEach(func(k, v []byte) error { return fn(string(k), v) })
}

// View runs fn on a consistent read snapshot.
func (s *Store) View(fn func(r Reader) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(boltReader{tx}) })
}

// ForEach calls fn for every record of the bucket in key order, in one read transaction.
func (s *Store) ForEach(bucket Bucket, fn func(key string, value []byte) error) error {
	if !slices.Contains(buckets, bucket) {
		return fmt.Errorf("persist: unknown bucket %q", bucket)
	}
	return s.View(func(r Reader) error { return r.ForEach(bucket, fn) })
}
