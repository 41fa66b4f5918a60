package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func summarize(h *Histogram) Latency {
	return Latency{
		P50: ms(h.Percentile(50)), P90: ms(h.Percentile(90)), P99: ms(h.Percentile(99)),
		P999: ms(h.Percentile(99.9)), Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
}

// OpReport is one operation's share of a run.
type OpReport struct {
	Name       string           `json:"name"`
	Requests   int64            `json:"requests"` // successful and failed
	Errors     int64            `json:"errors"`
	Throughput float64          `json:"throughput_rps"` // successful requests per second
	Latency    Latency          `json:"latency"`        // of successful requests
	ErrorsBy   map[string]int64 `json:"errors_by,omitempty"`
}

// Report is the JSON form of a run (-json) and the source of the text form.
type Report struct {
	Scenario    string           `json:"scenario"`
	Target      string           `json:"target"`
	Concurrency int              `json:"concurrency"`
	DurationS   float64          `json:"duration_s"`
	WarmupS     float64          `json:"warmup_s"`
	Started     time.Time        `json:"started"`
	Requests    int64            `json:"requests"`
	Errors      int64            `json:"errors"`
	Throughput  float64          `json:"throughput_rps"`
	Latency     Latency          `json:"latency"`
	Ops         []OpReport       `json:"ops"`
	ErrorsBy    map[string]int64 `json:"errors_by,omitempty"`
	ServerRSS   *RSSSample       `json:"server_rss,omitempty"` // peak of the samples taken
	CPU         CPUShare         `json:"cpu"`
	Timeline    []int64          `json:"timeline_per_s"`
	Curve       []CurvePoint     `json:"latency_curve"`
}

// CPUShare is the CPU used during the measured window, in cores (1.0 = one core busy).
type CPUShare struct {
	LoadgenCores float64 `json:"loadgen_cores"`
	ServerCores  float64 `json:"server_cores,omitempty"`
	// ServerUsPerRequest is server CPU time per request, the cost the throughput hides.
	ServerUsPerRequest float64 `json:"server_us_per_request,omitempty"`
	LoadgenUsPerReq    float64 `json:"loadgen_us_per_request"`
	// OtherCores is what the rest of the machine used meanwhile (other processes, and
	// kernel work not charged to either side): a noisy neighbour shows here.
	OtherCores float64 `json:"other_cores"`
}

// NewReport turns a Result into a Report.
func NewReport(r *Result, started time.Time) *Report {
	secs := r.Elapsed.Seconds()
	rep := &Report{
		Scenario: r.Scenario, Target: r.Cfg.Target, Concurrency: r.Cfg.Concurrency,
		DurationS: secs, WarmupS: r.Cfg.Warmup.Seconds(), Started: started.UTC(),
		Latency: summarize(r.Total), ErrorsBy: map[string]int64{}, Timeline: r.Timeline,
		Curve: r.Total.Curve(),
	}
	for i, name := range r.Ops {
		var nerr int64
		for _, v := range r.Errs[i] {
			nerr += v
		}
		ok := int64(r.Hists[i].Count())
		if ok+nerr == 0 {
			continue // an op the mix never chose (e.g. no proxies to read)
		}
		op := OpReport{
			Name: name, Requests: ok + nerr, Errors: nerr, Throughput: float64(ok) / secs,
			Latency: summarize(r.Hists[i]),
		}
		if nerr > 0 {
			op.ErrorsBy = r.Errs[i]
		}
		for k, v := range r.Errs[i] {
			rep.ErrorsBy[k] += v
		}
		rep.Requests += op.Requests
		rep.Errors += nerr
		rep.Ops = append(rep.Ops, op)
	}
	rep.Throughput = float64(rep.Requests-rep.Errors) / secs
	rep.CPU.LoadgenCores = r.LoadgenCPU.Seconds() / secs
	if rep.Requests > 0 {
		rep.CPU.LoadgenUsPerReq = float64(r.LoadgenCPU.Microseconds()) / float64(rep.Requests)
	}
	if r.ServerCPU > 0 && rep.Requests > 0 {
		rep.CPU.ServerCores = r.ServerCPU.Seconds() / secs
		rep.CPU.ServerUsPerRequest = float64(r.ServerCPU.Microseconds()) / float64(rep.Requests)
	}
	if r.MachineCPU > 0 {
		rep.CPU.OtherCores = max(0, (r.MachineCPU-r.LoadgenCPU-r.ServerCPU).Seconds()/secs)
	}
	if len(rep.ErrorsBy) == 0 {
		rep.ErrorsBy = nil
	}
	if r.RSS.Bytes > 0 {
		s := r.RSS
		rep.ServerRSS = &s
	}
	return rep
}

// WriteText prints the human form of a report.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "scenario %s  target %s  c=%d  %.1fs (warm-up %.1fs)\n",
		r.Scenario, r.Target, r.Concurrency, r.DurationS, r.WarmupS)
	fmt.Fprintf(w, "requests %d  errors %d  throughput %s req/s\n", r.Requests, r.Errors, thousands(r.Throughput))
	l := r.Latency
	fmt.Fprintf(w, "latency ms  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
		msStr(l.P50), msStr(l.P90), msStr(l.P99), msStr(l.P999), msStr(l.Max), msStr(l.Mean))
	fmt.Fprintf(w, "%-18s %10s %10s %8s %8s %8s %8s %8s\n", "op", "requests", "req/s", "p50", "p90", "p99", "p99.9", "errors")
	for _, op := range r.Ops {
		l := op.Latency
		fmt.Fprintf(w, "%-18s %10d %10s %8s %8s %8s %8s %8d\n", op.Name, op.Requests, thousands(op.Throughput),
			msStr(l.P50), msStr(l.P90), msStr(l.P99), msStr(l.P999), op.Errors)
	}
	if r.ServerRSS != nil {
		fmt.Fprintf(w, "server RSS %s (peak of 1 s samples, %s)\n", mib(r.ServerRSS.Bytes), r.ServerRSS.Source)
	}
	if r.CPU.ServerCores > 0 {
		fmt.Fprintf(w, "cpu: server %.2f cores (%.1f µs/request), load generator %.2f cores (%.1f µs/request), rest of the machine %.2f cores\n",
			r.CPU.ServerCores, r.CPU.ServerUsPerRequest, r.CPU.LoadgenCores, r.CPU.LoadgenUsPerReq, r.CPU.OtherCores)
	} else {
		fmt.Fprintf(w, "cpu: load generator %.2f cores (%.1f µs/request), rest of the machine %.2f cores\n",
			r.CPU.LoadgenCores, r.CPU.LoadgenUsPerReq, r.CPU.OtherCores)
	}
	for _, k := range slices.Sorted(maps.Keys(r.ErrorsBy)) {
		fmt.Fprintf(w, "error %-40s ×%d\n", k, r.ErrorsBy[k])
	}
}

// msStr prints milliseconds with three significant digits.
func msStr(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// thousands prints a rate rounded to an integer with thin grouping: 51234.6 → "51,235".
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func count(n int) string { return thousands(float64(n)) }
