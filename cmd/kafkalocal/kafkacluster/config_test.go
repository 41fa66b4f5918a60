package kafkacluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseProps(t *testing.T, s string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("duplicate key %q", k)
		}
		m[k] = v
	}
	return m
}

func testLayout(t *testing.T) Layout {
	t.Helper()
	l, err := NewLayout("/data/k", "4.4.0", "/cache/lib", "abcdefghijklmnopqrstuv", []int{9093, 9001, 9002, 9003}, 3)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNewLayoutRefusesBadShapes(t *testing.T) {
	for _, c := range []struct {
		ports []int
		racks int
		want  string
	}{
		{[]int{1}, 1, "0 brokers"},
		{make([]int, MaxBrokers+2), 3, "33 brokers"},
		{[]int{1, 2, 3}, 0, "0 racks"},
		{[]int{1, 2, 3}, 3, "3 racks for 2 brokers"},
		{make([]int, 30), 27, "27 racks"},
	} {
		_, err := NewLayout("/d", "4.4.0", "/lib", "id", c.ports, c.racks)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d ports, %d racks: error %v, want %q", len(c.ports), c.racks, err, c.want)
		}
	}
}

// Brokers are spread over the racks in turn, so every rack has a broker and the racks'
// sizes differ by at most one.
func TestNewLayoutSpreadsBrokersOverRacks(t *testing.T) {
	for _, c := range []struct {
		brokers, racks int
		want           string
	}{
		{3, 3, "1:rack-a 2:rack-b 3:rack-c"},
		{6, 3, "1:rack-a 2:rack-b 3:rack-c 4:rack-a 5:rack-b 6:rack-c"},
		{5, 2, "1:rack-a 2:rack-b 3:rack-a 4:rack-b 5:rack-a"},
		{4, 1, "1:rack-a 2:rack-a 3:rack-a 4:rack-a"},
		{1, 1, "1:rack-a"},
	} {
		ports := make([]int, 1+c.brokers)
		for i := range ports {
			ports[i] = 9000 + i
		}
		l, err := NewLayout("/d", "4.4.0", "/lib", "id", ports, c.racks)
		if err != nil {
			t.Fatalf("%d brokers on %d racks: %v", c.brokers, c.racks, err)
		}
		var got []string
		for _, b := range l.Brokers {
			got = append(got, fmt.Sprintf("%d:%s", b.ID, b.Rack))
			if p := parseProps(t, l.Properties(b)); p["broker.rack"] != b.Rack {
				t.Errorf("broker %d: broker.rack=%q, layout says %q", b.ID, p["broker.rack"], b.Rack)
			}
		}
		if strings.Join(got, " ") != c.want || l.Racks() != c.racks || len(l.Bootstrap()) != c.brokers {
			t.Errorf("%d brokers on %d racks: %s (%d racks, %d addresses), want %s", c.brokers, c.racks, strings.Join(got, " "), l.Racks(), len(l.Bootstrap()), c.want)
		}
	}
}

func TestConfigShapeDefaults(t *testing.T) {
	for _, c := range []struct{ brokers, racks, wantBrokers, wantRacks int }{
		{0, 0, 3, 3},
		{6, 0, 6, 3},
		{2, 0, 2, 2},
		{6, 2, 6, 2},
		{0, 1, 3, 1},
	} {
		cfg := Config{Brokers: c.brokers, Racks: c.racks}
		if b, r := cfg.shape(); b != c.wantBrokers || r != c.wantRacks {
			t.Errorf("--brokers %d --racks %d: %d brokers on %d racks, want %d on %d", c.brokers, c.racks, b, r, c.wantBrokers, c.wantRacks)
		}
	}
}

func TestBrokerProperties(t *testing.T) {
	l := testLayout(t)
	if got, want := strings.Join(l.Bootstrap(), ","), "127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003"; got != want {
		t.Fatalf("bootstrap %q, want %q", got, want)
	}
	for i, b := range l.Brokers {
		p := parseProps(t, l.Properties(b))
		want := map[string]string{
			"process.roles":            "broker",
			"node.id":                  []string{"1", "2", "3"}[i],
			"broker.rack":              []string{"rack-a", "rack-b", "rack-c"}[i],
			"controller.quorum.voters": "3000@127.0.0.1:9093",
			"listeners":                "PLAINTEXT://" + l.Bootstrap()[i],
			"log.dirs": filepath.Join("/data/k", b.Name, "logs-a") + "," +
				filepath.Join("/data/k", b.Name, "logs-b"),
			"offsets.topic.replication.factor": "3",
			"auto.create.topics.enable":        "false",
			"auto.leader.rebalance.enable":     "false",
			"group.initial.rebalance.delay.ms": "0",
			"log.cleaner.dedupe.buffer.size":   "2097152",
		}
		want["advertised.listeners"] = want["listeners"]
		for k, v := range want {
			if p[k] != v {
				t.Errorf("broker %d: %s=%q, want %q", b.ID, k, p[k], v)
			}
		}
	}
}

func TestControllerProperties(t *testing.T) {
	l := testLayout(t)
	p := parseProps(t, l.Properties(l.Controller))
	want := map[string]string{
		"process.roles":            "controller",
		"node.id":                  "3000",
		"listeners":                "CONTROLLER://127.0.0.1:9093",
		"controller.quorum.voters": "3000@127.0.0.1:9093",
		"log.dirs":                 "/data/k/controller/metadata",
		"num.partitions":           "1",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s=%q, want %q", k, p[k], v)
		}
	}
	for _, k := range []string{"broker.rack", "advertised.listeners", "offsets.topic.replication.factor"} {
		if _, ok := p[k]; ok {
			t.Errorf("controller has broker-only key %s", k)
		}
	}
}

func TestNodeIDsAndPortsUnique(t *testing.T) {
	l := testLayout(t)
	ids, ports := map[int32]bool{}, map[int]bool{}
	for _, n := range l.Nodes() {
		if ids[n.ID] || ports[n.Port] {
			t.Fatalf("duplicate id or port in %+v", n)
		}
		ids[n.ID], ports[n.Port] = true, true
	}
	if l.Nodes()[0].Role != "controller" {
		t.Fatal("controller must start first")
	}
}

func TestPomPinsVersions(t *testing.T) {
	pom := Pom("4.3.1")
	for _, s := range []string{
		"<artifactId>kafka_2.13</artifactId>\n      <version>4.3.1</version>",
		"<artifactId>log4j-slf4j2-impl</artifactId>",
		"<artifactId>slf4j-api</artifactId>\n      <version>2.",
		"<packaging>pom</packaging>",
	} {
		if !strings.Contains(pom, s) {
			t.Errorf("pom lacks %q", s)
		}
	}
}

// A running cluster is reused whatever its shape when none is asked for, and refused when
// another shape is asked for.
func TestConfigFitsRunningCluster(t *testing.T) {
	six, err := NewLayout("/d", "4.4.0", "/lib", "id", make([]int, 7), 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		brokers, racks int
		ok             bool
	}{
		{0, 0, true},
		{6, 0, true},
		{6, 3, true},
		{0, 3, true},
		{3, 0, false},
		{6, 2, false},
		{0, 2, false},
	} {
		cfg := Config{Dir: "/d", Brokers: c.brokers, Racks: c.racks}
		if err := cfg.fits(six); (err == nil) != c.ok {
			t.Errorf("--brokers %d --racks %d on 6 brokers, 3 racks: %v, want ok=%v", c.brokers, c.racks, err, c.ok)
		}
	}
}

func TestToolsPomFetchesTheTools(t *testing.T) {
	pom := ToolsPom("4.4.0")
	if !strings.Contains(pom, "<artifactId>kafka-tools</artifactId>\n      <version>4.4.0</version>") ||
		strings.Contains(pom, "kafka_2.13") || !strings.Contains(pom, "log4j-slf4j2-impl") {
		t.Fatalf("tools pom:\n%s", pom)
	}
}

func TestNewClusterID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id, err := NewClusterID()
		if err != nil {
			t.Fatal(err)
		}
		// Kafka's Uuid string form: 16 bytes, URL-safe base64, no padding.
		if len(id) != 22 || strings.HasPrefix(id, "-") || strings.ContainsAny(id, "+/=") {
			t.Fatalf("bad cluster id %q", id)
		}
		if seen[id] {
			t.Fatalf("repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestDefaultCacheDirHonoursEnv(t *testing.T) {
	t.Setenv("FULCRUM_KAFKA_CACHE", "/x/y")
	if got := DefaultCacheDir("4.4.0"); got != "/x/y" {
		t.Fatalf("got %q", got)
	}
	t.Setenv("FULCRUM_KAFKA_CACHE", "")
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip(err)
	}
	if got, want := DefaultCacheDir("4.4.0"), filepath.Join(home, ".cache", "fulcrum", "kafka-4.4.0"); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTail(t *testing.T) {
	if got := tail([]byte("a\nb\nc\nd\n"), 2); got != "c\nd" {
		t.Fatalf("got %q", got)
	}
	if got := tail([]byte("a"), 5); got != "a" {
		t.Fatalf("got %q", got)
	}
}
