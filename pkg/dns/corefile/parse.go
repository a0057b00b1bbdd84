package corefile

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/podnet/podnet/pkg/dns"
)

// Config is what a Corefile asks of podnet's DNS server.
type Config struct {
	// Server is the DNS configuration (zones, kubernetes options, forward,
	// cache, hosts, rewrite, log, errors).
	Server dns.ServerConfig
	// Listen is the DNS address from the server block key (":53").
	Listen string
	// Health, Ready and Metrics are the HTTP addresses of the health, ready
	// and prometheus plugins; "" when the plugin is not configured.
	Health, Ready, Metrics string
}

// Options tells Parse how to read files a Corefile names.
type Options struct {
	// ReadFile reads /etc/resolv.conf (forward . /etc/resolv.conf) and hosts
	// files; os.ReadFile when nil.
	ReadFile func(string) ([]byte, error)
}

// Parse reads a Corefile. Every directive and option podnet does not
// implement is an error naming its line, so nothing is half-applied.
func Parse(text string, opts Options) (*Config, error) {
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	lines, err := lex(text)
	if err != nil {
		return nil, err
	}
	blocks, err := group(lines)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("Corefile: no server block; podnet needs one such as \".:53 { kubernetes cluster.local ... }\"")
	}
	// The root block first, whatever its place: stub blocks are checked
	// against its port and cache.
	p := &parser{opts: opts, cfg: &Config{}}
	root := -1
	for i, b := range blocks {
		zone, _, err := splitKey(b.keys[0].text)
		if err != nil {
			return nil, errAt(b.line, "server block key %q: %v", b.keys[0].text, err)
		}
		if zone == "." {
			if root >= 0 {
				return nil, errAt(b.line, "a second server block for \".\" (the first is on line %d)", blocks[root].line)
			}
			root = i
		}
	}
	if root < 0 {
		return nil, errAt(blocks[0].line, "no server block for the root zone \".\"; podnet needs one such as \".:53 { kubernetes cluster.local ... }\"")
	}
	if err := p.serverBlock(blocks[root]); err != nil {
		return nil, err
	}
	p.rootCache = p.cfg.Server.Cache != nil
	for i, b := range blocks {
		if i != root {
			if err := p.stubBlock(b); err != nil {
				return nil, err
			}
		}
	}
	return p.cfg, nil
}

type parser struct {
	opts      Options
	cfg       *Config
	seen      map[string]int
	haveKube  bool
	rootCache bool // the root block has a cache
}

func errAt(line int, format string, a ...any) error {
	return fmt.Errorf("Corefile:%d: "+format, append([]any{line}, a...)...)
}

func (p *parser) serverBlock(b serverBlock) error {
	port := ""
	for _, k := range b.keys {
		zone, kport, err := splitKey(k.text)
		if err != nil {
			return errAt(k.line, "server block key %q: %v", k.text, err)
		}
		if zone != "." {
			return errAt(k.line, "server block %q: put the root zone \".\" in a block of its own (other zones are stub domains, each in its own block)", k.text)
		}
		if port != "" && kport != port {
			return errAt(k.line, "server block keys name two ports (%s and %s)", port, kport)
		}
		port = kport
	}
	p.cfg.Listen = ":" + port
	p.seen = map[string]int{}
	for _, d := range b.body {
		if prev, dup := p.seen[d.name]; dup && d.name != "rewrite" {
			return errAt(d.line, "%s is set twice (first on line %d)", d.name, prev)
		}
		p.seen[d.name] = d.line
		if err := p.directive(d); err != nil {
			return err
		}
	}
	if !p.haveKube {
		return errAt(b.line, "the server block has no kubernetes directive; podnet's DNS server is the kubernetes plugin")
	}
	return nil
}

// stubBlock reads a server block for another zone: a stub domain, whose
// names go to its own upstreams ("consul.local:53 { errors cache 30 forward
// . 10.150.0.1 }", as in the Kubernetes docs on customizing DNS).
func (p *parser) stubBlock(b serverBlock) error {
	stub := dns.Stub{}
	for _, k := range b.keys {
		zone, port, err := splitKey(k.text)
		if err != nil {
			return errAt(k.line, "server block key %q: %v", k.text, err)
		}
		if ":"+port != p.cfg.Listen {
			return errAt(k.line, "server block %q: podnet serves one port; the root block listens on %s", k.text, p.cfg.Listen)
		}
		if zone == "." {
			return errAt(k.line, "server block %q: the root zone has a block of its own", k.text)
		}
		if stub.Zone != "" {
			return errAt(k.line, "server block %q: a stub-domain block takes one zone", k.text)
		}
		stub.Zone = strings.TrimSuffix(strings.ToLower(zone), ".")
	}
	s := &p.cfg.Server
	seen := map[string]int{}
	for _, d := range b.body {
		if prev, dup := seen[d.name]; dup {
			return errAt(d.line, "%s is set twice (first on line %d)", d.name, prev)
		}
		seen[d.name] = d.line
		switch d.name {
		case "forward":
			args := texts(d.args)
			if len(args) < 2 || (args[0] != "." && strings.TrimSuffix(args[0], ".") != stub.Zone) {
				return errAt(d.line, "forward in a stub domain: \"forward . TO...\"")
			}
			ups, err := p.upstreams(d, args[1:])
			if err != nil {
				return err
			}
			stub.Upstreams = ups
			for _, o := range d.block {
				if o.name != "force_tcp" && o.name != "max_concurrent" && o.name != "prefer_udp" {
					return errAt(o.line, "forward in a stub domain: unsupported option %q", o.name)
				}
				stub.ForceTCP = stub.ForceTCP || o.name == "force_tcp"
			}
		case "cache":
			if err := p.stubCache(d, stub.Zone); err != nil {
				return err
			}
		case "errors":
			s.ErrorLog = os.Stderr
		case "log":
			s.QueryLog = os.Stdout
		default:
			return errAt(d.line, "%s in a stub domain: podnet reads forward, cache, errors and log there", d.name)
		}
	}
	if stub.Upstreams == nil {
		return errAt(b.line, "stub domain %s has no forward", stub.Zone)
	}
	s.Stubs = append(s.Stubs, stub)
	return nil
}

// stubCache adds a stub domain to the server's one cache. With a cache in
// the root block (parsed first) the root's settings apply; without one, the
// stub blocks' caches make one for their zones, and must agree on its TTL.
func (p *parser) stubCache(d directive, zone string) error {
	if len(d.block) > 0 || len(d.args) > 1 {
		return errAt(d.line, "cache in a stub domain takes at most a TTL; podnet keeps one cache, set in the root block")
	}
	ttl := uint32(0)
	if len(d.args) == 1 {
		n, err := strconv.ParseUint(d.args[0].text, 10, 32)
		if err != nil || n == 0 {
			return errAt(d.line, "cache: TTL must be a positive number")
		}
		ttl = uint32(n)
	}
	c := p.cfg.Server.Cache
	switch {
	case p.rootCache:
		if len(c.Zones) > 0 {
			c.Zones = append(c.Zones, zone)
		}
	case c == nil:
		p.cfg.Server.Cache = &dns.CacheConfig{Zones: []string{zone}, SuccessTTL: ttl, DenialTTL: ttl}
	case c.SuccessTTL != ttl:
		return errAt(d.line, "cache: stub domains share one cache, and this TTL differs from another stub domain's")
	default:
		c.Zones = append(c.Zones, zone)
	}
	return nil
}

// upstreams reads forward's TO list: IPs, IP:ports, or resolv.conf paths
// (their nameservers).
func (p *parser) upstreams(d directive, tos []string) ([]string, error) {
	var out []string
	for _, to := range tos {
		to = strings.TrimPrefix(to, "dns://")
		if strings.Contains(to, "://") {
			return nil, errAt(d.line, "forward: %q: only plain DNS upstreams are supported", to)
		}
		if strings.HasPrefix(to, "/") {
			data, err := p.opts.ReadFile(to)
			if err != nil {
				return nil, errAt(d.line, "forward: reading %s: %v", to, err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
					out = append(out, f[1])
				}
			}
			continue
		}
		host := to
		if h, _, err := net.SplitHostPort(to); err == nil {
			host = h
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return nil, errAt(d.line, "forward: upstream %q is not an IP address or IP:port", to)
		}
		out = append(out, to)
	}
	if len(out) > 15 {
		return nil, errAt(d.line, "forward: more than 15 upstreams")
	}
	return out, nil
}

// splitKey reads "zone:port" (dns:// allowed), defaulting the port to 53.
func splitKey(key string) (string, string, error) {
	key = strings.TrimPrefix(key, "dns://")
	if strings.Contains(key, "://") {
		return "", "", fmt.Errorf("only plain DNS (dns://) is served")
	}
	zone, port := key, "53"
	if i := strings.LastIndexByte(key, ':'); i >= 0 {
		zone, port = key[:i], key[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
	}
	if zone == "" {
		zone = "."
	}
	return zone, port, nil
}

func (p *parser) directive(d directive) error {
	s := &p.cfg.Server
	switch d.name {
	case "kubernetes":
		p.haveKube = true
		return p.kubernetes(d)
	case "forward":
		return p.forward(d)
	case "cache":
		return p.cache(d)
	case "hosts":
		return p.hosts(d)
	case "rewrite":
		return p.rewrite(d)
	case "errors":
		if err := noBlock(d); err != nil {
			return err
		}
		s.ErrorLog = os.Stderr
	case "log":
		if len(d.args) > 0 || len(d.block) > 0 {
			return errAt(d.line, "log: podnet logs every query in CoreDNS's common format and takes no arguments or block")
		}
		s.QueryLog = os.Stdout
	case "health":
		addr, err := httpAddr(d, ":8080")
		if err != nil {
			return err
		}
		for _, o := range d.block {
			if o.name != "lameduck" || len(o.args) != 1 {
				return errAt(o.line, "health: unknown option %q (podnet knows \"lameduck DURATION\")", o.name)
			}
		}
		p.cfg.Health = addr
	case "ready":
		addr, err := httpAddr(d, ":8181")
		if err != nil {
			return err
		}
		if err := noBlock(d); err != nil {
			return err
		}
		p.cfg.Ready = addr
	case "prometheus":
		addr, err := httpAddr(d, ":9153")
		if err != nil {
			return err
		}
		if err := noBlock(d); err != nil {
			return err
		}
		p.cfg.Metrics = addr
	case "loadbalance":
		if len(d.args) > 1 || (len(d.args) == 1 && d.args[0].text != "round_robin") || len(d.block) > 0 {
			return errAt(d.line, "loadbalance: podnet rotates A/AAAA answers (round_robin) only")
		}
		s.LoadBalance = true
	case "loop", "reload":
		// reload: podnet applies a changed Corefile on its own. loop:
		// accepted so kubeadm's Corefile loads; there is no loop detection
		// (see docs/dns.md).
		if len(d.args) > 0 && d.name == "loop" || len(d.block) > 0 {
			return errAt(d.line, "%s takes no block here", d.name)
		}
	default:
		return errAt(d.line, "unknown or unsupported directive %q (podnet reads kubernetes, forward, cache, hosts, rewrite, errors, log, health, ready, prometheus, loadbalance, loop, reload)", d.name)
	}
	return nil
}

func noBlock(d directive) error {
	if len(d.block) > 0 {
		return errAt(d.block[0].line, "%s: unexpected block option %q", d.name, d.block[0].name)
	}
	return nil
}

func httpAddr(d directive, def string) (string, error) {
	switch len(d.args) {
	case 0:
		return def, nil
	case 1:
		a := d.args[0].text
		if _, _, err := net.SplitHostPort(a); err != nil {
			return "", errAt(d.line, "%s: address %q: %v", d.name, a, err)
		}
		return a, nil
	}
	return "", errAt(d.line, "%s takes at most one address", d.name)
}

func (p *parser) kubernetes(d directive) error {
	c := &p.cfg.Server.Config
	var zones []string
	for _, a := range d.args {
		zones = append(zones, strings.TrimSuffix(strings.ToLower(a.text), "."))
	}
	if len(zones) == 0 {
		return errAt(d.line, "kubernetes: name the cluster zone, as in \"kubernetes cluster.local in-addr.arpa ip6.arpa\"")
	}
	c.Zone = ""
	c.ReverseZones = []string{}
	for _, z := range zones {
		if strings.HasSuffix(z, "in-addr.arpa") || strings.HasSuffix(z, "ip6.arpa") {
			c.ReverseZones = append(c.ReverseZones, z)
			continue
		}
		if c.Zone != "" {
			return errAt(d.line, "kubernetes: two cluster zones (%s and %s): podnet serves one", c.Zone, z)
		}
		c.Zone = z
	}
	if c.Zone == "" {
		return errAt(d.line, "kubernetes: no cluster zone among %q", zones)
	}
	c.Fallthrough = []string{}
	c.Pods = dns.PodsDisabled // CoreDNS's default when "pods" is absent
	ttl := uint32(5)          // CoreDNS's default when "ttl" is absent
	c.TTL = &ttl
	for _, o := range d.block {
		args := texts(o.args)
		switch o.name {
		case "pods":
			if len(args) != 1 || (args[0] != "disabled" && args[0] != "insecure" && args[0] != "verified") {
				return errAt(o.line, "kubernetes: pods takes one of disabled, insecure, verified")
			}
			c.Pods = dns.PodsMode(args[0])
		case "ttl":
			n, err := strconv.ParseUint(strings.Join(args, " "), 10, 32)
			if len(args) != 1 || err != nil || n > 3600 {
				return errAt(o.line, "kubernetes: ttl must be a number of seconds from 0 to 3600, not %q", strings.Join(args, " "))
			}
			v := uint32(n)
			c.TTL = &v
		case "fallthrough":
			if len(args) == 0 {
				c.Fallthrough = append([]string{c.Zone}, c.ReverseZones...)
			} else {
				c.Fallthrough = args
			}
		case "endpoint_pod_names":
			c.EndpointPodNames = true
		case "noendpoints":
			c.NoEndpoints = true
		case "ignore":
			if len(args) != 1 || args[0] != "empty_service" {
				return errAt(o.line, "kubernetes: ignore takes empty_service")
			}
			c.IgnoreEmptyService = true
		case "kubeconfig", "endpoint", "tls", "namespaces", "labels", "namespace_labels", "multicluster", "zonal", "apiserver_qps", "apiserver_burst", "apiserver_max_inflight", "startup_timeout":
			return errAt(o.line, "kubernetes: option %q is not supported by podnet (it reads the lab's own state; see docs/dns.md)", o.name)
		default:
			return errAt(o.line, "kubernetes: unknown option %q", o.name)
		}
		if o.block != nil {
			return errAt(o.line, "kubernetes: %s takes no block", o.name)
		}
	}
	return nil
}

func texts(ts []token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.text
	}
	return out
}

func (p *parser) forward(d directive) error {
	s := &p.cfg.Server
	args := texts(d.args)
	if len(args) < 2 {
		return errAt(d.line, "forward needs FROM and at least one TO, as in \"forward . /etc/resolv.conf\"")
	}
	if args[0] != "." {
		return errAt(d.line, "forward: FROM %q: podnet forwards \".\" (everything outside its zones) only", args[0])
	}
	ups, err := p.upstreams(d, args[1:])
	if err != nil {
		return err
	}
	s.Upstreams = append(s.Upstreams, ups...)
	for _, o := range d.block {
		args := texts(o.args)
		switch o.name {
		case "force_tcp":
			s.ForceTCP = true
		case "prefer_udp":
		case "except":
			s.Except = append(s.Except, args...)
		case "max_concurrent", "expire", "max_fails", "health_check":
			// Accepted: podnet's forwarder has no connection pool or health
			// checks for them to tune (docs/dns.md).
			if len(args) == 0 {
				return errAt(o.line, "forward: %s needs a value", o.name)
			}
		case "policy":
			if len(args) != 1 || args[0] != "sequential" {
				return errAt(o.line, "forward: podnet tries upstreams in order: policy must be sequential")
			}
		default:
			return errAt(o.line, "forward: unknown or unsupported option %q", o.name)
		}
	}
	return nil
}

func (p *parser) cache(d directive) error {
	c := &dns.CacheConfig{}
	args := texts(d.args)
	if len(args) > 0 {
		if n, err := strconv.ParseUint(args[0], 10, 32); err == nil {
			if n == 0 {
				return errAt(d.line, "cache: TTL must be positive")
			}
			c.SuccessTTL, c.DenialTTL = uint32(n), uint32(n)
			args = args[1:]
		}
	}
	c.Zones = args
	for _, o := range d.block {
		args := texts(o.args)
		switch o.name {
		case "success", "denial":
			if len(args) < 1 || len(args) > 3 {
				return errAt(o.line, "cache: %s CAPACITY [TTL] [MINTTL]", o.name)
			}
			var n [3]uint64
			for i, a := range args {
				v, err := strconv.ParseUint(a, 10, 32)
				if err != nil {
					return errAt(o.line, "cache: %s: %q is not a number", o.name, a)
				}
				n[i] = v
			}
			capacity, ttl, minTTL := &c.SuccessCap, &c.SuccessTTL, &c.MinSuccessTTL
			if o.name == "denial" {
				capacity, ttl, minTTL = &c.DenialCap, &c.DenialTTL, &c.MinDenialTTL
			}
			*capacity, *minTTL = int(n[0]), uint32(n[2])
			if len(args) >= 2 {
				*ttl = uint32(n[1])
			}
		case "disable":
			if len(args) < 1 || (args[0] != "success" && args[0] != "denial") {
				return errAt(o.line, "cache: disable success|denial [ZONES...]")
			}
			zones := args[1:]
			if len(zones) == 0 {
				zones = []string{"."}
			}
			if args[0] == "success" {
				c.DisableSuccess = append(c.DisableSuccess, zones...)
			} else {
				c.DisableDenial = append(c.DisableDenial, zones...)
			}
		default:
			return errAt(o.line, "cache: unknown or unsupported option %q (podnet knows success, denial, disable)", o.name)
		}
	}
	p.cfg.Server.Cache = c
	return nil
}

func (p *parser) hosts(d directive) error {
	h := &dns.HostsConfig{}
	args := texts(d.args)
	file := "/etc/hosts"
	if len(args) > 0 && strings.HasPrefix(args[0], "/") {
		file, args = args[0], args[1:]
	}
	h.Zones = args
	var inline []string
	for _, o := range d.block {
		args := texts(o.args)
		if _, err := netip.ParseAddr(o.name); err == nil {
			if len(args) == 0 {
				return errAt(o.line, "hosts: entry %q names no host", o.name)
			}
			inline = append(inline, o.name+" "+strings.Join(args, " "))
			continue
		}
		switch o.name {
		case "ttl":
			n, err := strconv.ParseUint(strings.Join(args, ""), 10, 32)
			if len(args) != 1 || err != nil || n == 0 {
				return errAt(o.line, "hosts: ttl must be a positive number of seconds")
			}
			h.TTL = uint32(n)
		case "fallthrough":
			h.Fallthrough = true
		case "no_reverse":
			h.NoReverse = true
		case "reload":
		default:
			return errAt(o.line, "hosts: %q is neither an IP address nor an option podnet knows (ttl, fallthrough, no_reverse, reload)", o.name)
		}
	}
	// CoreDNS reads the file only when it exists, or when it is named.
	data, err := p.opts.ReadFile(file)
	if err != nil && (len(d.args) > 0 && strings.HasPrefix(d.args[0].text, "/")) {
		return errAt(d.line, "hosts: reading %s: %v", file, err)
	}
	if err == nil {
		h.Lines = append(h.Lines, string(data))
	}
	h.Lines = append(h.Lines, inline...)
	p.cfg.Server.Hosts = h
	return nil
}

func (p *parser) rewrite(d directive) error {
	args := texts(d.args)
	r := dns.Rewrite{}
	if len(args) > 0 && (args[0] == "continue" || args[0] == "stop") {
		r.Continue = args[0] == "continue"
		args = args[1:]
	}
	if len(args) == 0 || args[0] != "name" {
		return errAt(d.line, "rewrite: podnet supports \"rewrite [continue|stop] name [exact|prefix|suffix|substring|regex] FROM TO\" only")
	}
	args = args[1:]
	r.Match = "exact"
	if len(args) > 0 {
		switch args[0] {
		case "exact", "prefix", "suffix", "substring", "regex":
			r.Match, args = args[0], args[1:]
		}
	}
	if len(args) < 2 {
		return errAt(d.line, "rewrite name: needs FROM and TO")
	}
	r.From, r.To, args = args[0], args[1], args[2:]
	switch {
	case len(args) == 0:
	case len(args) == 2 && args[0] == "answer" && args[1] == "auto":
		r.AnswerAuto = true
	case len(args) == 4 && args[0] == "answer" && args[1] == "name":
		r.AnswerFrom, r.AnswerTo = args[2], args[3]
	default:
		return errAt(d.line, "rewrite name: after FROM TO podnet takes \"answer auto\" or \"answer name FROM TO\"")
	}
	if len(d.block) > 0 {
		return errAt(d.line, "rewrite: podnet does not support rewrite blocks")
	}
	if _, err := dns.CheckRewrite(r); err != nil {
		return errAt(d.line, "%v", err)
	}
	p.cfg.Server.Rewrites = append(p.cfg.Server.Rewrites, r)
	return nil
}

// ClusterZone returns the cluster domain a Corefile's kubernetes directive
// serves, for consumers (the node agent writing resolv.conf) that need only
// that. Files the Corefile names are not read.
func ClusterZone(text string) (string, error) {
	c, err := Parse(text, Options{ReadFile: func(string) ([]byte, error) { return nil, nil }})
	if err != nil {
		return "", err
	}
	return c.Server.Zone, nil
}
