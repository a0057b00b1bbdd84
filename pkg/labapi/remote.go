package labapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/podnet/podnet/pkg/source"
)

// RemoteSource is a source.Source over a lab daemon's watch stream: a local
// cache kept current by one long-lived request, re-listed after any break.
type RemoteSource struct {
	c *Client

	mu     sync.RWMutex
	objs   map[source.Kind]map[string]source.Object
	synced bool
	subs   map[int]func(source.Event)
	next   int
	ready  chan struct{}
}

var _ source.Source = (*RemoteSource)(nil)

// NewRemoteSource returns a source fed from the daemon c talks to; call Run.
func NewRemoteSource(c *Client) *RemoteSource {
	return &RemoteSource{c: c, objs: map[source.Kind]map[string]source.Object{}, subs: map[int]func(source.Event){}, ready: make(chan struct{})}
}

// Run keeps the cache current until ctx ends, reconnecting with back-off.
func (r *RemoteSource) Run(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		if r.watch(ctx) {
			delay = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// Synced is closed after the first complete list.
func (r *RemoteSource) Synced() <-chan struct{} { return r.ready }

// watch runs one stream; it reports whether the stream got past its list.
func (r *RemoteSource) watch(ctx context.Context) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://lab/v1/watch", nil)
	resp, err := r.c.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	seen := map[source.Kind]map[string]bool{}
	listing := true
	for sc.Scan() {
		var line watchLine
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			return !listing
		}
		if line.Type == synced {
			r.finishList(seen)
			listing = false
			continue
		}
		if line.Object == nil {
			continue
		}
		o, err := line.Object.decode()
		if err != nil {
			continue
		}
		if listing {
			if seen[line.Object.Kind] == nil {
				seen[line.Object.Kind] = map[string]bool{}
			}
			seen[line.Object.Kind][source.Key(o)] = true
		}
		r.apply(line.Type, line.Object.Kind, o)
	}
	return !listing
}

func rv(o source.Object) uint64 {
	v, _ := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	return v
}

// apply updates the cache and tells subscribers. Events older than what the
// cache holds (the overlap of subscription and list) are dropped.
func (r *RemoteSource) apply(t source.EventType, k source.Kind, o source.Object) {
	r.mu.Lock()
	b := r.objs[k]
	if b == nil {
		b = map[string]source.Object{}
		r.objs[k] = b
	}
	key := source.Key(o)
	old, had := b[key]
	if had && rv(o) != 0 && rv(o) <= rv(old) {
		r.mu.Unlock()
		return
	}
	switch {
	case t == source.Deleted:
		if !had {
			r.mu.Unlock()
			return
		}
		delete(b, key)
	case had:
		t = source.Modified
		b[key] = o
	default:
		t = source.Added
		b[key] = o
	}
	subs := r.subscribers()
	r.mu.Unlock()
	for _, fn := range subs {
		fn(source.Event{Type: t, Kind: k, Object: o})
	}
}

// finishList drops what the new list no longer has (deleted while the
// stream was down) and marks the source synced.
func (r *RemoteSource) finishList(seen map[source.Kind]map[string]bool) {
	r.mu.Lock()
	var gone []source.Event
	for k, b := range r.objs {
		for key, o := range b {
			if !seen[k][key] {
				delete(b, key)
				gone = append(gone, source.Event{Type: source.Deleted, Kind: k, Object: o})
			}
		}
	}
	first := !r.synced
	r.synced = true
	subs := r.subscribers()
	r.mu.Unlock()
	for _, ev := range gone {
		for _, fn := range subs {
			fn(ev)
		}
	}
	if first {
		close(r.ready)
	}
}

func (r *RemoteSource) subscribers() []func(source.Event) {
	out := make([]func(source.Event), 0, len(r.subs))
	for _, fn := range r.subs {
		out = append(out, fn)
	}
	return out
}

func (r *RemoteSource) List(k source.Kind) []source.Object {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]source.Object, 0, len(r.objs[k]))
	for _, o := range r.objs[k] {
		out = append(out, o)
	}
	return out
}

func (r *RemoteSource) Get(k source.Kind, namespace, name string) (source.Object, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	o, ok := r.objs[k][key]
	return o, ok
}

func (r *RemoteSource) Subscribe(fn func(source.Event)) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.next
	r.next++
	r.subs[id] = fn
	return func() {
		r.mu.Lock()
		delete(r.subs, id)
		r.mu.Unlock()
	}
}

func (r *RemoteSource) HasSynced() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.synced
}
