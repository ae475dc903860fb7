package bench

import (
	"context"
	"sync/atomic"
	"time"
)

// StartSlack is how late a free client may start a request of an open-loop
// run and still send it. A request that could not start within it because
// every client was busy is dropped by the client instead: it is the work a
// closed-loop generator would silently not have offered. The slack absorbs
// the scheduler's jitter between one request's answer and the next claim,
// which is not the server's doing; the latency of a sent request is measured
// from its scheduled time, so the slack is charged to it, never hidden.
const StartSlack = time.Millisecond

// OpenLoop describes the offered load of an open-loop run: requests are due
// at a fixed rate whatever the server does, so a slow server meets the same
// load rather than a generator that waits for it.
type OpenLoop struct {
	Rate    float64 `json:"rate"`              // requests per second asked for, over all clients
	Offered uint64  `json:"offered"`           // requests due during the measured time
	Started uint64  `json:"started"`           // of those, sent
	Dropped uint64  `json:"dropped_by_client"` // of those, not sent: every client was busy
	SlackMs float64 `json:"start_slack_ms"`    // StartSlack
}

// schedule hands out the due times of an open-loop run: request i is due at
// start + i/rate. Free clients claim the next request in turn, so a request
// nobody claimed in time is one that came due while all of them were busy.
type schedule struct {
	start       time.Time
	perRequest  float64 // nanoseconds between due times, kept fractional so they do not drift
	measureFrom time.Time
	end         time.Time // nothing due at or after it is handed out
	slack       time.Duration

	next    atomic.Uint64
	started atomic.Uint64 // measured requests sent
	dropped atomic.Uint64 // measured requests skipped
}

func newSchedule(start time.Time, rate float64, measureFrom, end time.Time, slack time.Duration) *schedule {
	return &schedule{start: start, perRequest: float64(time.Second) / rate, measureFrom: measureFrom, end: end, slack: slack}
}

func (s *schedule) due(i uint64) time.Time {
	return s.start.Add(time.Duration(float64(i) * s.perRequest))
}

// claim gives a client that is free at now the due time of the next request
// to send, after counting as dropped every earlier one that is more than the
// slack overdue. ok is false when no request is left before the end.
func (s *schedule) claim(now time.Time) (at time.Time, ok bool) {
	for {
		at = s.due(s.next.Add(1) - 1)
		if !at.Before(s.end) {
			return time.Time{}, false
		}
		if now.Sub(at) > s.slack {
			if !at.Before(s.measureFrom) {
				s.dropped.Add(1)
			}
			continue
		}
		return at, true
	}
}

// begin records that the request due at is being sent.
func (s *schedule) begin(at time.Time) {
	if !at.Before(s.measureFrom) {
		s.started.Add(1)
	}
}

// report summarises the measured part; the offered requests are those
// handed out or dropped, so a run that was interrupted counts only what
// came due before it stopped.
func (s *schedule) report(rate float64) *OpenLoop {
	st, dr := s.started.Load(), s.dropped.Load()
	return &OpenLoop{Rate: rate, Offered: st + dr, Started: st, Dropped: dr, SlackMs: ms(s.slack)}
}

// waitUntil sleeps until t or until ctx ends, and reports whether t came.
func waitUntil(ctx context.Context, timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-ctx.Done():
		timer.Stop()
		return false
	case <-timer.C:
		return true
	}
}
