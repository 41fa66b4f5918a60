package kafkacluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DefaultCacheDir is where jars for version are kept between runs:
// $FULCRUM_KAFKA_CACHE, else $HOME/.cache/fulcrum/kafka-<version>. It is
// outside any data dir so "down" never throws away a 45 MB download.
func DefaultCacheDir(version string) string {
	if d := os.Getenv("FULCRUM_KAFKA_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "fulcrum", "kafka-"+version)
}

// fetchTimeout bounds a cold Maven resolution (about 45 MB of jars).
const fetchTimeout = 10 * time.Minute

// EnsureJars makes sure cacheDir/lib holds the broker's runtime classpath for
// version and returns that lib directory.
func EnsureJars(ctx context.Context, cacheDir, version string, log io.Writer) (string, error) {
	return ensureLib(ctx, filepath.Join(cacheDir, "lib"), Pom(version), "kafka_2.13-"+version+".jar", log)
}

// EnsureToolJars makes sure toolsDir holds the classpath of Kafka's command-line tools
// (kafka-tools: kafka-reassign-partitions and friends) for version and returns it. The
// tools have a lib of their own beside the broker's, so that fetching them never rewrites
// the lib that running brokers load classes from.
func EnsureToolJars(ctx context.Context, toolsDir, version string, log io.Writer) (string, error) {
	return ensureLib(ctx, toolsDir, ToolsPom(version), "kafka-tools-"+version+".jar", log)
}

// ensureLib makes sure lib holds the runtime classpath of pom, checked by the presence of
// wantJar, fetching it with Maven if needed.
func ensureLib(ctx context.Context, lib, pom, wantJar string, log io.Writer) (string, error) {
	sum := sha256.Sum256([]byte(pom))
	stamp := hex.EncodeToString(sum[:])
	cacheDir := filepath.Dir(lib)
	stampPath := filepath.Join(lib, ".complete")

	// The stamp is written last, so a half-finished copy is never trusted, and
	// it names the pom, so a cache dir reused for another version is refetched.
	if b, err := os.ReadFile(stampPath); err == nil && strings.TrimSpace(string(b)) == stamp {
		return lib, nil
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return "", errors.New("mvn not found on PATH (Maven 3.8+ is needed to fetch Kafka jars)")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	name := filepath.Base(lib)
	pomPath := filepath.Join(cacheDir, name+".pom.xml")
	if name == "lib" {
		pomPath = filepath.Join(cacheDir, "pom.xml") // where earlier versions wrote it
	}
	if err := os.WriteFile(pomPath, []byte(pom), 0o644); err != nil {
		return "", err
	}
	// Copy into a private dir and rename it into place, so concurrent runs
	// sharing a cache never see each other's partial output.
	tmp, err := os.MkdirTemp(cacheDir, name+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintf(log, "kafkalocal: fetching %s with Maven into %s\n", wantJar, lib)
	mvnLog := filepath.Join(cacheDir, "mvn.log")
	out, err := os.Create(mvnLog)
	if err != nil {
		return "", err
	}
	defer out.Close()
	cctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, "mvn", "-B", "-q", "-f", pomPath,
		"dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory="+tmp)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mvn dependency:copy-dependencies for %s: %w\n%s", wantJar, err, tailFile(mvnLog, 30))
	}
	if _, err := os.Stat(filepath.Join(tmp, wantJar)); err != nil {
		return "", fmt.Errorf("maven finished but %s is missing; see %s", wantJar, mvnLog)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(stamp+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.RemoveAll(lib); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, lib); err != nil {
		// Another run may have won the race; its lib is as good as ours.
		if b, rerr := os.ReadFile(stampPath); rerr == nil && strings.TrimSpace(string(b)) == stamp {
			return lib, nil
		}
		return "", err
	}
	return lib, nil
}
