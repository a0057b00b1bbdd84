// Command dnsgen writes the DNS benchmark's cluster as manifests (Namespaces,
// ClusterIP Services and their EndpointSlices, for `podnet dns serve -f`)
// and a dnsperf query file of A queries for existing Services in random
// order.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "", "output directory (manifests/ and queries.txt)")
	services := flag.Int("services", 1000, "Services")
	namespaces := flag.Int("namespaces", 10, "namespaces the Services are spread over")
	endpoints := flag.Int("endpoints", 3, "endpoints per Service")
	queries := flag.Int("queries", 100000, "queries in the query file")
	domain := flag.String("cluster-domain", "cluster.local", "cluster domain")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "dnsgen: -dir is required")
		os.Exit(2)
	}
	if err := run(*dir, *services, *namespaces, *endpoints, *queries, *domain); err != nil {
		fmt.Fprintln(os.Stderr, "dnsgen:", err)
		os.Exit(1)
	}
}

func run(dir string, services, namespaces, endpoints, queries int, domain string) error {
	mdir := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(mdir, "cluster.yaml"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for n := range namespaces {
		fmt.Fprintf(w, "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns%d}\n---\n", n)
	}
	for i := range services {
		ns := fmt.Sprintf("ns%d", i%namespaces)
		// Cluster IPs from 10.96.0.0/12 above the lab's fixed ones; pod IPs
		// from 10.244.0.0/16 upwards.
		ip := 0x0a600000 + 16 + i
		fmt.Fprintf(w, "apiVersion: v1\nkind: Service\nmetadata: {name: svc%d, namespace: %s}\nspec:\n  clusterIP: %s\n  ports: [{name: http, port: 80, targetPort: 8080}]\n---\n",
			i, ns, dotted(ip))
		fmt.Fprintf(w, "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: svc%d-x\n  namespace: %s\n  labels: {kubernetes.io/service-name: svc%d}\naddressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n", i, ns, i)
		for e := range endpoints {
			fmt.Fprintf(w, "- addresses: [%s]\n  conditions: {ready: true}\n", dotted(0x0af40000+i*endpoints+e+1))
		}
		fmt.Fprintf(w, "---\n")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	q, err := os.Create(filepath.Join(dir, "queries.txt"))
	if err != nil {
		return err
	}
	qw := bufio.NewWriter(q)
	r := rand.New(rand.NewPCG(1, 2)) // the same file every run
	for range queries {
		i := r.IntN(services)
		fmt.Fprintf(qw, "svc%d.ns%d.svc.%s A\n", i, i%namespaces, domain)
	}
	if err := qw.Flush(); err != nil {
		return err
	}
	return q.Close()
}

func dotted(v int) string {
	return fmt.Sprintf("%d.%d.%d.%d", v>>24&0xff, v>>16&0xff, v>>8&0xff, v&0xff)
}
