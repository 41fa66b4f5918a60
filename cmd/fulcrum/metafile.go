package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/seed248d40c9/fulcrum/actors"
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
// file and Fulcrum's store, both ways. Both work on a stopped Fulcrum's data directory.
func metaFile(cmd string, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./fulcrum-data", "data directory of a stopped Fulcrum")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cmd == "export-meta" {
		if fs.NArg() != 0 {
			return errors.New("usage: fulcrum export-meta --data-dir D > file")
		}
		doc, err := actors.ExportMeta(*dataDir)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(doc, '\n'))
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(`usage: fulcrum import-meta --data-dir D file ("-" for standard input)`)
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
	if err := actors.ImportMeta(*dataDir, doc); err != nil {
		return fmt.Errorf("import-meta: %w", err)
	}
	return nil
}
