// Command netpolgen writes the NetworkPolicy benchmark's cluster as
// manifests for `podnet policy matrix -f DIR`: by default 1,000 pods in 50
// namespaces with 1,000 policies (see pkg/netpol/netpolgen). The same flags
// always write the same files.
//
//	go run ./bench/netpolgen -dir /tmp/np && bin/podnet policy matrix -f /tmp/np -o json >/dev/null
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/netpol/netpolgen"
	"github.com/podnet/podnet/pkg/source"
)

func main() {
	cfg := netpolgen.Default
	dir := flag.String("dir", "", "output directory (cluster.yaml and policies.yaml)")
	flag.IntVar(&cfg.Namespaces, "namespaces", cfg.Namespaces, "namespaces")
	flag.IntVar(&cfg.Pods, "pods", cfg.Pods, "pods, spread over the namespaces")
	flag.IntVar(&cfg.Policies, "policies", cfg.Policies, "NetworkPolicies, spread over the namespaces")
	flag.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "nodes")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "netpolgen: -dir is required")
		os.Exit(2)
	}
	if err := write(*dir, netpolgen.Cluster(cfg)); err != nil {
		fmt.Fprintln(os.Stderr, "netpolgen:", err)
		os.Exit(1)
	}
}

func write(dir string, objs []source.Object) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[bool]*bufio.Writer{}
	var closers []*os.File
	for _, policies := range []bool{false, true} {
		name := "cluster.yaml"
		if policies {
			name = "policies.yaml"
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		closers = append(closers, f)
		files[policies] = bufio.NewWriter(f)
	}
	for _, o := range objs {
		k, err := source.KindOf(o)
		if err != nil {
			return err
		}
		data, err := manifest.Encode(o, "yaml")
		if err != nil {
			return err
		}
		w := files[k == source.NetworkPolicy]
		w.Write(data)
		w.WriteString("---\n")
	}
	for i, policies := range []bool{false, true} {
		if err := files[policies].Flush(); err != nil {
			return err
		}
		if err := closers[i].Close(); err != nil {
			return err
		}
	}
	return nil
}
