package store

import (
	"sync"

	"github.com/podnet/podnet/pkg/source"
)

// subscriber delivers events on its own goroutine from an unbounded queue, so
// a slow consumer never blocks a writer and never misses or reorders events.
type subscriber struct {
	fn     func(source.Event)
	mu     sync.Mutex
	queue  []source.Event
	wake   chan struct{}
	closed bool
}

func (sub *subscriber) run() {
	for range sub.wake {
		for {
			sub.mu.Lock()
			if sub.closed {
				sub.mu.Unlock()
				return
			}
			if len(sub.queue) == 0 {
				sub.mu.Unlock()
				break
			}
			batch := sub.queue
			sub.queue = nil
			sub.mu.Unlock()
			for _, ev := range batch {
				sub.fn(ev)
			}
		}
	}
}

func (sub *subscriber) push(ev source.Event) {
	sub.mu.Lock()
	sub.queue = append(sub.queue, ev)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// Subscribe implements source.Source.
func (s *Store) Subscribe(fn func(source.Event)) func() {
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1)}
	s.subMu.Lock()
	id := s.next
	s.next++
	s.subs[id] = sub
	s.subMu.Unlock()
	go sub.run()
	return func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
		sub.mu.Lock()
		if !sub.closed {
			sub.closed = true
			close(sub.wake)
		}
		sub.mu.Unlock()
	}
}

// publish queues ev for every subscriber. Called with s.mu held, so events
// are queued in commit order.
func (s *Store) publish(ev source.Event) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, sub := range s.subs {
		sub.push(ev)
	}
}
