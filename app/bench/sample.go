package bench

import (
	"sync/atomic"
	"time"
)

// Sample is the state of a run at one moment: the server's memory and what
// the clients have counted so far in the measured time. A soak run reads
// memory growth and errors over time from a series of them.
type Sample struct {
	Seconds   float64 `json:"seconds"`              // since the measured time began
	RSS       uint64  `json:"rss_bytes,omitempty"`  // the server's VmRSS
	Peak      uint64  `json:"peak_bytes,omitempty"` // its VmHWM
	Requests  uint64  `json:"requests"`             // measured requests answered or failed, cumulative
	Errors    uint64  `json:"errors"`               // of those, unexpected answers and transport errors
	Status5xx uint64  `json:"status_5xx"`           // of those, answers with a 5xx status
	Dropped   uint64  `json:"dropped_by_client,omitempty"`
	Error     string  `json:"error,omitempty"` // why the memory could not be read
}

// counters are the cumulative totals a sample copies.
type counters struct {
	requests  atomic.Uint64
	errors    atomic.Uint64
	status5xx atomic.Uint64
}

// sampler takes a sample every interval of the measured time, reading the
// memory of pid, plus one when the run ends.
type sampler struct {
	pid      int
	interval time.Duration
	from     time.Time
	end      time.Time // the last sample is taken when the run has finished, not by run
	counts   *counters
	sched    *schedule // nil in a closed loop
	readMem  func(pid int) (Memory, error)

	samples []Sample
}

func (s *sampler) take(at time.Time) {
	smp := Sample{
		Seconds:   at.Sub(s.from).Seconds(),
		Requests:  s.counts.requests.Load(),
		Errors:    s.counts.errors.Load(),
		Status5xx: s.counts.status5xx.Load(),
	}
	if s.sched != nil {
		smp.Dropped = s.sched.dropped.Load()
	}
	if s.pid > 0 {
		if m, err := s.readMem(s.pid); err != nil {
			smp.Error = err.Error()
		} else {
			smp.RSS, smp.Peak = m.RSS, m.Peak
		}
	}
	s.samples = append(s.samples, smp)
}

// run samples at from, from+interval, ... before end, until stop is
// closed. The first sample waits for the warm-up to end.
func (s *sampler) run(stop <-chan struct{}) {
	timer := time.NewTimer(time.Until(s.from))
	defer timer.Stop()
	for i := 1; ; i++ {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		if !now.Before(s.end) {
			return // late: the final sample, taken after the run, stands for it
		}
		s.take(now)
		next := s.from.Add(time.Duration(i) * s.interval)
		if !next.Before(s.end) {
			return
		}
		timer.Reset(time.Until(next))
	}
}
