package pgbus

import "context"

// NotifyFunc sends one notification.
type NotifyFunc = func(ctx context.Context, payload string) error

// WrapNotify puts wrap around the sending of b's notifications, so tests can
// watch them and hold the sender; call it before b publishes.
func WrapNotify(b *Bus, wrap func(next NotifyFunc) NotifyFunc) {
	b.notify = wrap(b.notify)
}

// Queued is how many payloads wait to be taken by b's sender.
func Queued(b *Bus) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, p := range b.queue {
		if p.state == queued {
			n++
		}
	}
	return n
}
