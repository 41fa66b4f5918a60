// Package etcdcluster runs a real 3-member etcd cluster on loopback for Fulcrum's tests and
// for trying the etcd backend by hand: either one OS process per member (Up, Open: what
// cmd/etcdlocal and make test use, so a member can be killed -9 like a real machine), or the
// three members inside the calling process (StartLocal: for a test binary run alone).
// Both are the same embedded etcd server (go.etcd.io/etcd/server/v3/embed): real raft, real
// WAL, fsync on.
package etcdcluster

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/seed248d40c9/fulcrum/cmd/internal/ports"
)

// NumMembers is the size of the cluster.
const NumMembers = 3

// MaxTxnOps is the members' --max-txn-ops: etcd's default (128) is below what one group
// commit of the broker can hold, so a production cluster needs it raised too.
const MaxTxnOps = 4096

// Member is one member's place in the cluster.
type Member struct {
	Name       string `json:"name"`
	ClientPort int    `json:"client_port"`
	PeerPort   int    `json:"peer_port"`
	PID        int    `json:"pid,omitempty"` // process mode only
}

// ClientURL is the member's client endpoint.
func (m Member) ClientURL() string { return fmt.Sprintf("http://127.0.0.1:%d", m.ClientPort) }

func (m Member) peerURL() string { return fmt.Sprintf("http://127.0.0.1:%d", m.PeerPort) }

// Layout is the whole cluster, written to <dir>/cluster.json in process mode.
type Layout struct {
	Token   string   `json:"token"`
	Binary  string   `json:"binary,omitempty"` // the etcdlocal binary that runs a member
	Members []Member `json:"members"`
}

// Endpoints lists every member's client URL.
func (l *Layout) Endpoints() []string {
	eps := make([]string, len(l.Members))
	for i, m := range l.Members {
		eps[i] = m.ClientURL()
	}
	return eps
}

func (l *Layout) initialCluster() string {
	parts := make([]string, len(l.Members))
	for i, m := range l.Members {
		parts[i] = m.Name + "=" + m.peerURL()
	}
	return strings.Join(parts, ",")
}

// newLayout picks free loopback ports for every member.
func newLayout() (*Layout, error) {
	free, err := ports.Free(2 * NumMembers)
	if err != nil {
		return nil, err
	}
	l := &Layout{Token: fmt.Sprintf("fulcrum-%d", time.Now().UnixNano())}
	for i := range NumMembers {
		l.Members = append(l.Members, Member{Name: fmt.Sprintf("m%d", i+1), ClientPort: free[2*i], PeerPort: free[2*i+1]})
	}
	return l, nil
}

// memberConfig is the embedded server's configuration of member i, its data in dir/<name>.
func memberConfig(dir string, l *Layout, i int) (*embed.Config, error) {
	m := l.Members[i]
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = filepath.Join(dir, m.Name)
	cu, _ := url.Parse(m.ClientURL())
	pu, _ := url.Parse(m.peerURL())
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = l.initialCluster()
	cfg.InitialClusterToken = l.Token
	cfg.ClusterState = embed.ClusterStateFlagNew // ignored once the member has a WAL
	cfg.MaxTxnOps = MaxTxnOps
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(dir, m.Name+".log")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return cfg, nil
}

// startEmbedded starts member i in this process and waits until it has joined the cluster.
// Its peers must start too for that: callers start all members before waiting on them.
func startEmbedded(dir string, l *Layout, i int) (*embed.Etcd, error) {
	cfg, err := memberConfig(dir, l, i)
	if err != nil {
		return nil, err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd member %s: %w (log: %s)", l.Members[i].Name, err, cfg.LogOutputs[0])
	}
	return e, nil
}

// waitReady waits until e has joined the cluster (that needs a leader) or timeout passes.
func waitReady(e *embed.Etcd, name string, timeout time.Duration) error {
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("etcd member %s: %w", name, err)
	case <-time.After(timeout):
		return fmt.Errorf("etcd member %s not ready after %s", name, timeout)
	}
}

// RunMember runs member i of the cluster in dir until stop is closed: the body of one member
// process (etcdlocal member).
func RunMember(dir string, i int, stop <-chan struct{}) error {
	l, err := readLayout(dir)
	if err != nil {
		return err
	}
	if i < 0 || i >= len(l.Members) {
		return fmt.Errorf("no member %d", i+1)
	}
	e, err := startEmbedded(dir, l, i)
	if err != nil {
		return err
	}
	defer e.Close()
	select {
	case <-stop:
		return nil
	case err := <-e.Err():
		return err
	}
}
