package pgbus

import (
	"context"
	"sync/atomic"
)

// pending is one Publish waiting for the notification that carries it.
type pending struct {
	ctx     context.Context
	payload []byte
	// result is buffered so the sender never waits for a caller.
	result chan error
	state  pendingState // guarded by Bus.mu
}

type pendingState uint8

const (
	queued pendingState = iota
	// taken: the sender owns the payload and will send a result.
	taken
	// abandoned: the caller gave up while queued; the sender skips it.
	abandoned
)

// enqueue queues p and starts the sender unless it runs: it sends one
// notification at a time, so payloads that arrive meanwhile share the next.
func (b *Bus) enqueue(p *pending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = append(b.queue, p)
	if !b.sending {
		b.sending = true
		go b.send()
	}
}

// abandon withdraws p after its caller's ctx ended, unless the sender took
// it already: a taken payload may be on its way, so its caller must wait for
// the outcome rather than report a cancellation that may be false.
func (b *Bus) abandon(p *pending) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.state != queued {
		return false
	}
	p.state = abandoned
	return true
}

// send sends the queue, oldest first, until it is empty.
func (b *Bus) send() {
	var (
		batch []*pending
		buf   []byte
	)
	for {
		b.mu.Lock()
		batch = b.take(batch[:0])
		if len(batch) == 0 {
			b.sending = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()

		var payload string
		if len(batch) == 1 {
			payload = string(batch[0].payload)
		} else {
			buf = buf[:0]
			for i, p := range batch {
				if i > 0 {
					buf = append(buf, '\n')
				}
				buf = append(buf, p.payload...)
			}
			payload = string(buf)
		}
		err := b.notifyFor(batch, payload)
		for i, p := range batch {
			p.result <- err
			batch[i] = nil
		}
	}
}

// take moves from the head of the queue into batch as many payloads as fit,
// newline-joined, in one notification. The queue's order is kept even when
// a later, smaller payload would still fit, so no event overtakes another.
// Must be called with b.mu held.
func (b *Bus) take(batch []*pending) []*pending {
	// -1: the first payload needs no separator.
	size, i := -1, 0
	for ; i < len(b.queue); i++ {
		p := b.queue[i]
		if p.state == abandoned {
			continue
		}
		if err := p.ctx.Err(); err != nil {
			p.state = taken
			p.result <- err
			continue
		}
		// Publish bounds every payload by MaxPayload, so the first always fits.
		if size+1+len(p.payload) > MaxPayload {
			break
		}
		size += 1 + len(p.payload)
		p.state = taken
		batch = append(batch, p)
	}
	n := copy(b.queue, b.queue[i:])
	clear(b.queue[n:])
	b.queue = b.queue[:n]
	return batch
}

// notifyFor sends payload for the callers in batch. It is interrupted only
// once every one of them has given up: one caller's deadline must not fail
// the others' events, nor may it outlive all of them.
func (b *Bus) notifyFor(batch []*pending, payload string) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	defer cancel()
	var waiting atomic.Int64
	waiting.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, p := range batch {
		stops[i] = context.AfterFunc(p.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	err := b.notify(ctx, payload)
	for _, stop := range stops {
		stop()
	}
	return err
}
