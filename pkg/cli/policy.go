package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/netpol"
	"github.com/podnet/podnet/pkg/source"
)

// policyInput is where a policy command reads the cluster from: manifests
// (-f, offline, no lab needed) or the running lab.
type policyInput struct {
	files     []string
	recursive bool
	output    string
}

func (in *policyInput) flags(cmd *cobra.Command, formats string) {
	cmd.Flags().StringArrayVarP(&in.files, "filename", "f", nil, "manifests (files or directories) to analyse instead of the running lab")
	cmd.Flags().BoolVarP(&in.recursive, "recursive", "R", false, "read directories given with -f recursively")
	cmd.Flags().StringVarP(&in.output, "output", "o", "table", "output format: "+formats)
}

func newPolicy(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Analyse NetworkPolicies: matrix, explain, lint, verify, diff",
		Long: `Analyse NetworkPolicies with podnet's policy model, from the running lab or,
with -f, from manifests alone (no lab, no root): objects are taken as given,
pods with their status.podIP, labels and containerPorts; when an object
appears twice, the later one wins.`,
	}
	cmd.AddCommand(newPolicyMatrix(e), newPolicyExplain(e), newPolicyLint(e), newPolicyVerify(e), newPolicyDiff(e))
	return cmd
}

// readObjects reads manifests, or the lab's objects when paths is empty.
func (e *env) readObjects(ctx context.Context, paths []string, recursive bool) ([]source.Object, error) {
	if len(paths) > 0 {
		objs, err := manifest.ReadPaths(paths, recursive, e.in)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, o := range objs {
			if err := manifest.ValidationError(o, manifest.Validate(o, manifest.Options{})); err != nil {
				// kubectl's words for the object (The Kind "name" is
				// invalid: field: ...), not the API status underneath.
				errs = append(errs, errors.New(err.Error()))
			}
		}
		return objs, errors.Join(errs...)
	}
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	var objs []source.Object
	for _, k := range []source.Kind{source.Namespace, source.Node, source.Service, source.Pod, source.NetworkPolicy,
		source.AdminNetworkPolicy, source.BaselineAdminNetworkPolicy} {
		got, err := c.List(ctx, k)
		if err != nil {
			return nil, err
		}
		objs = append(objs, got...)
	}
	return objs, nil
}

func (e *env) policyEngine(ctx context.Context, in *policyInput) (*netpol.Engine, error) {
	objs, err := e.readObjects(ctx, in.files, in.recursive)
	if err != nil {
		return nil, err
	}
	return netpol.New(netpol.FromObjects(objs))
}

// parsePorts reads "80/TCP,81/UDP" (protocol defaults to TCP).
func parsePorts(s string) ([]netpol.PortProto, error) {
	var out []netpol.PortProto
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		pp, err := parsePort(item)
		if err != nil {
			return nil, err
		}
		out = append(out, pp)
	}
	return out, nil
}

func parsePort(s string) (netpol.PortProto, error) {
	num, proto, _ := strings.Cut(s, "/")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return netpol.PortProto{}, fmt.Errorf("invalid port %q: want NUMBER[/PROTOCOL], e.g. 80/TCP", s)
	}
	p := corev1.Protocol(strings.ToUpper(proto))
	switch p {
	case "":
		p = corev1.ProtocolTCP
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
	default:
		return netpol.PortProto{}, fmt.Errorf("invalid protocol %q in %q: supported values: \"SCTP\", \"TCP\", \"UDP\"", proto, s)
	}
	return netpol.PortProto{Port: int32(n), Protocol: p}, nil
}

// endpoint resolves "ns/name", "name" (in -n's namespace) or an address.
func (e *env) endpoint(eng *netpol.Engine, s string) (netpol.Endpoint, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		for _, p := range eng.Cluster.Pods {
			if p.IP == ip {
				return netpol.PodEndpoint(p), nil
			}
		}
		return netpol.IPEndpoint(ip), nil
	}
	key := s
	if !strings.Contains(s, "/") {
		key = e.ns() + "/" + s
	}
	if p := eng.Cluster.Pod(key); p != nil {
		return netpol.PodEndpoint(p), nil
	}
	ns, name, _ := strings.Cut(key, "/")
	return netpol.Endpoint{}, fmt.Errorf("pod %q not found in namespace %q", name, ns)
}

func newPolicyMatrix(e *env) *cobra.Command {
	in := &policyInput{}
	var ports string
	cmd := &cobra.Command{
		Use:   "matrix [-f PATH]... [--ports 80/TCP,81/UDP] [-o table|json|yaml|csv|md|dot|svg|html]",
		Short: "Every pod x pod x port verdict ('.' allowed, 'X' denied)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pps, err := parsePorts(ports)
			if err != nil {
				return err
			}
			eng, err := e.policyEngine(cmd.Context(), in)
			if err != nil {
				return err
			}
			return writeMatrix(e.out, in.output, eng.Matrix(pps))
		},
	}
	in.flags(cmd, "table|json|yaml|csv|md|dot|svg|html")
	cmd.Flags().StringVar(&ports, "ports", "", "ports to evaluate on every destination (default: the ports each destination pod declares)")
	return cmd
}

func newPolicyExplain(e *env) *cobra.Command {
	in := &policyInput{}
	var port string
	cmd := &cobra.Command{
		Use:   "explain FROM TO [--port 8080/TCP]",
		Short: "Which policies select each side, which rule allows the connection or why none does",
		Long: `FROM and TO are pods (NAMESPACE/NAME, or NAME in the -n namespace) or addresses.
Without --port, every port the destination declares is explained.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := e.policyEngine(cmd.Context(), in)
			if err != nil {
				return err
			}
			from, err := e.endpoint(eng, args[0])
			if err != nil {
				return err
			}
			to, err := e.endpoint(eng, args[1])
			if err != nil {
				return err
			}
			var pps []netpol.PortProto
			if port != "" {
				pp, err := parsePort(port)
				if err != nil {
					return err
				}
				pps = append(pps, pp)
			} else if to.Pod != nil {
				pps = netpol.PortsFor(to.Pod, nil)
			}
			if len(pps) == 0 {
				return fmt.Errorf("%s declares no ports: give one with --port, e.g. --port 80/TCP", to)
			}
			var xs []netpol.Explanation
			for _, pp := range pps {
				xs = append(xs, eng.Explain(from, to, pp.Port, pp.Protocol))
			}
			return writeExplanations(e.out, in.output, xs)
		},
	}
	in.flags(cmd, "table|json|yaml")
	cmd.Flags().StringVar(&port, "port", "", "port and protocol, e.g. 8080/TCP")
	return cmd
}

func newPolicyLint(e *env) *cobra.Command {
	in := &policyInput{}
	cmd := &cobra.Command{
		Use:   "lint [-f PATH]...",
		Short: "Find policy pitfalls: selectors that match nothing, DNS cut off, undeclared ports, shadowed rules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := e.policyEngine(cmd.Context(), in)
			if err != nil {
				return err
			}
			findings := eng.Lint()
			if err := writeFindings(e.out, in.output, findings); err != nil {
				return err
			}
			if len(findings) > 0 {
				return exitError{code: 1} // CI can gate on lint
			}
			return nil
		},
	}
	in.flags(cmd, "table|json|yaml|csv|md")
	return cmd
}

func newPolicyDiff(e *env) *cobra.Command {
	in := &policyInput{}
	var ports string
	cmd := &cobra.Command{
		Use:   "diff -f BEFORE -f AFTER | diff -f CHANGE",
		Short: "What connectivity a change adds or removes",
		Long: `With two -f paths, compares the cluster they describe (before, after).
With one, compares the running lab with the lab plus those manifests applied.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pps, err := parsePorts(ports)
			if err != nil {
				return err
			}
			var before, after []source.Object
			switch len(in.files) {
			case 2:
				if before, err = e.readObjects(cmd.Context(), in.files[:1], in.recursive); err != nil {
					return err
				}
				if after, err = e.readObjects(cmd.Context(), in.files[1:], in.recursive); err != nil {
					return err
				}
			case 1:
				if before, err = e.readObjects(cmd.Context(), nil, false); err != nil {
					return err
				}
				change, err := e.readObjects(cmd.Context(), in.files, in.recursive)
				if err != nil {
					return err
				}
				after = append(append([]source.Object{}, before...), change...)
			default:
				return errors.New("diff needs -f BEFORE -f AFTER, or one -f to compare with the running lab")
			}
			old, err := netpol.New(netpol.FromObjects(before))
			if err != nil {
				return err
			}
			cur, err := netpol.New(netpol.FromObjects(after))
			if err != nil {
				return err
			}
			return writeChanges(e.out, in.output, netpol.Diff(old.Matrix(pps), cur.Matrix(pps)))
		},
	}
	in.flags(cmd, "table|json|yaml|csv|md|dot")
	cmd.Flags().StringVar(&ports, "ports", "", "ports to compare (default: the ports each destination pod declares)")
	return cmd
}
