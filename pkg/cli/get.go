package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/podnet/podnet/pkg/events"
	"github.com/podnet/podnet/pkg/labapi"
	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/printers"
	"github.com/podnet/podnet/pkg/source"
)

type ref struct {
	kind      source.Kind
	namespace string
	name      string
}

// listKind returns the objects of kind in scope (namespace or all), matching
// the selector. Endpoints are derived from Services and EndpointSlices.
func (e *env) listKind(ctx context.Context, c *labapi.Client, kind source.Kind, selector labels.Selector) ([]source.Object, error) {
	var objs []source.Object
	if kind == printers.EndpointsKind {
		svcs, err := c.List(ctx, source.Service)
		if err != nil {
			return nil, err
		}
		sl, err := c.List(ctx, source.EndpointSlice)
		if err != nil {
			return nil, err
		}
		for _, o := range svcs {
			svc := o.(*corev1.Service)
			var mine []*discoveryv1.EndpointSlice
			for _, so := range sl {
				s := so.(*discoveryv1.EndpointSlice)
				if s.Namespace == svc.Namespace && s.Labels[discoveryv1.LabelServiceName] == svc.Name {
					mine = append(mine, s)
				}
			}
			if len(mine) == 0 && len(svc.Spec.Selector) == 0 {
				continue
			}
			objs = append(objs, printers.EndpointsFromSlices(svc, mine))
		}
	} else {
		var err error
		if objs, err = c.List(ctx, kind); err != nil {
			return nil, err
		}
	}
	var out []source.Object
	for _, o := range objs {
		if source.Namespaced(kindOrSelf(kind)) && !e.allNS && o.GetNamespace() != e.ns() {
			continue
		}
		if selector != nil && !selector.Matches(labels.Set(o.GetLabels())) {
			continue
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b source.Object) int {
		if c := strings.Compare(a.GetNamespace(), b.GetNamespace()); c != 0 {
			return c
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
	return out, nil
}

func kindOrSelf(k source.Kind) source.Kind {
	if k == printers.EndpointsKind {
		return source.Service
	}
	return k
}

func (e *env) getOne(ctx context.Context, c *labapi.Client, kind source.Kind, name string) (source.Object, error) {
	ns := e.ns()
	if !source.Namespaced(kindOrSelf(kind)) {
		ns = ""
	}
	if kind == printers.EndpointsKind {
		objs, err := e.listKind(ctx, c, kind, nil)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if o.GetName() == name && o.GetNamespace() == ns {
				return o, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "endpoints"}, name)
	}
	return c.Get(ctx, kind, ns, name)
}

// resolveRefs turns `TYPE NAME...`, `TYPE/NAME...`, `TYPE -l sel` and
// `TYPE --all` into object references.
func (e *env) resolveRefs(cmd *cobra.Command, c *labapi.Client, args []string, selector string, all bool) ([]ref, error) {
	if len(args) == 0 {
		return nil, errors.New("you must specify the type of resource to get")
	}
	var refs []ref
	if strings.Contains(args[0], "/") {
		for _, a := range args {
			t, n, ok := strings.Cut(a, "/")
			if !ok {
				return nil, errors.New("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form")
			}
			k, err := printers.ResolveKind(t)
			if err != nil {
				return nil, err
			}
			refs = append(refs, ref{k, e.scopeNS(k), n})
		}
		return refs, nil
	}
	k, err := printers.ResolveKind(args[0])
	if err != nil {
		return nil, err
	}
	if len(args) > 1 {
		for _, n := range args[1:] {
			refs = append(refs, ref{k, e.scopeNS(k), n})
		}
		return refs, nil
	}
	if selector == "" && !all {
		return nil, errors.New("resource(s) were provided, but no name was specified")
	}
	sel, err := parseSelector(selector)
	if err != nil {
		return nil, err
	}
	objs, err := e.listKind(cmd.Context(), c, k, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		refs = append(refs, ref{k, o.GetNamespace(), o.GetName()})
	}
	if len(refs) == 0 {
		fmt.Fprintln(e.errw, printers.NoResourcesMessage(e.ns(), e.allNS))
	}
	return refs, nil
}

func (e *env) scopeNS(k source.Kind) string {
	if source.Namespaced(kindOrSelf(k)) {
		return e.ns()
	}
	return ""
}

func parseSelector(s string) (labels.Selector, error) {
	if s == "" {
		return nil, nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("unable to parse requirement: %v", err)
	}
	return sel, nil
}

// allKinds are what `get all` shows, in kubectl's order.
var allKinds = []source.Kind{source.Pod, source.Service, source.Deployment, source.ReplicaSet, source.StatefulSet}

func newGet(e *env) *cobra.Command {
	var output, selector, fieldSelector string
	var showLabels, noHeaders bool
	cmd := &cobra.Command{
		Use:   "get TYPE[,TYPE...] [NAME...] [-o wide|yaml|json|name|jsonpath=...]",
		Short: "Display one or many objects",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return errors.New("you must specify the type of resource to get. Use \"podnet api-resources\" for a complete list of supported resources.")
			}
			sel, err := parseSelector(selector)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			opts := printers.Options{Wide: output == "wide", WithNamespace: e.allNS, ShowLabels: showLabels, NoHeaders: noHeaders, Now: time.Now()}
			var groups []printers.KindObjects
			named := false
			if strings.Contains(args[0], "/") || len(args) > 1 {
				named = true
				refs, err := e.resolveRefs(cmd, c, args, "", false)
				if err != nil {
					return err
				}
				var missing error
				for _, r := range refs {
					o, err := e.getOne(ctx, c, r.kind, r.name)
					if err != nil {
						fmt.Fprintln(e.errw, formatError(err))
						missing = exitError{1}
						continue
					}
					groups = appendGroup(groups, r.kind, o)
				}
				if err := e.printGroups(groups, opts, output, named && len(refs) == 1); err != nil {
					return err
				}
				return missing
			}
			var kinds []source.Kind
			for _, t := range strings.Split(args[0], ",") {
				if t == "all" {
					kinds = append(kinds, allKinds...)
					continue
				}
				k, err := printers.ResolveKind(t)
				if err != nil {
					return err
				}
				kinds = append(kinds, k)
			}
			for _, k := range kinds {
				objs, err := e.listKind(ctx, c, k, sel)
				if err != nil {
					return err
				}
				match, err := fieldFilter(fieldSelector, kindOrSelf(k))
				if err != nil {
					return err
				}
				objs = slices.DeleteFunc(objs, func(o source.Object) bool { return !match(o) })
				if len(objs) > 0 {
					groups = append(groups, printers.KindObjects{Kind: k, Objects: objs})
				}
			}
			if len(groups) == 0 && (output == "" || output == "wide") {
				fmt.Fprintln(e.errw, printers.NoResourcesMessage(e.ns(), e.allNS))
				return nil
			}
			opts.WithKind = len(kinds) > 1
			return e.printGroups(groups, opts, output, false)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: wide, yaml, json, name, jsonpath=TEMPLATE")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector (e.g. app=web,tier!=db)")
	cmd.Flags().StringVar(&fieldSelector, "field-selector", "", "field selector (e.g. spec.nodeName=NODE, status.phase=Running, involvedObject.name=POD)")
	cmd.Flags().BoolVarP(&e.allNS, "all-namespaces", "A", false, "list across all namespaces")
	cmd.Flags().BoolVar(&showLabels, "show-labels", false, "show labels as the last column")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "don't print headers")
	return cmd
}

func appendGroup(groups []printers.KindObjects, k source.Kind, o source.Object) []printers.KindObjects {
	for i := range groups {
		if groups[i].Kind == k {
			groups[i].Objects = append(groups[i].Objects, o)
			return groups
		}
	}
	return append(groups, printers.KindObjects{Kind: k, Objects: []source.Object{o}})
}

// printGroups prints in the requested format; single is true when exactly one
// object was asked for by name (yaml/json then print it bare, not a List).
func (e *env) printGroups(groups []printers.KindObjects, opts printers.Options, output string, single bool) error {
	var all []source.Object
	for _, g := range groups {
		all = append(all, g.Objects...)
	}
	switch {
	case output == "" || output == "wide":
		if len(groups) == 1 {
			return printers.PrintTable(e.out, groups[0].Kind, groups[0].Objects, opts)
		}
		return printers.PrintAll(e.out, groups, opts)
	case output == "name":
		for _, g := range groups {
			if err := printers.PrintNames(e.out, g.Kind, g.Objects); err != nil {
				return err
			}
		}
		return nil
	case strings.HasPrefix(output, "jsonpath="):
		return printers.PrintJSONPath(e.out, strings.TrimPrefix(output, "jsonpath="), all, !single)
	case output == "yaml" || output == "json":
		if single && len(all) == 1 {
			data, err := manifest.Encode(all[0], output)
			if err != nil {
				return err
			}
			_, err = e.out.Write(data)
			return err
		}
		items := make([]any, 0, len(all))
		for _, o := range all {
			u, err := printers.ToUnstructured(o)
			if err != nil {
				return err
			}
			items = append(items, u.Object)
		}
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}
		var data []byte
		var err error
		if output == "yaml" {
			data, err = yaml.Marshal(list)
		} else {
			data, err = jsonIndent(list)
		}
		if err != nil {
			return err
		}
		_, err = e.out.Write(data)
		return err
	}
	return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,jsonpath,name,wide,yaml", output)
}

func newDescribe(e *env) *cobra.Command {
	var selector string
	cmd := &cobra.Command{
		Use:   "describe TYPE [NAME...]",
		Short: "Show details of objects",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			all := len(args) == 1 && !strings.Contains(args[0], "/")
			refs, err := e.resolveRefs(cmd, c, args, selector, all)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			for i, r := range refs {
				o, err := e.getOne(ctx, c, r.kind, r.name)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(e.out)
				}
				rel, err := e.related(ctx, c, r.kind, o)
				if err != nil {
					return err
				}
				if err := printers.Describe(e.out, r.kind, o, rel, time.Now()); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector")
	return cmd
}

// related gathers what describe shows beside an object.
func (e *env) related(ctx context.Context, c *labapi.Client, k source.Kind, o source.Object) (printers.Related, error) {
	var rel printers.Related
	evs, err := c.List(ctx, source.EventKind)
	if err != nil {
		return rel, err
	}
	rel.Events = events.For(source.NewStatic(evs...), o)
	switch k {
	case source.Service:
		sl, err := c.List(ctx, source.EndpointSlice)
		if err != nil {
			return rel, err
		}
		for _, so := range sl {
			s := so.(*discoveryv1.EndpointSlice)
			if s.Namespace == o.GetNamespace() && s.Labels[discoveryv1.LabelServiceName] == o.GetName() {
				rel.EndpointSlices = append(rel.EndpointSlices, s)
			}
		}
	case source.Deployment:
		rss, err := c.List(ctx, source.ReplicaSet)
		if err != nil {
			return rel, err
		}
		for _, ro := range rss {
			if rs := ro.(*appsv1.ReplicaSet); rs.Namespace == o.GetNamespace() {
				rel.ReplicaSets = append(rel.ReplicaSets, rs)
			}
		}
	case source.Node:
		pods, err := c.List(ctx, source.Pod)
		if err != nil {
			return rel, err
		}
		for _, po := range pods {
			if p := po.(*corev1.Pod); p.Spec.NodeName == o.GetName() {
				rel.Pods = append(rel.Pods, p)
			}
		}
	}
	return rel, nil
}

func jsonIndent(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "    ")
	return append(data, '\n'), err
}
