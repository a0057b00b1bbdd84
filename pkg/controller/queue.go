package controller

import (
	"sync"
)

// key names one object a controller reconciles: its controller (which is
// also the kind it is about) plus namespace/name. Keys, not events, are
// queued, so a burst of events about one object becomes one pass.
type key struct {
	ctrl      string
	namespace string
	name      string
}

// queue is a set of dirty keys with a wake-up signal. A key added while it is
// already waiting is coalesced; a key added while it is being reconciled is
// queued again, so the change it signals is never lost.
type queue struct {
	mu    sync.Mutex
	dirty map[key]struct{}
	order []key
	wake  chan struct{}
}

func newQueue() *queue {
	return &queue{dirty: map[key]struct{}{}, wake: make(chan struct{}, 1)}
}

func (q *queue) add(k key) {
	q.mu.Lock()
	if _, ok := q.dirty[k]; !ok {
		q.dirty[k] = struct{}{}
		q.order = append(q.order, k)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// drain takes every queued key, in the order first queued.
func (q *queue) drain() []key {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.order
	q.order = nil
	q.dirty = map[key]struct{}{}
	return out
}
