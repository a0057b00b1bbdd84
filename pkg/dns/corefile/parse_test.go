package corefile

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/podnet/podnet/pkg/dns"
)

// kubeadm is kubeadm's default Corefile (cmd/kubeadm/app/phases/addons/dns).
const kubeadm = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`

func files(m map[string]string) Options {
	return Options{ReadFile: func(p string) ([]byte, error) {
		if s, ok := m[p]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}}
}

type check struct {
	what      string
	got, want any
}

func checkAll(t *testing.T, checks []check) {
	t.Helper()
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.what, ch.got, ch.want)
		}
	}
}

func TestParseKubeadmCorefile(t *testing.T) {
	c, err := Parse(kubeadm, files(map[string]string{"/etc/resolv.conf": "search x\nnameserver 10.0.0.53\n"}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	checks := []check{
		{"listen", c.Listen, ":53"},
		{"zone", s.Zone, "cluster.local"},
		{"reverse zones", strings.Join(s.ReverseZones, " "), "in-addr.arpa ip6.arpa"},
		{"pods", s.Pods, dns.PodsInsecure},
		{"ttl", *s.TTL, uint32(30)},
		{"fallthrough", strings.Join(s.Fallthrough, " "), "in-addr.arpa ip6.arpa"},
		{"upstreams from resolv.conf", strings.Join(s.Upstreams, " "), "10.0.0.53"},
		{"cache ttl", s.Cache.SuccessTTL, uint32(30)},
		{"cache disables success for the cluster", strings.Join(s.Cache.DisableSuccess, " "), "cluster.local"},
		{"cache disables denial for the cluster", strings.Join(s.Cache.DisableDenial, " "), "cluster.local"},
		{"health", c.Health, ":8080"},
		{"ready", c.Ready, ":8181"},
		{"metrics", c.Metrics, ":9153"},
		{"errors logged", s.ErrorLog != nil, true},
		{"queries not logged", s.QueryLog == nil, true},
		{"loadbalance", s.LoadBalance, true},
	}
	checkAll(t, checks)
}

func TestParseOptions(t *testing.T) {
	c, err := Parse(`# a custom cluster
dns://.:1053 {
    kubernetes corp.example {
        pods verified
        endpoint_pod_names
        noendpoints
        ignore empty_service
        fallthrough
        ttl 0
    }
    hosts /etc/extra-hosts {
        192.0.2.10 db.corp.internal db
        ttl 60
        fallthrough
    }
    rewrite name exact old.corp.example new.default.svc.corp.example
    rewrite continue name regex (.*)\.legacy\. {1}.default.svc.corp.example. answer name (.*)\.default\.svc\.corp\.example\. {1}.legacy.
    forward . 192.0.2.53:5353 "192.0.2.54" {
        except corp.internal
        force_tcp
    }
    log
}`, files(map[string]string{"/etc/extra-hosts": "192.0.2.11 cache.corp.internal\n"}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	checks := []check{
		{"listen", c.Listen, ":1053"},
		{"zone", s.Zone, "corp.example"},
		{"no reverse zones", len(s.ReverseZones), 0},
		{"pods", s.Pods, dns.PodsVerified},
		{"ttl 0 is kept", *s.TTL, uint32(0)},
		{"bare fallthrough covers the plugin's zones", strings.Join(s.Fallthrough, " "), "corp.example"},
		{"endpoint_pod_names", s.EndpointPodNames, true},
		{"noendpoints", s.NoEndpoints, true},
		{"ignore empty_service", s.IgnoreEmptyService, true},
		{"hosts lines: file then inline", strings.Join(s.Hosts.Lines, "|"), "192.0.2.11 cache.corp.internal\n|192.0.2.10 db.corp.internal db"},
		{"hosts ttl", s.Hosts.TTL, uint32(60)},
		{"hosts fallthrough", s.Hosts.Fallthrough, true},
		{"two rewrites", len(s.Rewrites), 2},
		{"second rewrite continues", s.Rewrites[1].Continue, true},
		{"answer name rule", s.Rewrites[1].AnswerTo, "{1}.legacy."},
		{"upstreams", strings.Join(s.Upstreams, " "), "192.0.2.53:5353 192.0.2.54"},
		{"except", strings.Join(s.Except, " "), "corp.internal"},
		{"force_tcp", s.ForceTCP, true},
		{"log", s.QueryLog != nil, true},
		{"no health without the plugin", c.Health, ""},
		{"no cache without the plugin", s.Cache == nil, true},
		{"kubernetes without pods is disabled, as CoreDNS", true, true},
	}
	checkAll(t, checks)
	if c2, err := Parse(".:53 {\n kubernetes cluster.local\n}\n", files(nil)); err != nil || c2.Server.Pods != dns.PodsDisabled || *c2.Server.TTL != 5 {
		t.Errorf("a bare kubernetes block should take CoreDNS's defaults (pods disabled, ttl 5): %+v %v", c2, err)
	}
}

func TestParseStubDomains(t *testing.T) {
	c, err := Parse(kubeadm+`
consul.local:53 {
    errors
    cache 30
    forward . 10.150.0.1 {
        force_tcp
    }
}
corp.internal:53 {
    forward . 192.0.2.53:5353 192.0.2.54
}
`, files(map[string]string{"/etc/resolv.conf": "nameserver 10.0.0.53\n"}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	checkAll(t, []check{
		{"two stub domains", len(s.Stubs), 2},
		{"the first stub's zone", s.Stubs[0].Zone, "consul.local"},
		{"the first stub's upstream", strings.Join(s.Stubs[0].Upstreams, " "), "10.150.0.1"},
		{"force_tcp in a stub", s.Stubs[0].ForceTCP, true},
		{"the second stub's upstreams", strings.Join(s.Stubs[1].Upstreams, " "), "192.0.2.53:5353 192.0.2.54"},
		{"the root's upstreams stay the root's", strings.Join(s.Upstreams, " "), "10.0.0.53"},
		{"the root's cache (zones \".\") covers the stubs", len(s.Cache.Zones), 0},
	})
	only, err := Parse(".:53 {\n kubernetes cluster.local\n}\nconsul.local {\n cache 30\n forward . 10.150.0.1\n}\n", files(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, []check{
		{"without a root cache the stub's cache covers its zone only", strings.Join(only.Server.Cache.Zones, " "), "consul.local"},
		{"with the stub's TTL", only.Server.Cache.SuccessTTL, uint32(30)},
	})
}

func TestParseErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name   string
		text   string
		substr string
	}{
		{"an unknown directive", ".:53 {\n kubernetes cluster.local\n etcd\n}", "Corefile:3: unknown or unsupported directive \"etcd\""},
		{"an unknown kubernetes option", ".:53 {\n kubernetes cluster.local {\n  pods insecure\n  autopath\n }\n}", "Corefile:4: kubernetes: unknown option \"autopath\""},
		{"a bad pods mode", ".:53 {\n kubernetes cluster.local {\n  pods sometimes\n }\n}", "Corefile:3: kubernetes: pods takes one of"},
		{"a ttl over 3600", ".:53 {\n kubernetes cluster.local {\n  ttl 7200\n }\n}", "Corefile:3: kubernetes: ttl must be"},
		{"an unsupported kubernetes option", ".:53 {\n kubernetes cluster.local {\n  namespaces a b\n }\n}", "Corefile:3: kubernetes: option \"namespaces\" is not supported"},
		{"a missing closing brace", ".:53 {\n kubernetes cluster.local {\n  ttl 30\n}", "Corefile:1: the block opened here is never closed"},
		{"no kubernetes directive", ".:53 {\n forward . 192.0.2.1\n}", "Corefile:1: the server block has no kubernetes directive"},
		{"a second root block", ".:53 {\n kubernetes cluster.local\n}\n.:53 {\n forward . 192.0.2.1\n}", "Corefile:4: a second server block for \".\" (the first is on line 1)"},
		{"no root block", "example.com:53 {\n kubernetes cluster.local\n}", "Corefile:1: no server block for the root zone"},
		{"the root zone with another in one block", ".:53 example.com:53 {\n kubernetes cluster.local\n}", `Corefile:1: server block "example.com:53": put the root zone`},
		{"kubernetes in a stub domain", ".:53 {\n kubernetes cluster.local\n}\nconsul.local:53 {\n kubernetes other.local\n}", "Corefile:5: kubernetes in a stub domain: podnet reads forward, cache, errors and log there"},
		{"a stub domain without forward", ".:53 {\n kubernetes cluster.local\n}\nconsul.local:53 {\n errors\n}", "Corefile:4: stub domain consul.local has no forward"},
		{"a stub domain on another port", ".:53 {\n kubernetes cluster.local\n}\nconsul.local:5300 {\n forward . 192.0.2.1\n}", `Corefile:4: server block "consul.local:5300": podnet serves one port`},
		{"stub domains disagreeing on their cache", ".:53 {\n kubernetes cluster.local\n}\na.local {\n forward . 192.0.2.1\n cache 30\n}\nb.local {\n forward . 192.0.2.2\n cache 60\n}", "Corefile:10: cache: stub domains share one cache"},
		{"a bad port", ".:99999 {\n kubernetes cluster.local\n}", "Corefile:1: server block key"},
		{"a TLS upstream", ".:53 {\n kubernetes cluster.local\n forward . tls://192.0.2.1\n}", "Corefile:3: forward: \"tls://192.0.2.1\""},
		{"an upstream that is a name", ".:53 {\n kubernetes cluster.local\n forward . dns.example\n}", "Corefile:3: forward: upstream \"dns.example\" is not an IP"},
		{"an unknown forward option", ".:53 {\n kubernetes cluster.local\n forward . 192.0.2.1 {\n  tls_servername x\n }\n}", "Corefile:4: forward: unknown or unsupported option \"tls_servername\""},
		{"a random forward policy", ".:53 {\n kubernetes cluster.local\n forward . 192.0.2.1 {\n  policy random\n }\n}", "Corefile:4: forward: podnet tries upstreams in order"},
		{"a bad cache option", ".:53 {\n kubernetes cluster.local\n cache 30 {\n  prefetch 10\n }\n}", "Corefile:4: cache: unknown or unsupported option \"prefetch\""},
		{"a rewrite of another field", ".:53 {\n kubernetes cluster.local\n rewrite type ANY HINFO\n}", "Corefile:3: rewrite: podnet supports"},
		{"a rewrite with a bad regex", ".:53 {\n kubernetes cluster.local\n rewrite name regex ( x\n}", "Corefile:3: rewrite regex \"(\""},
		{"a hosts entry without a name", ".:53 {\n kubernetes cluster.local\n hosts {\n  192.0.2.1\n }\n}", "Corefile:4: hosts: entry \"192.0.2.1\" names no host"},
		{"a directive set twice", ".:53 {\n kubernetes cluster.local\n cache 30\n cache 10\n}", "Corefile:4: cache is set twice (first on line 3)"},
		{"an unterminated quote", ".:53 {\n kubernetes \"cluster.local\n}", "Corefile:2: unterminated quote"},
		{"a missing resolv.conf", ".:53 {\n kubernetes cluster.local\n forward . /etc/resolv.conf\n}", "Corefile:3: forward: reading /etc/resolv.conf"},
		{"two cluster zones", ".:53 {\n kubernetes a.local b.local\n}", "Corefile:2: kubernetes: two cluster zones"},
		{"an empty Corefile", "# nothing\n", "no server block"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.text, files(nil))
			if err == nil || !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %v, want one containing %q", err, tc.substr)
			}
		})
	}
}
