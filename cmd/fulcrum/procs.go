package main

import (
	"runtime"
	"strconv"
)

// minProcs is the fewest Ps (GOMAXPROCS) fulcrum serve runs with, even on one core.
//
// The store's writer goroutine spends most of a commit in fdatasync, and a goroutine in a
// system call keeps its P until sysmon takes it back (after 20 µs to 10 ms, depending on
// how idle sysmon has been). With one P — what Go picks on a one-core machine or under
// taskset — every reply, read and accept waits behind each fsync: pinned to one core,
// Fulcrum made 1.9–2.3 k durable writes/s while using 0.3–0.4 of the core; with two Ps,
// 12–17 k/s (bench/RESULTS.md, "Durable writes pinned"). A second P costs little while
// the first one runs: the OS shares the one core between the threads that have work.
const minProcs = 2

// procsFloor says what GOMAXPROCS to set, given the GOMAXPROCS variable and the current
// value: 0 means leave it (an explicit GOMAXPROCS is the operator's choice).
func procsFloor(env string, current int) int {
	if n, err := strconv.Atoi(env); err == nil && n > 0 {
		return 0
	}
	if current >= minProcs {
		return 0
	}
	return minProcs
}

// raiseProcs applies procsFloor to the running process and returns the GOMAXPROCS in force.
func raiseProcs(getenv func(string) string) int {
	if n := procsFloor(getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)); n > 0 {
		runtime.GOMAXPROCS(n)
	}
	return runtime.GOMAXPROCS(0)
}
