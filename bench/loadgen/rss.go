package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RSSSample is the server's resident memory at one moment.
type RSSSample struct {
	Bytes  int64  `json:"bytes"`
	Source string `json:"source"` // "metrics" or "/proc/<pid>/status"
}

// RSSProbe reads the server's RSS now.
type RSSProbe func() (RSSSample, error)

// MetricsRSS reads process_resident_memory_bytes from the server's Prometheus /metrics
// (public API; Fulcrum registers the process collector). metricsURL is absolute.
func MetricsRSS(metricsURL string) RSSProbe {
	hc := &http.Client{Timeout: 5 * time.Second}
	return func() (RSSSample, error) {
		resp, err := hc.Get(metricsURL)
		if err != nil {
			return RSSSample{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return RSSSample{}, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
		}
		v, err := parseMetric(resp.Body, "process_resident_memory_bytes")
		return RSSSample{Bytes: int64(v), Source: "metrics"}, err
	}
}

// parseMetric finds an unlabelled sample in Prometheus text format.
func parseMetric(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// ProcRSS reads VmRSS of a local process.
func ProcRSS(pid int) RSSProbe {
	path := fmt.Sprintf("/proc/%d/status", pid)
	return func() (RSSSample, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return RSSSample{}, err
		}
		kb, err := statusField(b, "VmRSS:")
		return RSSSample{Bytes: kb << 10, Source: path}, err
	}
}

// statusField reads a "Name:   123 kB" line of /proc/<pid>/status, in kB.
func statusField(status []byte, field string) (int64, error) {
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /proc status", field)
}

func peakRSS(s []RSSSample) RSSSample {
	var p RSSSample
	for _, x := range s {
		if x.Bytes >= p.Bytes {
			p = x
		}
	}
	return p
}

// ProcCPU is the CPU time (user + system) a local process has used so far.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15, in clock ticks (USER_HZ,
	// 100 on Linux).
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time all processes have used so far (/proc/stat: every state but
// idle and iowait), so a run can tell how much of the machine others took.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		busy += n
	}
	return time.Duration(busy) * 10 * time.Millisecond
}
