package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/podnet/podnet/pkg/dns"
	"github.com/podnet/podnet/pkg/labapi"
)

func newDNS(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "dns", Short: "Cluster DNS"}
	cmd.AddCommand(&cobra.Command{
		Use:   "serve [--listen ADDR] [--api SOCKET] [--cluster-domain DOMAIN]",
		Short: "Serve cluster DNS from a lab's state (the lab runs it in the coredns pods)",
		// CoreDNS's own flags are single-dash (-conf), so the standard
		// library's flag parsing is used instead of cobra's.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return dnsServe(cmd.Context(), args)
		},
	})
	return cmd
}

func dnsServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dns serve", flag.ContinueOnError)
	listen := fs.String("listen", ":53", "address to answer DNS on (UDP and TCP)")
	api := fs.String("api", os.Getenv("PODNET_API"), "the lab API socket to read cluster state from")
	domain := fs.String("cluster-domain", envOr("PODNET_CLUSTER_DOMAIN", "cluster.local"), "the cluster domain")
	fs.String("conf", "", "CoreDNS Corefile (accepted for compatibility; podnet does not read it yet)")
	health := fs.String("health", ":8080", "address for /health")
	ready := fs.String("ready", ":8181", "address for /ready")
	metrics := fs.String("metrics", ":9153", "address for /metrics")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *api == "" {
		return errors.New("--api (or PODNET_API) must name the lab API socket")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	src := labapi.NewRemoteSource(labapi.NewClient(*api))
	go src.Run(ctx)
	reg := prometheus.NewRegistry()
	srv, err := dns.NewServer(src, dns.ServerConfig{Config: dns.Config{Zone: *domain}}, reg)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	udp, err := lc.ListenPacket(ctx, "udp", *listen)
	if err != nil {
		return fmt.Errorf("listen udp %s: %w", *listen, err)
	}
	tcp, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen tcp %s: %w", *listen, err)
	}
	for _, addr := range []string{*health, *ready, *metrics} {
		if addr == "" {
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
	return srv.Serve(ctx, udp, tcp)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
