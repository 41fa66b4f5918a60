package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress shows a run's progress: a bar redrawn in place on a terminal, or a plain line
// every few seconds when the output is a file or a pipe (make, CI logs).
type Progress struct {
	w     io.Writer
	tty   bool
	every time.Duration // plain mode: time between lines
	name  string
	total time.Duration
	last  time.Duration
	prevN int64
	prevT time.Duration
}

// NewProgress writes to f; the bar is used only when f is a terminal.
func NewProgress(f *os.File) *Progress {
	return &Progress{w: f, tty: isTerminal(f), every: 5 * time.Second}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Start begins a run of the given length.
func (p *Progress) Start(name string, total time.Duration) {
	p.name, p.total, p.last, p.prevN, p.prevT = name, total, 0, 0, 0
}

// Update reports n requests (errs failed) after elapsed.
func (p *Progress) Update(elapsed time.Duration, n, errs int64) {
	rate := float64(n-p.prevN) / (elapsed - p.prevT).Seconds()
	p.prevN, p.prevT = n, elapsed
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", p.bar(elapsed, rate, n, errs))
		return
	}
	if elapsed-p.last >= p.every {
		p.last = elapsed
		fmt.Fprintf(p.w, "%s: %4.0fs/%.0fs  %s req/s  %d requests  %d errors\n",
			p.name, elapsed.Seconds(), p.total.Seconds(), thousands(rate), n, errs)
	}
}

// Finish ends the bar.
func (p *Progress) Finish(elapsed time.Duration, n, errs int64) {
	rate := float64(n) / elapsed.Seconds()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\n", p.bar(elapsed, rate, n, errs))
		return
	}
	fmt.Fprintf(p.w, "%s: done in %.1fs  %s req/s  %d requests  %d errors\n",
		p.name, elapsed.Seconds(), thousands(rate), n, errs)
}

func (p *Progress) bar(elapsed time.Duration, rate float64, n, errs int64) string {
	const width = 30
	frac := min(elapsed.Seconds()/p.total.Seconds(), 1)
	filled := int(frac * width)
	return fmt.Sprintf("%-12s [%s%s] %3.0f%%  %9s req/s  %d errors ", p.name,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, thousands(rate), errs)
}
