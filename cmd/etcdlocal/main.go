// Command etcdlocal starts and stops a real local 3-member etcd cluster on loopback for
// Fulcrum's tests: each member is a process of this binary running an embedded etcd server
// (real raft, WAL with fsync), its data and log under --dir.
//
//	etcdlocal up           [--dir .etcd] [--timeout 30s]
//	etcdlocal down         [--dir .etcd]
//	etcdlocal stop-member  [--dir .etcd] --id N [--kill]
//	etcdlocal start-member [--dir .etcd] --id N
//	etcdlocal member       --dir D --id N   (one member, in the foreground; up runs these)
//
// "up" prints the client endpoints (comma list) and returns once the cluster has a leader;
// a cluster already running in --dir is reused. "down" stops the members and removes --dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdcluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "etcdlocal: %v\n", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New("usage: etcdlocal up|down|stop-member|start-member|member [--dir DIR] [--id N] [--kill] [--timeout D]")
}

func run(args []string) error {
	if len(args) == 0 {
		return usage()
	}
	sub := args[0]
	fs := flag.NewFlagSet("etcdlocal "+sub, flag.ContinueOnError)
	dir := fs.String("dir", ".etcd", "data dir of the cluster")
	timeout := fs.Duration("timeout", etcdcluster.DefaultStartTimeout, "how long to wait for a leader")
	id := fs.Int("id", 0, "member id (1..3) for member, stop-member and start-member")
	kill := fs.Bool("kill", false, "stop-member: SIGKILL at once (a crash) instead of SIGTERM")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	needID := func() error {
		if *id < 1 || *id > etcdcluster.NumMembers {
			return fmt.Errorf("%s needs --id 1..%d", sub, etcdcluster.NumMembers)
		}
		return nil
	}

	switch sub {
	case "up":
		self, err := os.Executable()
		if err != nil {
			return err
		}
		start := time.Now()
		c, already, err := etcdcluster.Up(ctx, *dir, self, *timeout)
		if err != nil {
			return err
		}
		if already {
			fmt.Fprintf(os.Stderr, "etcdlocal: already running in %s\n", *dir)
		} else {
			fmt.Fprintf(os.Stderr, "etcdlocal: %d members, leader elected in %s\n", etcdcluster.NumMembers, time.Since(start).Round(100*time.Millisecond))
		}
		fmt.Println(strings.Join(c.Endpoints(), ","))
		return nil
	case "down":
		c, err := etcdcluster.Open(*dir)
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(*dir); serr == nil {
				return fmt.Errorf("%s has no cluster.json; not removing it", *dir)
			}
			fmt.Fprintf(os.Stderr, "etcdlocal: nothing to stop in %s\n", *dir)
			return nil
		}
		if err != nil {
			return err
		}
		return c.Down()
	case "stop-member", "start-member":
		if err := needID(); err != nil {
			return err
		}
		c, err := etcdcluster.Open(*dir)
		if err != nil {
			return err
		}
		if sub == "stop-member" {
			return c.StopMember(*id-1, *kill)
		}
		return c.StartMember(ctx, *id-1)
	case "member":
		if err := needID(); err != nil {
			return err
		}
		return etcdcluster.RunMember(*dir, *id-1, ctx.Done())
	}
	return usage()
}
