package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// parseCPUs reads a CPU list such as "0" or "2,3"; empty means not pinned (nil).
func parseCPUs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 0 || n >= runtime.NumCPU() {
			return nil, fmt.Errorf("CPU list %q: want CPU numbers from 0 to %d, comma separated", s, runtime.NumCPU()-1)
		}
		cpus = append(cpus, n)
	}
	return cpus, nil
}

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// startOn starts cmd with its CPU affinity set to cpus (nil: not pinned). A child inherits
// the affinity of the thread that forks it, so the forking thread is pinned for the call:
// the child's runtime then sees the pinned CPUs from its first instruction and sizes
// GOMAXPROCS for them, as taskset would.
func startOn(cmd *exec.Cmd, cpus []int) error {
	if cpus == nil {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return err
	}
	if err := unix.SchedSetaffinity(0, cpuSet(cpus)); err != nil {
		return fmt.Errorf("pin to CPUs %v: %w", cpus, err)
	}
	defer unix.SchedSetaffinity(0, &old)
	return cmd.Start()
}

// pinSelf pins every thread of this process to cpus (threads started later inherit it)
// and returns what undoes it.
func pinSelf(cpus []int) (restore func(), err error) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		return nil, err
	}
	all := func(set *unix.CPUSet) error {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			// A thread that exited meanwhile is no error.
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin thread %d to CPUs %v: %w", tid, cpus, err)
			}
		}
		return nil
	}
	if err := all(cpuSet(cpus)); err != nil {
		all(&orig)
		return nil, err
	}
	return func() { all(&orig) }, nil
}
