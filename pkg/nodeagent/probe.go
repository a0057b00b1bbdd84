package nodeagent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// prober runs a container's probes the way kubelet does: TCP and HTTP from
// the node's network namespace to the pod IP, exec inside the pod.
type prober struct {
	nodeNetns string
	execIn    func(ctx context.Context, argv []string) error
}

// dial opens a connection from the node's network namespace: the socket is
// created on a thread switched into it, and keeps that namespace after.
func (p prober) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := ns.WithNetNSPath(p.nodeNetns, func(ns.NetNS) error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

func resolvePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q not found in container %q", port.StrVal, c.Name)
}

// run executes one probe attempt; nil means success.
func (p prober) run(ctx context.Context, pr *corev1.Probe, c *corev1.Container, podIP string) error {
	timeout := time.Duration(max(pr.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case pr.TCPSocket != nil:
		port, err := resolvePort(pr.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		host := pr.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		conn, err := p.dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case pr.HTTPGet != nil:
		g := pr.HTTPGet
		port, err := resolvePort(g.Port, c)
		if err != nil {
			return err
		}
		host := g.Host
		if host == "" {
			host = podIP
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		path := g.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), path), nil)
		if err != nil {
			return err
		}
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		req.Header.Set("User-Agent", "kube-probe/1.34")
		client := http.Client{Transport: &http.Transport{DialContext: p.dial, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		// kubelet: 200 <= code < 400 is success.
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case pr.Exec != nil:
		return p.execIn(ctx, pr.Exec.Command)
	case pr.GRPC != nil:
		return fmt.Errorf("gRPC probes are not supported by podnet")
	}
	return fmt.Errorf("probe has no handler")
}

// execProbe runs argv in the sandbox; a non-zero exit is a failure.
func execProbe(ctx context.Context, sandboxPID int, env []string, argv []string) error {
	args := append([]string{"--target", strconv.Itoa(sandboxPID), "--net", "--uts", "--mount", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
