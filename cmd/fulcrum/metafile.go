package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/persist"
)

// replicaList splits --replica-addresses; nil when the flag is empty, so the stored list
// is kept.
func (c *serveConfig) replicaList() []string {
	if strings.TrimSpace(c.replicaAddresses) == "" {
		return nil
	}
	var out []string
	for _, a := range strings.Split(c.replicaAddresses, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// metaFile runs export-meta and import-meta: the bridge between undermoon's mem_broker meta
// file and Fulcrum's store, both ways — a stopped Fulcrum's bbolt data directory, or the
// state in etcd (--etcd-endpoints, --etcd-prefix, or FULCRUM_ETCD_ENDPOINTS/_PREFIX).
func metaFile(cmd string, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	var c storeConfig
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	storeFlags(fs, &c)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if cmd == "export-meta" {
		if fs.NArg() != 0 {
			return errors.New("usage: fulcrum export-meta (--data-dir D | --etcd-endpoints E [--etcd-prefix P]) > file")
		}
		store, err := c.open(metaFileID(cmd))
		if err != nil {
			return err
		}
		defer store.Close()
		doc, err := actors.ExportMeta(store)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(doc, '\n'))
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(`usage: fulcrum import-meta (--data-dir D | --etcd-endpoints E [--etcd-prefix P]) file ("-" for standard input)`)
	}
	var doc []byte
	var err error
	if name := fs.Arg(0); name == "-" {
		doc, err = io.ReadAll(stdin)
	} else {
		doc, err = os.ReadFile(name)
	}
	if err != nil {
		return err
	}
	store, err := c.open(metaFileID(cmd))
	if err != nil {
		return err
	}
	defer store.Close()
	if es, ok := store.(*persist.EtcdStore); ok {
		if err := leadForImport(es); err != nil {
			return fmt.Errorf("import-meta: %w", err)
		}
	}
	if err := actors.ImportMeta(store, doc); err != nil {
		return fmt.Errorf("import-meta: %w", err)
	}
	return nil
}

// metaFileID is the tool's value in the etcd election.
func metaFileID(cmd string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s/%d", cmd, host, os.Getpid())
}

// importLeadWait bounds how long import-meta waits for the leadership.
const importLeadWait = 15 * time.Second

// leadForImport makes import-meta the leader, so that its commit is fenced like an
// instance's: it refuses to start while a Fulcrum instance leads (replace a running
// broker's state with PUT /api/v2/metadata instead), and waits for a leader that just died
// to lose its lease.
func leadForImport(s *persist.EtcdStore) error {
	ctx, cancel := context.WithTimeout(context.Background(), importLeadWait)
	defer cancel()
	leader, err := s.Leader(ctx)
	if err != nil {
		return err
	}
	if leader != "" {
		return fmt.Errorf("instance %s leads this state: stop every instance first, or send the file with PUT /api/v2/metadata", leader)
	}
	if err := s.Campaign(ctx); err != nil {
		return fmt.Errorf("no leadership within %s (an instance started meanwhile?): %w", importLeadWait, err)
	}
	return nil
}
