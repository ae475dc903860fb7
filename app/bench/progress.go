package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress shows how a run is going on one line. On a terminal the line is
// rewritten in place at every update (about once a second); otherwise a
// plain line is written at most every five seconds, so logs stay short. A
// nil *Progress shows nothing.
type Progress struct {
	w        io.Writer
	tty      bool
	mu       sync.Mutex
	last     time.Time
	shown    bool
	interval time.Duration
}

// NewProgress writes to w; tty says whether w is a terminal.
func NewProgress(w io.Writer, tty bool) *Progress {
	if w == nil {
		return nil
	}
	p := &Progress{w: w, tty: tty, interval: 5 * time.Second}
	if tty {
		p.interval = 200 * time.Millisecond
	}
	return p
}

// Update shows line, unless the last line went out too recently.
func (p *Progress) Update(line string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.shown && now.Sub(p.last) < p.interval {
		return
	}
	p.last, p.shown = now, true
	if p.tty {
		_, _ = fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		_, _ = fmt.Fprintf(p.w, "%s\n", line)
	}
}

// Force shows line now, whenever the last one was.
func (p *Progress) Force(line string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.shown = false
	p.mu.Unlock()
	p.Update(line)
}

// Done clears the line on a terminal, before the results are printed.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		_, _ = fmt.Fprint(p.w, "\r\033[K")
	}
	p.shown = false
}

// every calls fn every d until stop is closed.
func every(d time.Duration, stop <-chan struct{}, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fn()
		}
	}
}
