package kafkacluster

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
)

// Node ids: one dedicated controller far away from the broker ids, so that
// broker ids 1..N read naturally in replica lists and tests.
const (
	ControllerID int32 = 3000
	// DefaultBrokers and DefaultRacks are the shape of a cluster nobody sized: one
	// broker per rack.
	DefaultBrokers = 3
	DefaultRacks   = 3
	// MaxBrokers bounds what a 2-core laptop can run; MaxRacks the rack names rack-a..z.
	MaxBrokers = 32
	MaxRacks   = 26
)

// RackName is the rack of the i-th rack (0-based): rack-a, rack-b, ...
func RackName(i int) string { return "rack-" + string(rune('a'+i)) }

// BrokerRack is the rack of broker id (1-based) when brokers are spread round-robin over
// racks: with 6 brokers on 3 racks, brokers 1 and 4 are on rack-a.
func BrokerRack(id int32, racks int) string { return RackName(int(id-1) % racks) }

// Node is one Kafka JVM of the local cluster.
type Node struct {
	ID   int32  `json:"id"`
	Name string `json:"name"` // "controller" or "broker-N"; also the node's subdirectory
	Role string `json:"role"` // "controller" or "broker"
	Port int    `json:"port"`
	Rack string `json:"rack,omitempty"`
	// LogDirs are absolute; brokers have two so JBOD moves can be tested.
	LogDirs []string `json:"log_dirs"`
}

// Layout is everything needed to (re)start the cluster; it is saved as
// cluster.json in the data dir so later commands need no flags but --dir.
type Layout struct {
	Dir        string `json:"dir"`
	Version    string `json:"version"`
	LibDir     string `json:"lib_dir"`
	ClusterID  string `json:"cluster_id"`
	Controller Node   `json:"controller"`
	Brokers    []Node `json:"brokers"`
}

// NewLayout lays out 1 controller and len(ports)-1 brokers under dir, the brokers spread
// round-robin over racks racks. ports holds the controller port first, then one port per
// broker.
func NewLayout(dir, version, libDir, clusterID string, ports []int, racks int) (Layout, error) {
	brokers := len(ports) - 1
	if err := checkShape(brokers, racks); err != nil {
		return Layout{}, err
	}
	l := Layout{
		Dir:       dir,
		Version:   version,
		LibDir:    libDir,
		ClusterID: clusterID,
		Controller: Node{
			ID:      ControllerID,
			Name:    "controller",
			Role:    "controller",
			Port:    ports[0],
			LogDirs: []string{filepath.Join(dir, "controller", "metadata")},
		},
	}
	for i := range brokers {
		name := fmt.Sprintf("broker-%d", i+1)
		l.Brokers = append(l.Brokers, Node{
			ID:   int32(i + 1),
			Name: name,
			Role: "broker",
			Port: ports[i+1],
			Rack: BrokerRack(int32(i+1), racks),
			LogDirs: []string{
				filepath.Join(dir, name, "logs-a"),
				filepath.Join(dir, name, "logs-b"),
			},
		})
	}
	return l, nil
}

// checkShape refuses a cluster that cannot be started or makes no sense: every rack must
// hold a broker.
func checkShape(brokers, racks int) error {
	switch {
	case brokers < 1 || brokers > MaxBrokers:
		return fmt.Errorf("%d brokers: want 1..%d", brokers, MaxBrokers)
	case racks < 1 || racks > MaxRacks:
		return fmt.Errorf("%d racks: want 1..%d", racks, MaxRacks)
	case racks > brokers:
		return fmt.Errorf("%d racks for %d brokers: a rack would be empty", racks, brokers)
	}
	return nil
}

// Racks returns the number of distinct racks of the brokers.
func (l Layout) Racks() int {
	seen := map[string]bool{}
	for _, b := range l.Brokers {
		seen[b.Rack] = true
	}
	return len(seen)
}

// Nodes returns the controller first: it must be up before brokers can register.
func (l Layout) Nodes() []Node {
	return append([]Node{l.Controller}, l.Brokers...)
}

// Broker returns the broker with the given node id.
func (l Layout) Broker(id int32) (Node, bool) {
	for _, b := range l.Brokers {
		if b.ID == id {
			return b, true
		}
	}
	return Node{}, false
}

// Bootstrap returns the brokers' host:port addresses.
func (l Layout) Bootstrap() []string {
	var out []string
	for _, b := range l.Brokers {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", b.Port))
	}
	return out
}

func (l Layout) NodeDir(n Node) string { return filepath.Join(l.Dir, n.Name) }
func (l Layout) PropertiesPath(n Node) string {
	return filepath.Join(l.NodeDir(n), "server.properties")
}
func (l Layout) LogPath(n Node) string { return filepath.Join(l.NodeDir(n), "kafka.log") }
func (l Layout) PIDPath(n Node) string { return filepath.Join(l.Dir, n.Name+".pid") }
func (l Layout) Log4jPath() string     { return filepath.Join(l.Dir, "log4j2.properties") }

// Properties renders server.properties for n.
func (l Layout) Properties(n Node) string {
	voters := fmt.Sprintf("%d@127.0.0.1:%d", l.Controller.ID, l.Controller.Port)
	kv := [][2]string{
		{"process.roles", n.Role},
		{"node.id", fmt.Sprint(n.ID)},
		// Static quorum: the simplest form, formatted without quorum flags.
		{"controller.quorum.voters", voters},
		{"controller.listener.names", "CONTROLLER"},
		{"log.dirs", strings.Join(n.LogDirs, ",")},
		// The 2-core machine runs four JVMs; default thread pools just contend.
		{"num.network.threads", "2"},
		{"num.io.threads", "2"},
		{"num.recovery.threads.per.data.dir", "1"},
		{"background.threads", "2"},
	}
	if n.Role == "controller" {
		kv = append(kv,
			[2]string{"listeners", fmt.Sprintf("CONTROLLER://127.0.0.1:%d", n.Port)},
			[2]string{"listener.security.protocol.map", "CONTROLLER:PLAINTEXT"},
			// KRaft creates topics on the controller, so topic defaults live here.
			[2]string{"num.partitions", "1"},
			[2]string{"default.replication.factor", "1"},
			// A restarted broker is refused (DUPLICATE_BROKER_REGISTRATION) until
			// its old session expires, and a killed one stays in metadata until
			// then; 6 s instead of 9 s shortens both for tests.
			[2]string{"broker.session.timeout.ms", "6000"},
		)
	} else {
		addr := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", n.Port)
		kv = append(kv,
			[2]string{"listeners", addr},
			[2]string{"advertised.listeners", addr},
			[2]string{"inter.broker.listener.name", "PLAINTEXT"},
			[2]string{"listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"},
			[2]string{"broker.rack", n.Rack},
			// Keeps heartbeats well inside the controller's shorter session timeout.
			[2]string{"broker.heartbeat.interval.ms", "1000"},
			[2]string{"offsets.topic.replication.factor", "3"},
			// Internal topics stay small so they do not dominate layouts the balancer reads.
			[2]string{"offsets.topic.num.partitions", "6"},
			[2]string{"transaction.state.log.replication.factor", "3"},
			[2]string{"transaction.state.log.min.isr", "2"},
			[2]string{"transaction.state.log.num.partitions", "6"},
			[2]string{"group.initial.rebalance.delay.ms", "0"},
			// The default 128 MiB dedupe buffer would eat most of a small heap.
			[2]string{"log.cleaner.dedupe.buffer.size", "2097152"},
			[2]string{"log.cleaner.threads", "1"},
			// Tests assert leaders; Kafka must not move them on its own.
			[2]string{"auto.leader.rebalance.enable", "false"},
			[2]string{"auto.create.topics.enable", "false"},
			// Small segments make per-dir sizes visible after a few MB of data.
			[2]string{"log.segment.bytes", "1048576"},
		)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by kafkalocal for %s (node %d).\n", n.Name, n.ID)
	for _, p := range kv {
		fmt.Fprintf(&b, "%s=%s\n", p[0], p[1])
	}
	return b.String()
}

// Log4j2Properties sends everything to stdout, which the launcher redirects
// to the node's kafka.log.
const Log4j2Properties = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
`

// ToolLog4j2Properties sends a command-line tool's warnings to stderr, keeping its stdout
// for its answer.
const ToolLog4j2Properties = `status = warn
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
`

// Pom lists the broker and a log4j2 backend. Kafka's pom drags in slf4j-api
// 1.7, which the slf4j2 binding ignores; pinning slf4j-api 2.x here wins by
// Maven's nearest-first rule and is backward compatible with 1.7 callers.
func Pom(version string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by kafkalocal; only used to resolve jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.fulcrum</groupId>
  <artifactId>kafkalocal-deps</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>%s</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>%s</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>%s</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>%s</version>
    </dependency>
  </dependencies>
</project>
`, version, log4jVersion, log4jVersion, slf4jVersion)
}

// ToolsPom lists Kafka's command-line tools (kafka-tools) and the same log4j2 backend as Pom.
func ToolsPom(version string) string {
	return strings.Replace(Pom(version), "<artifactId>kafka_2.13</artifactId>", "<artifactId>kafka-tools</artifactId>", 1)
}

const (
	log4jVersion = "2.26.1"
	slf4jVersion = "2.0.17"
)

// NewClusterID mimics Kafka's Uuid.randomUuid().toString() so no JVM has to
// start just to run "StorageTool random-uuid".
func NewClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		s := base64.RawURLEncoding.EncodeToString(b[:])
		// Kafka rejects ids that look like command-line flags.
		if !strings.HasPrefix(s, "-") {
			return s, nil
		}
	}
}
