package kafkacluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// toolTimeout bounds one run of a Kafka command-line tool.
const toolTimeout = 2 * time.Minute

// ToolsDir is where the jars of Kafka's command-line tools are cached: beside the
// broker's lib.
func (l Layout) ToolsDir() string { return filepath.Join(filepath.Dir(l.LibDir), "tools-lib") }

// RunTool runs one of Kafka's command-line tools (its main class, e.g.
// org.apache.kafka.tools.reassign.ReassignPartitionsCommand) of the cluster's version,
// fetching the tool jars on first use (progress to log), and returns what it printed on
// stdout. The arguments are the tool's own; pass --bootstrap-server l.Bootstrap() where it
// needs one. A tool that exits non-zero is an error carrying the end of its output.
func (l Layout) RunTool(ctx context.Context, log io.Writer, class string, args ...string) ([]byte, error) {
	if log == nil {
		log = io.Discard
	}
	lib, err := EnsureToolJars(ctx, l.ToolsDir(), l.Version, log)
	if err != nil {
		return nil, err
	}
	// The tool's logs go to stderr, so stdout is only what the tool prints.
	logConf := filepath.Join(l.Dir, "tools-log4j2.properties")
	if err := os.WriteFile(logConf, []byte(ToolLog4j2Properties), 0o644); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	jargs := append([]string{}, toolJVMOpts...)
	jargs = append(jargs, "-Dlog4j2.configurationFile="+logConf, "-cp", classpath(lib), class)
	cmd := exec.CommandContext(ctx, javaBin(), append(jargs, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", class, strings.Join(args, " "), err,
			tail(append(stdout.Bytes(), stderr.Bytes()...), 20))
	}
	return stdout.Bytes(), nil
}

// ReassignPartitionsCommand is the main class of kafka-reassign-partitions.sh.
const ReassignPartitionsCommand = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"

// Reassignment is the JSON document kafka-reassign-partitions reads and writes.
type Reassignment struct {
	Version    int                     `json:"version"`
	Partitions []ReassignmentPartition `json:"partitions"`
}

// ReassignmentPartition is one partition's replicas (the first the preferred leader) and
// their log dirs ("any" lets the broker choose).
type ReassignmentPartition struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs,omitempty"`
}

// ParseGenerate reads what "kafka-reassign-partitions --generate" prints: the current
// assignment and the proposed one, each a JSON line under its heading.
func ParseGenerate(out []byte) (current, proposed Reassignment, err error) {
	const cur, prop = "Current partition replica assignment", "Proposed partition reassignment configuration"
	var want *Reassignment
	found := 0
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		switch {
		case line == cur:
			want = &current
		case line == prop:
			want = &proposed
		case want != nil && strings.HasPrefix(line, "{"):
			if err := json.Unmarshal([]byte(line), want); err != nil {
				return current, proposed, fmt.Errorf("kafka-reassign-partitions --generate: %w in %q", err, line)
			}
			want = nil
			found++
		}
	}
	if found != 2 {
		return current, proposed, fmt.Errorf("kafka-reassign-partitions --generate printed no current and proposed assignment:\n%s", tail(out, 10))
	}
	return current, proposed, nil
}
