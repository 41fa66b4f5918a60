package actors

import "github.com/seed248d40c9/fulcrum/actors/meta"

// Result is the reply to every request the engine serves: a body on success, or an error
// value. Errors are values in replies; panics are bugs.
type Result struct {
	Body    []byte // JSON (text for /version and /epoch); nil means an empty 200
	Gzipped bool   // Body is gzip-compressed
	Err     error
}

// Messages to the proxy-pool actor. Every mutation carries what the pool needs to validate
// it against its tentative state, and a ticket (asked, ticket.go); reads are answered from
// the durable state.
type (
	addProxy struct {
		asked
		Address string
		Nodes   [2]string
		Host    string
		Index   *int
	}
	deleteProxy struct {
		asked
		Address string
	}
	reportFailure struct {
		asked
		Address, Reporter string
	}
	failoverProxy struct {
		asked
		Address string
		Format  Format
	}
	createCluster struct {
		asked
		Name  string
		Nodes int64
	}
	setEpoch struct {
		asked
		Epoch uint64
	}
	restoreMeta struct {
		asked
		Plan *restorePlan
	}
	setReplicas struct {
		asked
		Addresses []string
	}
	recoverEpoch struct {
		asked
		MaxSeen uint64
	}
	getConfig struct{}

	listClusterNames struct{ Offset, Limit int }
	listProxies      struct{ Offset, Limit int }
	listFailed       struct{ Offset, Limit int }
	listFailures     struct{}
	getEpoch         struct{}
	getProxyMeta     struct {
		Address string
		Format  Format
	}
	ready struct{}

	// Changes of one cluster that take no scale lock: asked of the pool directly, which
	// runs them on the cluster's latest accepted record (a missing cluster is
	// CLUSTER_NOT_FOUND, nothing changes).
	deleteCluster struct {
		asked
		Name string
	}
	patchConfig struct {
		asked
		Name    string
		Changes map[string]string
	}
	balanceCluster struct {
		asked
		Name string
	}
	commitMigration struct {
		asked
		Name      string
		Ranges    meta.RangeList
		TaskEpoch uint64
	}

	// commitCluster is a step of a scaling change, sent by the cluster actor that holds the
	// scale lock: Build runs in the pool on the latest accepted record (never nil) and
	// returns the new record (nil deletes the cluster) and the reply. A non-nil error
	// aborts: nothing changes.
	commitCluster struct {
		asked
		Name  string
		Build clusterBuild
	}

	// writeDone tells the pool that the batch it handed to the writer is on disk (or not).
	writeDone struct{ Err error }
)

// Messages to a cluster actor.
type (
	// install hands the actor its new durable record; nil means the cluster was deleted.
	install struct{ Rec *meta.ClusterStore }

	getClusterMeta struct{ Format Format }
	getClusterInfo struct{}

	// scaleChange is a scaling change (PATCH/PUT nodes, DELETE free_nodes, expand,
	// shrink): it takes the cluster's scale lock, so a second one while it is held is
	// refused with NODE_NUMBER_CHANGING instead of queued; the actor sends Build to the pool
	// as a commitCluster and answers the asker with the pool's reply.
	scaleChange struct {
		asked
		Build clusterBuild
	}

	// autoScale is POST migrations/auto: resize, wait for the proxies, expand.
	autoScale struct {
		asked
		Nodes int64
	}

	// epochsSynced ends the wait of a scale-out for its proxies.
	epochsSynced struct{ Err error }
)
