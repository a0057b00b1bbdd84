package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/dns"
	"github.com/podnet/podnet/pkg/dns/corefile"
	"github.com/podnet/podnet/pkg/dns/snapshot"
	"github.com/podnet/podnet/pkg/labapi"
	"github.com/podnet/podnet/pkg/source"
)

func newDNS(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "dns", Short: "Cluster DNS"}
	cmd.AddCommand(&cobra.Command{
		Use:   "serve [-f MANIFESTS]... [--listen ADDR] [-conf COREFILE] [--api SOCKET] [--cluster-domain DOMAIN]",
		Short: "Serve cluster DNS from a lab's state (the lab runs it in the coredns pods) or from manifests",
		// CoreDNS's own flags are single-dash (-conf), so the standard
		// library's flag parsing is used instead of cobra's.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return dnsServe(cmd.Context(), args, e.errw)
		},
	})
	cmd.AddCommand(newDNSTrace(e))
	return cmd
}

// dnsGCPercent is dns serve's GOGC unless the environment sets one.
const dnsGCPercent = 25

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// serveFlags are dns serve's flags.
type serveFlags struct {
	listen, api, domain, conf string
	health, ready, metrics    string
	files                     multiFlag
	recursive                 bool
}

func dnsServe(ctx context.Context, args []string, logw io.Writer) error {
	var f serveFlags
	fs := flag.NewFlagSet("dns serve", flag.ContinueOnError)
	fs.StringVar(&f.listen, "listen", "", "address to answer DNS on, UDP and TCP (default: the Corefile's port, else :53)")
	fs.StringVar(&f.api, "api", os.Getenv("PODNET_API"), "the lab API socket to read cluster state (and the coredns ConfigMap) from")
	fs.StringVar(&f.domain, "cluster-domain", envOr("PODNET_CLUSTER_DOMAIN", "cluster.local"), "the cluster domain when no Corefile names one")
	fs.StringVar(&f.conf, "conf", "", "a CoreDNS Corefile; in a lab the coredns ConfigMap takes precedence")
	fs.Var(&f.files, "f", "manifests to serve from instead of a lab (file, directory; repeatable); reloaded when they change")
	fs.BoolVar(&f.recursive, "R", false, "read -f directories recursively")
	fs.StringVar(&f.health, "health", "", "address for /health (default: the Corefile's, else :8080 in a lab)")
	fs.StringVar(&f.ready, "ready", "", "address for /ready (default: the Corefile's, else :8181 in a lab)")
	fs.StringVar(&f.metrics, "metrics", "", "address for /metrics (default: the Corefile's, else :9153 in a lab)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.api == "" && len(f.files) == 0 {
		return errors.New("dns serve needs cluster state: -f MANIFESTS, or --api (PODNET_API) naming a lab API socket")
	}
	if os.Getenv("GOGC") == "" {
		// The heap is almost all long-lived state (objects and the zone) and
		// answering barely allocates, so a lower GC target keeps memory near
		// the live size and costs CPU only when the zone is rebuilt.
		debug.SetGCPercent(dnsGCPercent)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var src source.Source
	if len(f.files) > 0 {
		objs, err := snapshot.Load(f.files, f.recursive)
		if err != nil {
			return err
		}
		st := source.NewStatic(objs...)
		go snapshot.Follow(ctx, f.files, f.recursive, st, 500*time.Millisecond, logw)
		src = st
	} else {
		rs := labapi.NewRemoteSource(labapi.NewClient(f.api))
		go rs.Run(ctx)
		select {
		case <-rs.Synced():
		case <-ctx.Done():
			return nil
		}
		src = rs
	}

	conf, text, err := loadCorefile(src, f)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	srv, err := dns.NewServer(src, conf.Server, reg)
	if err != nil {
		return err
	}
	lab := f.api != "" && len(f.files) == 0
	listen := firstOf(f.listen, conf.Listen)
	var lc net.ListenConfig
	udp, err := lc.ListenPacket(ctx, "udp", listen)
	if err != nil {
		return fmt.Errorf("listen udp %s: %w", listen, err)
	}
	tcp, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("listen tcp %s: %w", listen, err)
	}
	defaults := [3]string{}
	if lab {
		defaults = [3]string{":8080", ":8181", ":9153"}
	}
	for i, addr := range []string{firstOf(f.health, conf.Health, defaults[0]), firstOf(f.ready, conf.Ready, defaults[1]), firstOf(f.metrics, conf.Metrics, defaults[2])} {
		if addr == "" || (i > 0 && addr == firstOf(f.health, conf.Health, defaults[0])) {
			continue
		}
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		hs := &http.Server{Handler: srv.Handler()}
		go hs.Serve(l)
		go func() { <-ctx.Done(); hs.Close() }()
	}
	go followCorefile(ctx, src, f, srv, text, logw)
	fmt.Fprintf(logw, "dns serve: zone %s on %s\n", conf.Server.Config.Zone, udp.LocalAddr())
	return srv.Serve(ctx, udp, tcp)
}

// loadCorefile returns the configuration to serve with: the coredns
// ConfigMap's Corefile in a lab, else the -conf file, else podnet's defaults
// (kubeadm's options) for the cluster domain flag.
func loadCorefile(src source.Source, f serveFlags) (*corefile.Config, string, error) {
	text, origin, err := corefileText(src, f)
	if err != nil {
		return nil, "", err
	}
	if text == "" {
		c := &corefile.Config{}
		c.Server.Config.Zone = f.domain
		return c, "", nil
	}
	opts := corefile.Options{}
	if f.api != "" && len(f.files) == 0 {
		// In a lab pod /etc/resolv.conf is the host's: forwarding there
		// would send lab traffic out of the lab.
		opts.ReadFile = func(path string) ([]byte, error) {
			if path == "/etc/resolv.conf" {
				return nil, errors.New("the lab's DNS pods do not forward to the host's resolvers (no lab traffic leaves the lab); forward to a resolver running inside the lab")
			}
			return os.ReadFile(path)
		}
	}
	c, err := corefile.Parse(text, opts)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", origin, err)
	}
	return c, text, nil
}

func corefileText(src source.Source, f serveFlags) (text, origin string, err error) {
	if o, ok := src.Get(source.ConfigMap, "kube-system", "coredns"); ok {
		if cm, ok := o.(*corev1.ConfigMap); ok && cm.Data["Corefile"] != "" {
			return cm.Data["Corefile"], "configmap kube-system/coredns", nil
		}
	}
	if f.conf == "" {
		return "", "", nil
	}
	data, err := os.ReadFile(f.conf)
	if errors.Is(err, os.ErrNotExist) && f.api != "" {
		// In a lab pod the ConfigMap is not mounted; without it, defaults.
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	return string(data), f.conf, nil
}

// followCorefile applies a changed Corefile (ConfigMap or file) without a
// restart, as CoreDNS's reload plugin does. A Corefile that does not parse
// is reported and the running configuration kept.
func followCorefile(ctx context.Context, src source.Source, f serveFlags, srv *dns.Server, last string, logw io.Writer) {
	changed := make(chan struct{}, 1)
	cancel := src.Subscribe(func(e source.Event) {
		if e.Kind == source.ConfigMap && e.Object.GetNamespace() == "kube-system" && e.Object.GetName() == "coredns" {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(2 * time.Second): // the -conf file has no events
		}
		conf, text, err := loadCorefile(src, f)
		if text == last {
			continue
		}
		last = text
		if err == nil {
			err = srv.Apply(conf.Server)
		}
		if err != nil {
			fmt.Fprintf(logw, "[ERROR] Corefile not reloaded, keeping the running configuration: %v\n", err)
			continue
		}
		fmt.Fprintf(logw, "[INFO] Reloading complete: zone %s\n", conf.Server.Config.Zone)
	}
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
