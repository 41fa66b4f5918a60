package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseCPUs(t *testing.T) {
	last := runtime.NumCPU() - 1
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"", nil, false},
		{"0", []int{0}, false},
		{" 0 ", []int{0}, false},
		{"0," + strconv.Itoa(last), []int{0, last}, false},
		{strconv.Itoa(last + 1), nil, true},
		{"-1", nil, true},
		{"x", nil, true},
		{"0,", nil, true},
	}
	for _, tt := range tests {
		got, err := parseCPUs(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseCPUs(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestStartOnPinsChild: the child runs on the CPUs asked for from its start, and this
// process's own affinity is left as it was.
func TestStartOnPinsChild(t *testing.T) {
	before := allowedCPUs(t, "/proc/self/status")
	cmd := exec.Command("sleep", "5")
	if err := startOn(cmd, []int{0}); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if got := allowedCPUs(t, filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "status")); got != "0" {
		t.Errorf("child runs on CPUs %q, want 0", got)
	}
	if got := allowedCPUs(t, "/proc/self/status"); got != before {
		t.Errorf("after startOn this thread runs on CPUs %q, was %q", got, before)
	}
}

// TestPinSelfPinsEveryThread: every thread of the process is pinned, and restore undoes it.
func TestPinSelfPinsEveryThread(t *testing.T) {
	before := allowedCPUs(t, "/proc/self/status")
	restore, err := pinSelf([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, st := range tasks {
		if got := allowedCPUs(t, st); got != "0" {
			t.Errorf("%s: CPUs %q, want 0", st, got)
		}
	}
	restore()
	if got := allowedCPUs(t, "/proc/self/status"); got != before {
		t.Errorf("after restore CPUs %q, was %q", got, before)
	}
}

func allowedCPUs(t *testing.T, statusPath string) string {
	t.Helper()
	b, err := os.ReadFile(statusPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s has no Cpus_allowed_list", statusPath)
	return ""
}
