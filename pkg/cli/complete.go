package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podnet/podnet/pkg/printers"
	"github.com/podnet/podnet/pkg/source"
)

// addCompletions gives the commands kubectl's shell completion: pod names
// for exec, logs and port-forward; TYPE, then NAME (or TYPE/NAME) for the
// commands that take objects; namespaces for -n. Names come from the
// running lab; with no lab there is nothing to offer.
func addCompletions(root *cobra.Command, e *env) {
	pods := func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return e.namesOf(source.Pod, ""), cobra.ShellCompDirectiveNoFileComp
	}
	objects := func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			if typ, _, ok := strings.Cut(toComplete, "/"); ok {
				k, err := printers.ResolveKind(typ)
				if err != nil {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return e.namesOf(k, typ+"/"), cobra.ShellCompDirectiveNoFileComp
			}
			return printers.ResourceNames(), cobra.ShellCompDirectiveNoFileComp
		}
		if strings.Contains(args[0], "/") {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		k, err := printers.ResolveKind(args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return e.namesOf(k, ""), cobra.ShellCompDirectiveNoFileComp
	}
	for _, c := range root.Commands() {
		switch c.Name() {
		case "exec", "logs", "port-forward":
			c.ValidArgsFunction = pods
		case "get", "describe", "delete", "label", "scale", "expose", "wait":
			c.ValidArgsFunction = objects
		}
	}
	root.RegisterFlagCompletionFunc("namespace", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return e.namesOf(source.Namespace, ""), cobra.ShellCompDirectiveNoFileComp
	})
}

// namesOf lists the names of kind k in the current namespace (all for
// cluster-scoped kinds), each with prefix.
func (e *env) namesOf(k source.Kind, prefix string) []string {
	c, err := e.client()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if k == printers.EndpointsKind {
		k = source.Service // one Endpoints per Service
	}
	objs, err := c.List(ctx, k)
	if err != nil {
		return nil
	}
	var names []string
	for _, o := range objs {
		if source.Namespaced(k) && o.GetNamespace() != e.ns() {
			continue
		}
		names = append(names, prefix+o.GetName())
	}
	return names
}
