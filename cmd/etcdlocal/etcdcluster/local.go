package etcdcluster

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Local is a cluster whose three members run inside this process, with their data in Dir.
type Local struct {
	Dir    string
	Layout *Layout

	mu      sync.Mutex
	members []*embed.Etcd // nil while stopped
}

// StartLocal starts a new cluster in this process, its data in dir, and returns once it
// has a leader.
func StartLocal(ctx context.Context, dir string, timeout time.Duration) (*Local, error) {
	l, err := newLayout()
	if err != nil {
		return nil, err
	}
	c := &Local{Dir: dir, Layout: l, members: make([]*embed.Etcd, NumMembers)}
	for i := range l.Members {
		e, err := startEmbedded(dir, l, i)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.members[i] = e
	}
	for i, e := range c.members {
		if err := waitReady(e, l.Members[i].Name, timeout); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := WaitLeader(ctx, l.Endpoints(), timeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Endpoints lists every member's client URL.
func (c *Local) Endpoints() []string { return c.Layout.Endpoints() }

// StopMember stops member i (0-based). An embedded member cannot be killed -9; Close stops
// it at once, without a leadership transfer.
func (c *Local) StopMember(i int, _ bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.members) {
		return fmt.Errorf("no member %d", i+1)
	}
	if e := c.members[i]; e != nil {
		e.Close()
		c.members[i] = nil
	}
	return nil
}

// StartMember restarts stopped member i on its data and waits until it has rejoined.
func (c *Local) StartMember(ctx context.Context, i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.members) {
		return fmt.Errorf("no member %d", i+1)
	}
	if c.members[i] != nil {
		return fmt.Errorf("member %s is running", c.Layout.Members[i].Name)
	}
	e, err := startEmbedded(c.Dir, c.Layout, i)
	if err != nil {
		return err
	}
	c.members[i] = e
	if err := waitReady(e, c.Layout.Members[i].Name, DefaultStartTimeout); err != nil {
		return err
	}
	return WaitLeader(ctx, []string{c.Layout.Members[i].ClientURL()}, DefaultStartTimeout)
}

// Close stops every member and removes the data.
func (c *Local) Close() error {
	c.mu.Lock()
	for i, e := range c.members {
		if e != nil {
			e.Close()
			c.members[i] = nil
		}
	}
	c.mu.Unlock()
	return os.RemoveAll(c.Dir)
}
