package dns

import (
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// CacheConfig is CoreDNS's cache plugin: positive and negative answers kept
// for their TTL (RFC 2308 for negative ones), capped and bounded in size.
type CacheConfig struct {
	// Zones the cache applies to; "." when empty.
	Zones []string
	// SuccessCap and DenialCap bound the entries of each kind; 9984 when
	// zero, as CoreDNS (256 shards of 39).
	SuccessCap, DenialCap int
	// SuccessTTL and DenialTTL cap how long an answer is kept; 3600 and 1800
	// when zero. "cache 30" sets both to 30.
	SuccessTTL, DenialTTL uint32
	// MinSuccessTTL and MinDenialTTL raise shorter TTLs; 5 when zero.
	MinSuccessTTL, MinDenialTTL uint32
	// DisableSuccess and DisableDenial list zones whose positive or negative
	// answers are not cached (kubeadm disables both for the cluster domain,
	// so cluster answers are never stale).
	DisableSuccess, DisableDenial []string
}

func (c CacheConfig) withDefaults() CacheConfig {
	if len(c.Zones) == 0 {
		c.Zones = []string{"."}
	}
	c.Zones = canonicalAll(c.Zones)
	c.DisableSuccess = canonicalAll(c.DisableSuccess)
	c.DisableDenial = canonicalAll(c.DisableDenial)
	if c.SuccessCap == 0 {
		c.SuccessCap = 9984
	}
	if c.DenialCap == 0 {
		c.DenialCap = 9984
	}
	if c.SuccessTTL == 0 {
		c.SuccessTTL = 3600
	}
	if c.DenialTTL == 0 {
		c.DenialTTL = 1800
	}
	if c.MinSuccessTTL == 0 {
		c.MinSuccessTTL = 5
	}
	if c.MinDenialTTL == 0 {
		c.MinDenialTTL = 5
	}
	return c
}

func canonicalAll(zones []string) []string {
	out := make([]string, len(zones))
	for i, z := range zones {
		out[i] = canonical(z)
	}
	return out
}

// underAny reports whether name is at or below one of zones.
func underAny(name string, zones []string) bool {
	for _, z := range zones {
		if _, ok := under(name, z); ok {
			return true
		}
	}
	return false
}

type cacheKey struct {
	name  string // lower-case
	qtype uint16
	// edns is 0 without EDNS0, 1 with it, 2 with the DO bit: replies differ
	// in their OPT record.
	edns uint8
}

type cacheEntry struct {
	msg     *mdns.Msg
	stored  time.Time
	expires time.Time
	denial  bool
}

// cache holds replies. Entries are evicted at random when a kind is full, as
// CoreDNS does, which needs no bookkeeping on the hit path.
type cache struct {
	cfg     CacheConfig
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	counts  [2]int // success, denial
}

func newCache(c CacheConfig) *cache {
	return &cache{cfg: c.withDefaults(), entries: map[cacheKey]*cacheEntry{}}
}

func (c *cache) applies(lower string) bool { return underAny(lower, c.cfg.Zones) }

// get returns a copy of a live entry with TTLs lowered by its age, under
// req's ID and question.
func (c *cache) get(k cacheKey, req *mdns.Msg, now time.Time) (*mdns.Msg, bool) {
	c.mu.Lock()
	e := c.entries[k]
	if e != nil && !now.Before(e.expires) {
		c.remove(k, e)
		e = nil
	}
	c.mu.Unlock()
	if e == nil {
		return nil, false
	}
	m := e.msg.Copy()
	m.Id = req.Id
	m.Question = req.Question
	m.RecursionDesired = req.RecursionDesired
	// Every record is served with no more than the entry's time left, as
	// CoreDNS does, so a cache never stretches a TTL it capped.
	age := uint32(now.Sub(e.stored) / time.Second)
	left := uint32(e.expires.Sub(now) / time.Second)
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != mdns.TypeOPT {
				h.Ttl = min(h.Ttl-min(h.Ttl, age), left)
			}
		}
	}
	return m, true
}

// put stores reply if it is cacheable: NOERROR with answers, or a negative
// answer (NXDOMAIN or NODATA) with an SOA to take its TTL from (RFC 2308 §5:
// without one it must not be cached). Errors are never cached.
func (c *cache) put(k cacheKey, reply *mdns.Msg, now time.Time) {
	var ttl uint32
	var denial bool
	switch {
	case reply.Truncated:
		return
	case reply.Rcode == mdns.RcodeSuccess && len(reply.Answer) > 0:
		if underAny(k.name, c.cfg.DisableSuccess) {
			return
		}
		ttl = minTTL(reply.Answer)
		ttl = min(max(ttl, c.cfg.MinSuccessTTL), c.cfg.SuccessTTL)
	case reply.Rcode == mdns.RcodeSuccess || reply.Rcode == mdns.RcodeNameError:
		if underAny(k.name, c.cfg.DisableDenial) {
			return
		}
		soa := findSOA(reply.Ns)
		if soa == nil {
			return
		}
		// RFC 2308 §5: the negative TTL is the smaller of the SOA's TTL and
		// its MINIMUM field.
		ttl = min(soa.Hdr.Ttl, soa.Minttl)
		ttl = min(max(ttl, c.cfg.MinDenialTTL), c.cfg.DenialTTL)
		denial = true
	default:
		return
	}
	if ttl == 0 {
		return
	}
	kind, capacity := 0, c.cfg.SuccessCap
	if denial {
		kind, capacity = 1, c.cfg.DenialCap
	}
	e := &cacheEntry{msg: reply.Copy(), stored: now, expires: now.Add(time.Duration(ttl) * time.Second), denial: denial}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[k]; old != nil {
		c.remove(k, old)
	}
	for key, victim := range c.entries {
		if c.counts[kind] < capacity {
			break
		}
		if victim.denial == denial {
			c.remove(key, victim)
		}
	}
	c.entries[k] = e
	c.counts[kind]++
}

func (c *cache) remove(k cacheKey, e *cacheEntry) {
	delete(c.entries, k)
	if e.denial {
		c.counts[1]--
	} else {
		c.counts[0]--
	}
}

// sizes returns the number of success and denial entries.
func (c *cache) sizes() (success, denial int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[0], c.counts[1]
}

func minTTL(rrs []mdns.RR) uint32 {
	ttl := ^uint32(0)
	for _, rr := range rrs {
		ttl = min(ttl, rr.Header().Ttl)
	}
	return ttl
}

func findSOA(rrs []mdns.RR) *mdns.SOA {
	for _, rr := range rrs {
		if soa, ok := rr.(*mdns.SOA); ok {
			return soa
		}
	}
	return nil
}

func keyOf(q mdns.Question, req *mdns.Msg) cacheKey {
	k := cacheKey{name: strings.ToLower(mdns.Fqdn(q.Name)), qtype: q.Qtype}
	if opt := req.IsEdns0(); opt != nil {
		k.edns = 1
		if opt.Do() {
			k.edns = 2
		}
	}
	return k
}
