package dns

import (
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// The replay cache is the server's fast path. For an answer from the zone
// (or hosts), the reply is a pure function of the query's bytes after its
// ID (flags, question, OPT) and of the state that answered: there are no
// views, ACLs or per-client answers. So each UDP reader remembers, per state,
// the packed reply to each query it has answered, and sends the same bytes
// again under the next query's ID, skipping parsing and packing. A new state
// (any zone rebuild or Apply) starts an empty cache, so a replayed reply is
// never older than the zone. Replies that vary between identical queries are
// not kept: forwarded and cached answers (TTLs count down), rotated ones
// (loadbalance), and anything the query log must see.
type replayEntry struct {
	reply   []byte
	state   *state
	metrics *queryMetrics // shared by every entry with the same labels
	// durations are the replays not yet in the metrics. Only the reader
	// owning the entry (under its cache's lock) touches them, and they reach
	// the shared metrics in batches: per-query atomic updates of one series
	// from two cores cost more than the answer itself.
	durations []uint32 // nanoseconds; a replay takes far less than 4 s
	reqSize   int
}

// replayBatch is how many replays an entry counts before it flushes; the
// reader also flushes everything every flushEvery.
const (
	replayBatch = 32
	flushEvery  = 100 * time.Millisecond
)

// replayMax bounds one reader's cache (about 300 bytes an entry); past it
// the cache starts over, which costs one slow answer per name.
const replayMax = 16384

// replayCache belongs to one UDP reader goroutine. Its lock is taken by
// that reader for every replay and by the reader's flusher every flushEvery,
// so it is practically never contended.
type replayCache struct {
	mu      sync.Mutex
	state   *state
	entries map[string]*replayEntry
	dirty   []*replayEntry // entries with durations to flush
}

// get returns the entry for key under st, emptying the cache when st is not
// the state it was filled from. Call with c.mu held.
func (c *replayCache) get(st *state, key []byte) *replayEntry {
	if c.state != st {
		c.flushLocked()
		c.state, c.entries = st, make(map[string]*replayEntry)
		return nil
	}
	return c.entries[string(key)]
}

// count records one replay of e. Call with c.mu held.
func (c *replayCache) count(e *replayEntry, d time.Duration, reqSize int) {
	if len(e.durations) == 0 {
		c.dirty = append(c.dirty, e)
	}
	e.durations = append(e.durations, uint32(min(d, time.Duration(^uint32(0)))))
	e.reqSize = reqSize
	if len(e.durations) >= replayBatch {
		e.flush()
	}
}

// flush moves the counts into the metrics and, when st has replaced the
// state the cache was filled from, drops the entries, which would otherwise
// keep the old zone alive until the next query.
func (c *replayCache) flush(st *state) {
	c.mu.Lock()
	c.flushLocked()
	if c.state != nil && c.state != st {
		c.state, c.entries = nil, nil
	}
	c.mu.Unlock()
}

func (c *replayCache) flushLocked() {
	for _, e := range c.dirty {
		e.flush()
	}
	c.dirty = c.dirty[:0]
}

func (c *replayCache) put(key []byte, e *replayEntry) {
	if e.state != c.state {
		return
	}
	if len(c.entries) >= replayMax {
		clear(c.entries)
	}
	c.entries[string(key)] = e
}

// replayable reports whether reply may be sent again for the same query
// bytes under the same state.
func replayable(p *plan, o outcome, reply *mdns.Msg) bool {
	if p.cfg.QueryLog != nil || (o.plugin != "kubernetes" && o.plugin != "hosts") {
		return false
	}
	if p.cfg.LoadBalance && len(reply.Answer) > 1 {
		return false
	}
	return true
}

// replay writes e's reply under the query's ID into out.
func (e *replayEntry) replay(out, query []byte) []byte {
	out = append(out[:0], e.reply...)
	out[0], out[1] = query[0], query[1]
	return out
}

// flush moves the entry's counted replays into the metrics.
func (e *replayEntry) flush() {
	n := len(e.durations)
	if n == 0 {
		return
	}
	m := e.metrics
	m.requests.Add(float64(n))
	m.responses.Add(float64(n))
	for _, d := range e.durations {
		m.duration.Observe(time.Duration(d).Seconds())
		m.requestSize.Observe(float64(e.reqSize))
		m.replySize.Observe(float64(len(e.reply)))
	}
	e.durations = e.durations[:0]
}
