package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// The engine's broker API: one method per endpoint of /api/v2 and /api/v3, each one ask
// (engine.go) of the actor that owns the data, answered with a Result.

// Broker reads.

func (e *Engine) ClusterNames(offset, limit int) Result {
	return e.askPool("cluster_names", &listClusterNames{Offset: offset, Limit: limit})
}

// ClusterMeta is the cluster's view (GET /clusters/meta), {"cluster": null} when missing.
func (e *Engine) ClusterMeta(name string, f Format) Result {
	return e.askCluster("cluster_meta", name, &getClusterMeta{Format: f}, Result{Body: nullClusterBody})
}

func (e *Engine) ClusterInfo(name string) Result {
	return e.askCluster("cluster_info", name, &getClusterInfo{}, Result{Err: meta.ErrClusterNotFound})
}

func (e *Engine) ProxyAddresses(offset, limit int) Result {
	return e.askPool("proxy_addresses", &listProxies{Offset: offset, Limit: limit})
}

// ProxyMeta is the proxy's view (GET /proxies/meta), {"proxy": null} when unknown.
func (e *Engine) ProxyMeta(addr string, f Format) Result {
	return e.askPool("proxy_meta", &getProxyMeta{Address: addr, Format: f})
}

func (e *Engine) FailedProxies(offset, limit int) Result {
	return e.askPool("failed_proxies", &listFailed{Offset: offset, Limit: limit})
}

func (e *Engine) Failures() Result { return e.askPool("failures", &listFailures{}) }

func (e *Engine) Epoch() Result { return e.askPool("epoch", &getEpoch{}) }

// CheckResources is POST /resources/failures/check, computed on the caller's goroutine.
func (e *Engine) CheckResources() Result { return e.checkResources() }

// Metadata is the whole state in undermoon's mem-broker-0.2 format, read from the store.
func (e *Engine) Metadata() Result {
	if e.stopped.Load() {
		return Result{Err: ErrStopped}
	}
	b, err := metadataJSON(e.store)
	if err != nil {
		return Result{Err: fmt.Errorf("%w: %v", meta.ErrPersistence, err)}
	}
	return Result{Body: b}
}

// Broker mutations: each reply is sent only once the change is on disk.

// AddProxy registers a proxy; host "" means the address's host, index nil means none.
func (e *Engine) AddProxy(addr string, nodes [2]string, host string, index *int) Result {
	return e.askPool("add_proxy", &addProxy{Address: addr, Nodes: nodes, Host: host, Index: index})
}

func (e *Engine) DeleteProxy(addr string) Result {
	return e.askPool("delete_proxy", &deleteProxy{Address: addr})
}

func (e *Engine) ReportFailure(addr, reporter string) Result {
	return e.askPool("report_failure", &reportFailure{Address: addr, Reporter: reporter})
}

// Failover replaces a failed proxy and answers the replacement's view in format f.
func (e *Engine) Failover(addr string, f Format) Result {
	return e.askPool("failover", &failoverProxy{Address: addr, Format: f})
}

func (e *Engine) CreateCluster(name string, nodes int64) Result {
	return e.askPool("create_cluster", &createCluster{Name: name, Nodes: nodes})
}

func (e *Engine) SetEpoch(n uint64) Result { return e.askPool("set_epoch", &setEpoch{Epoch: n}) }

// changeCluster asks the pool for a change of one cluster that takes no scale lock.
func (e *Engine) changeCluster(op, name string, msg any) Result {
	if !meta.ValidClusterName(name) {
		return Result{Err: meta.ErrInvalidClusterName}
	}
	return e.askPool(op, msg)
}

// scaleCluster asks the cluster's actor for a change under its scale lock.
func (e *Engine) scaleCluster(op, name string, build clusterBuild) Result {
	if !meta.ValidClusterName(name) {
		return Result{Err: meta.ErrInvalidClusterName}
	}
	return e.askCluster(op, name, &scaleChange{Build: build}, Result{Err: meta.ErrClusterNotFound})
}

func (e *Engine) DeleteCluster(name string) Result {
	return e.changeCluster("delete_cluster", name, &deleteCluster{Name: name})
}

// PatchClusterConfig applies string→string config changes, all or nothing.
func (e *Engine) PatchClusterConfig(name string, changes map[string]string) Result {
	return e.changeCluster("patch_config", name, &patchConfig{Name: name, Changes: changes})
}

func (e *Engine) BalanceCluster(name string) Result {
	return e.changeCluster("balance", name, &balanceCluster{Name: name})
}

// Scaling and migration: undermoon's scaling, migration commit and free-node deletion.

// AddNodes appends k slot-less nodes (PATCH /clusters/nodes) and answers their views.
func (e *Engine) AddNodes(name string, k int64, f Format) Result {
	return e.scaleCluster("add_nodes", name, addNodes(k, f))
}

// ReachNodes adds nodes until the cluster has n (PUT /clusters/nodes).
func (e *Engine) ReachNodes(name string, n int64, f Format) Result {
	return e.scaleCluster("reach_nodes", name, reachNodes(n, f))
}

func (e *Engine) DeleteFreeNodes(name string) Result {
	return e.scaleCluster("delete_free_nodes", name, deleteFreeNodes)
}

func (e *Engine) Expand(name string) Result { return e.scaleCluster("expand", name, expand) }

func (e *Engine) Shrink(name string, n int64) Result {
	return e.scaleCluster("shrink", name, shrink(n))
}

// CommitMigration ends a finished task, found by its range list and epoch.
func (e *Engine) CommitMigration(name string, ranges meta.RangeList, taskEpoch uint64) Result {
	if !meta.ValidClusterName(name) {
		return Result{Err: meta.ErrClusterNotFound} // an invalid name names no cluster
	}
	return e.askPool("commit_migration", &commitMigration{Name: name, Ranges: ranges, TaskEpoch: taskEpoch})
}

// AutoScale resizes the cluster to n nodes; a scale-out waits for the new proxies, so the
// ask may last as long as the epoch wait allows.
func (e *Engine) AutoScale(name string, n int64) Result {
	if !meta.ValidClusterName(name) {
		return Result{Err: meta.ErrInvalidClusterName}
	}
	w := e.cfg.epochWait
	budget := e.timeout + time.Duration(w.maxPolls)*(w.interval+w.timeout)
	return e.askClusterWithin("auto_scale", name, &autoScale{Nodes: n}, Result{Err: meta.ErrClusterNotFound}, budget)
}

// Whole-state operations: restore, replication config, epoch recovery.

// RestoreMetadata replaces the whole state with a mem-broker-0.2 document (PUT /metadata).
func (e *Engine) RestoreMetadata(doc []byte) Result { return e.restoreMetadata(doc) }

// Config is GET /config: {"replica_addresses": [...]}.
func (e *Engine) Config() Result { return e.askPool("get_config", &getConfig{}) }

// SetReplicas is PUT /config: the replica brokers that receive the whole state.
func (e *Engine) SetReplicas(addrs []string) Result {
	return e.askPool("set_replicas", &setReplicas{Addresses: addrs})
}

// RecoverEpoch is PUT /epoch/recovery: ask every registered proxy for its epoch and move
// the global and cluster epochs past the largest (+2) and past the current one. It answers
// the proxies that could not be asked.
func (e *Engine) RecoverEpoch() Result {
	var list struct{ Addresses []string }
	res := e.ProxyAddresses(0, -1)
	if res.Err != nil {
		return res
	}
	if err := json.Unmarshal(res.Body, &list); err != nil {
		return Result{Err: err}
	}
	epochs, errs := proxyEpochs(context.Background(), list.Addresses, e.cfg.epochWait.timeout)
	var maxSeen uint64
	for _, n := range epochs {
		maxSeen = max(maxSeen, n)
	}
	if res := e.askPool("recover_epoch", &recoverEpoch{MaxSeen: maxSeen}); res.Err != nil {
		return res
	}
	failed := sortedKeys(errs)
	return jsonResult(map[string][]string{"failed_addresses": failed})
}
