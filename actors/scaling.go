package actors

import (
	"errors"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// Scaling transactions (undermoon's scaling, commit and free-node deletion). They run in the pool on the latest accepted
// record, under the cluster actor's scale lock where undermoon takes its scale lock.

type clusterBuild = func(*poolTx, *meta.ClusterStore) (*meta.ClusterStore, Result, error)

// allocate finds proxies for k new nodes and marks them as the cluster's.
func (tx *poolTx) allocate(c *meta.ClusterStore, nodes int64) ([]meta.ChunkStore, error) {
	if !meta.ValidNodeNumber(nodes) {
		return nil, meta.ErrInvalidNodeNumber
	}
	var pairs [][2]*meta.ProxyResource
	var err error
	if tx.base.ordered {
		pairs, err = meta.AllocateOrdered(tx.freeProxies(), 2*len(c.Chunks), int(nodes/2))
	} else {
		pairs, err = meta.AllocateChunks(tx.freeProxies(), tx.links(), int(nodes/2))
	}
	if err != nil {
		return nil, err
	}
	for _, pr := range pairs {
		tx.setProxyCluster(pr[0].ProxyAddress, c.Name)
		tx.setProxyCluster(pr[1].ProxyAddress, c.Name)
	}
	return meta.NewChunks(pairs, nil), nil
}

// addNodes appends k slot-less nodes and answers the new nodes' views.
func addNodes(k int64, f Format) clusterBuild {
	return func(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
		if cur.IsMigrating() {
			return nil, Result{}, meta.ErrMigrationRunning
		}
		c := cur.Clone()
		chunks, err := tx.allocate(c, k)
		if err != nil {
			return nil, Result{}, err
		}
		c.Chunks = append(c.Chunks, chunks...)
		c.Epoch = tx.bumpEpoch()
		nodes := c.View(tx.limit).Nodes
		return c, nodesResult(nodes[len(nodes)-int(k):], f), nil
	}
}

// reachNodes is PUT /clusters/nodes: add what is missing to reach n nodes.
func reachNodes(n int64, f Format) clusterBuild {
	return func(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
		have := int64(4 * len(cur.Chunks))
		if n <= have {
			return nil, Result{}, meta.ErrNodeNumAlreadyEnough
		}
		return addNodes(n-have, f)(tx, cur)
	}
}

// freeSlotless drops the proxies of slot-less chunks from the cluster (DELETE free_nodes).
func (tx *poolTx) freeSlotless(c *meta.ClusterStore) error {
	freed, err := meta.RemoveSlotlessChunks(c, tx.epoch()+1)
	if err != nil {
		return err
	}
	for _, addr := range freed {
		tx.setProxyCluster(addr, "")
	}
	tx.bumpEpoch()
	return nil
}

func deleteFreeNodes(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
	c := cur.Clone()
	if err := tx.freeSlotless(c); err != nil {
		return nil, Result{}, err
	}
	return c, Result{}, nil
}

func expand(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
	c := cur.Clone()
	if err := meta.Expand(c, tx.epoch()+1); err != nil {
		return nil, Result{}, err
	}
	tx.bumpEpoch()
	return c, Result{}, nil
}

func shrink(n int64) clusterBuild {
	return func(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
		c := cur.Clone()
		if err := meta.Shrink(c, n, tx.epoch()+1); err != nil {
			return nil, Result{}, err
		}
		tx.bumpEpoch()
		return c, Result{}, nil
	}
}

func commitMigrationBuild(ranges meta.RangeList, taskEpoch uint64) clusterBuild {
	return func(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
		c := cur.Clone()
		if err := meta.CommitTask(c, ranges, taskEpoch, tx.epoch()+1); err != nil {
			return nil, Result{}, err
		}
		tx.bumpEpoch()
		return c, Result{}, nil
	}
}

// autoResize is the first step of POST migrations/auto: drop slot-less chunks (so retries
// are idempotent), then add nodes up to n or start a shrink to n. The cluster actor goes on
// with the scale-out (wait for the proxies, expand) when the result has slot-less chunks.
func autoResize(n int64) clusterBuild {
	return func(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
		if cur.IsMigrating() {
			return nil, Result{}, meta.ErrMigrationRunning
		}
		if !meta.ValidNodeNumber(n) {
			return nil, Result{}, meta.ErrInvalidNodeNumber
		}
		c := cur.Clone()
		if err := tx.freeSlotless(c); err != nil && !errors.Is(err, meta.ErrFreeNodeNotFound) {
			return nil, Result{}, err
		}
		have := int64(4 * len(c.Chunks))
		switch {
		case n > have:
			chunks, err := tx.allocate(c, n-have)
			if err != nil {
				return nil, Result{}, err
			}
			c.Chunks = append(c.Chunks, chunks...)
			c.Epoch = tx.bumpEpoch()
		case n < have:
			if err := meta.Shrink(c, n, tx.epoch()+1); err != nil {
				return nil, Result{}, err
			}
			tx.bumpEpoch()
		}
		if c.Epoch == cur.Epoch {
			return cur, Result{}, nil // nothing to do: the cluster already has n nodes
		}
		return c, Result{}, nil
	}
}

// expandIfNeeded is the last step of a scale-out: expand unless every node already has slots.
func expandIfNeeded(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
	if cur.SlotlessChunks() == 0 {
		return cur, Result{}, nil
	}
	return expand(tx, cur)
}
