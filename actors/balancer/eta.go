package balancer

import "time"

// progressSample is one reading of the bytes a plan has moved.
type progressSample struct {
	at    time.Time
	moved int64
}

// etaWindow is how far back the rate of an ETA looks: long enough to smooth the polls,
// short enough to follow a throttle or a slower phase.
const etaWindow = 20 * time.Second

// addSample appends a reading and drops those older than the window, keeping one that is
// at least etaWindow old, so the window is as wide as the history allows.
func addSample(samples []progressSample, s progressSample) []progressSample {
	samples = append(samples, s)
	drop := 0
	for drop+1 < len(samples) && s.at.Sub(samples[drop+1].at) >= etaWindow {
		drop++
	}
	return append(samples[:0], samples[drop:]...)
}

// estimateETA is the seconds left to copy left bytes at the rate achieved over the
// samples' window, never faster than limit bytes/s (the throttle times the brokers
// receiving data; 0 for no throttle). The mean rate since the start misleads under a
// throttle: Kafka lets a new replica's first fetch through unthrottled, so a plan that
// copied its first MiB in a second would report seconds with a minute left. Nil while
// unknown: less than a second of history, or nothing moved within it.
func estimateETA(samples []progressSample, left int64, limit float64) *float64 {
	if left <= 0 {
		zero := 0.0
		return &zero
	}
	if len(samples) < 2 {
		return nil
	}
	first, last := samples[0], samples[len(samples)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt < 1 || last.moved <= first.moved {
		return nil
	}
	rate := float64(last.moved-first.moved) / dt
	if limit > 0 && rate > limit {
		rate = limit
	}
	eta := float64(left) / rate
	return &eta
}
