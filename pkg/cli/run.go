package cli

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podnet/podnet/pkg/printers"
	"github.com/podnet/podnet/pkg/source"
)

func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("invalid label spec: %s", kv)
		}
		out[k] = v
	}
	return out, nil
}

func newRun(e *env) *cobra.Command {
	var image, labelSpec, restart string
	var port int32
	var expose, rm, interactive, tty, command bool
	var envs []string
	cmd := &cobra.Command{
		Use:   "run NAME --image=IMAGE [--port=PORT] [--expose] [--rm -it] [-- COMMAND ARGS...]",
		Short: "Run a pod",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, rest := args[0], args[1:]
			if image == "" {
				return errors.New("--image is required")
			}
			lbls, err := parseLabels(labelSpec)
			if err != nil {
				return err
			}
			if lbls == nil {
				lbls = map[string]string{"run": name}
			}
			c := corev1.Container{Name: name, Image: image}
			if command {
				c.Command = rest
			} else {
				c.Args = rest
			}
			for _, kv := range envs {
				k, v, _ := strings.Cut(kv, "=")
				c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: v})
			}
			if port > 0 {
				c.Ports = []corev1.ContainerPort{{ContainerPort: port}}
			}
			attach := interactive || tty
			var execArgv []string
			if attach {
				// podnet cannot attach to a running process's terminal: the
				// pod's process sleeps, and the command runs through exec
				// with this terminal, which is what the user sees either way.
				execArgv = rest
				if len(execArgv) == 0 {
					execArgv = []string{"sh"}
				}
				c.Command, c.Args = []string{"sleep", "2147483647"}, nil
				if !isBusyboxLike(image) {
					return fmt.Errorf("run -it needs an image with a shell and sleep (busybox, curlimages/curl, tutum/dnsutils); %q has none podnet can attach to", image)
				}
			}
			if restart == "" {
				restart = "Always"
				if attach || rm {
					restart = "Never"
				}
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns(), Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{c}, RestartPolicy: corev1.RestartPolicy(restart)},
			}
			objs := []source.Object{}
			if expose {
				if port == 0 {
					return errors.New("--port must be set when exposing a service")
				}
				objs = append(objs, &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns()},
					Spec: corev1.ServiceSpec{Selector: maps.Clone(lbls),
						Ports: []corev1.ServicePort{{Port: port, TargetPort: intstr.FromInt32(port)}}},
				})
			}
			objs = append(objs, pod)
			cl, err := e.client()
			if err != nil {
				return err
			}
			results, err := cl.Apply(cmd.Context(), objs, true)
			if err != nil {
				return err
			}
			if !attach {
				for _, r := range results {
					fmt.Fprintf(e.out, "%s/%s created\n", printers.KindPrefix(r.Kind), r.Name)
				}
				return nil
			}
			if err := e.waitPodRunning(cmd, name, 2*time.Minute); err != nil {
				return err
			}
			code, err := e.execInPod(cmd, name, "", execArgv, interactive, tty)
			if rm {
				if derr := cl.Delete(cmd.Context(), source.Pod, e.ns(), name); derr == nil {
					fmt.Fprintf(e.out, "pod %q deleted\n", name)
				}
				if expose {
					cl.Delete(cmd.Context(), source.Service, e.ns(), name)
				}
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "the image for the container")
	cmd.Flags().StringVarP(&labelSpec, "labels", "l", "", "comma separated labels for the pod (default run=NAME)")
	cmd.Flags().Int32Var(&port, "port", 0, "the port the container exposes")
	cmd.Flags().BoolVar(&expose, "expose", false, "also create a ClusterIP Service for the pod (needs --port)")
	cmd.Flags().StringVar(&restart, "restart", "", "restart policy: Always, OnFailure or Never")
	cmd.Flags().BoolVar(&rm, "rm", false, "delete the pod when the attached command ends")
	cmd.Flags().BoolVarP(&interactive, "stdin", "i", false, "keep stdin open")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "allocate a TTY")
	cmd.Flags().BoolVar(&command, "command", false, "the arguments after -- are the command, not args")
	cmd.Flags().StringArrayVar(&envs, "env", nil, "environment variables (NAME=VALUE)")
	return cmd
}

func isBusyboxLike(image string) bool {
	base := path.Base(strings.Split(strings.Split(image, "@")[0], ":")[0])
	return base == "busybox" || base == "curl" || base == "dnsutils" || base == "jessie-dnsutils"
}

func newExpose(e *env) *cobra.Command {
	var port, targetPort, typ, name, clusterIP, protocol, selector string
	cmd := &cobra.Command{
		Use:   "expose (TYPE NAME | TYPE/NAME) [--port=PORT] [--target-port=PORT] [--type=TYPE] [--name=NAME]",
		Short: "Create a Service for a pod, deployment, replica set or service",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			refs, err := e.resolveRefs(cmd, c, args, "", false)
			if err != nil {
				return err
			}
			r := refs[0]
			o, err := e.getOne(cmd.Context(), c, r.kind, r.name)
			if err != nil {
				return err
			}
			sel, ports, err := exposeSource(r.kind, o)
			if err != nil {
				return err
			}
			if selector != "" {
				if sel, err = parseLabels(selector); err != nil {
					return err
				}
			}
			if port != "" {
				p, err := strconv.Atoi(port)
				if err != nil {
					return fmt.Errorf("invalid --port %q", port)
				}
				ports = []corev1.ServicePort{{Port: int32(p)}}
			}
			if len(ports) == 0 {
				return fmt.Errorf("couldn't find port via --port flag or introspection")
			}
			for i := range ports {
				if protocol != "" {
					ports[i].Protocol = corev1.Protocol(protocol)
				}
				if targetPort != "" {
					ports[i].TargetPort = intstr.Parse(targetPort)
				} else if ports[i].TargetPort.IntVal == 0 && ports[i].TargetPort.StrVal == "" {
					ports[i].TargetPort = intstr.FromInt32(ports[i].Port)
				}
				if len(ports) > 1 {
					ports[i].Name = fmt.Sprintf("port-%d", i+1)
				}
			}
			if name == "" {
				name = r.name
			}
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns(), Labels: maps.Clone(o.GetLabels())},
				Spec:       corev1.ServiceSpec{Selector: sel, Ports: ports, Type: corev1.ServiceType(typ), ClusterIP: clusterIP},
			}
			if _, err := c.Apply(cmd.Context(), []source.Object{svc}, true); err != nil {
				return err
			}
			fmt.Fprintf(e.out, "service/%s exposed\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&port, "port", "", "the port the service serves on")
	cmd.Flags().StringVar(&targetPort, "target-port", "", "the port (number or name) on the pods")
	cmd.Flags().StringVar(&typ, "type", "", "ClusterIP, NodePort, LoadBalancer or ExternalName (default ClusterIP)")
	cmd.Flags().StringVar(&name, "name", "", "the name of the service (default: the object's)")
	cmd.Flags().StringVar(&clusterIP, "cluster-ip", "", "a ClusterIP to use, or None for a headless service")
	cmd.Flags().StringVar(&protocol, "protocol", "", "TCP, UDP or SCTP (default TCP)")
	cmd.Flags().StringVar(&selector, "selector", "", "label selector to use instead of the object's")
	return cmd
}

// exposeSource finds the selector and ports kubectl expose infers.
func exposeSource(k source.Kind, o source.Object) (map[string]string, []corev1.ServicePort, error) {
	fromPod := func(spec corev1.PodSpec) []corev1.ServicePort {
		var ports []corev1.ServicePort
		for _, c := range spec.Containers {
			for _, p := range c.Ports {
				ports = append(ports, corev1.ServicePort{Port: p.ContainerPort, Protocol: p.Protocol, TargetPort: intstr.FromInt32(p.ContainerPort)})
			}
		}
		return ports
	}
	switch v := o.(type) {
	case *corev1.Pod:
		if len(v.Labels) == 0 {
			return nil, nil, fmt.Errorf("the pod has no labels and cannot be exposed")
		}
		return maps.Clone(v.Labels), fromPod(v.Spec), nil
	case *appsv1.Deployment:
		return maps.Clone(v.Spec.Selector.MatchLabels), fromPod(v.Spec.Template.Spec), nil
	case *appsv1.ReplicaSet:
		return maps.Clone(v.Spec.Selector.MatchLabels), fromPod(v.Spec.Template.Spec), nil
	case *appsv1.StatefulSet:
		return maps.Clone(v.Spec.Selector.MatchLabels), fromPod(v.Spec.Template.Spec), nil
	case *corev1.Service:
		ports := make([]corev1.ServicePort, len(v.Spec.Ports))
		for i, p := range v.Spec.Ports {
			ports[i] = corev1.ServicePort{Port: p.Port, Protocol: p.Protocol, TargetPort: p.TargetPort}
		}
		return maps.Clone(v.Spec.Selector), ports, nil
	}
	return nil, nil, fmt.Errorf("cannot expose a %s", k)
}

func newCreate(e *env) *cobra.Command {
	var f fileFlags
	cmd := &cobra.Command{
		Use:   "create (-f FILENAME | namespace NAME | deployment NAME --image=IMAGE)",
		Short: "Create objects from files, or a namespace or deployment",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(f.files) == 0 {
				return errors.New("must specify one of -f and -k")
			}
			objs, origins, err := e.objectsFromFiles(f)
			if err != nil {
				return err
			}
			return e.applyObjects(cmd, objs, origins, true)
		},
	}
	f.add(cmd, "to create")
	cmd.AddCommand(&cobra.Command{
		Use:     "namespace NAME",
		Aliases: []string{"ns"},
		Short:   "Create a namespace",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}
			return e.applyObjects(cmd, []source.Object{ns}, nil, true)
		},
	})
	var image []string
	var replicas, port int32
	dep := &cobra.Command{
		Use:     "deployment NAME --image=IMAGE [--replicas=N] [--port=PORT] [-- COMMAND ARGS...]",
		Aliases: []string{"deploy"},
		Short:   "Create a deployment",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(image) == 0 {
				return errors.New("required flag(s) \"image\" not set")
			}
			name := args[0]
			lbls := map[string]string{"app": name}
			var containers []corev1.Container
			for _, img := range image {
				cname := path.Base(strings.Split(strings.Split(img, "@")[0], ":")[0])
				c := corev1.Container{Name: cname, Image: img}
				if len(args) > 1 {
					c.Command = args[1:]
				}
				if port > 0 {
					c.Ports = []corev1.ContainerPort{{ContainerPort: port}}
				}
				containers = append(containers, c)
			}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns(), Labels: lbls},
				Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(lbls)},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(lbls)},
						Spec: corev1.PodSpec{Containers: containers}}},
			}
			return e.applyObjects(cmd, []source.Object{d}, nil, true)
		},
	}
	dep.Flags().StringSliceVar(&image, "image", nil, "image(s) for the containers")
	dep.Flags().Int32Var(&replicas, "replicas", 1, "number of replicas")
	dep.Flags().Int32Var(&port, "port", 0, "the port the containers expose")
	cmd.AddCommand(dep)
	return cmd
}

func newLabel(e *env) *cobra.Command {
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "label (TYPE NAME | TYPE/NAME) KEY=VALUE... [KEY-]",
		Short: "Update the labels of an object",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			objArgs, changes := splitLabelArgs(args)
			if len(changes) == 0 {
				return errors.New("at least one label update is required")
			}
			refs, err := e.resolveRefs(cmd, c, objArgs, "", false)
			if err != nil {
				return err
			}
			for _, r := range refs {
				o, err := e.getOne(cmd.Context(), c, r.kind, r.name)
				if err != nil {
					return err
				}
				l := maps.Clone(o.GetLabels())
				if l == nil {
					l = map[string]string{}
				}
				for _, ch := range changes {
					if key, ok := strings.CutSuffix(ch, "-"); ok && !strings.Contains(ch, "=") {
						delete(l, key)
						continue
					}
					k, v, _ := strings.Cut(ch, "=")
					if old, ok := l[k]; ok && old != v && !overwrite {
						return fmt.Errorf("'%s' already has a value (%s), and --overwrite is false", k, old)
					}
					l[k] = v
				}
				verb := "labeled"
				if maps.Equal(l, o.GetLabels()) {
					verb = "not labeled"
				} else if len(l) < len(o.GetLabels()) {
					verb = "unlabeled"
				}
				o.SetLabels(l)
				o.SetResourceVersion("")
				if _, err := c.Apply(cmd.Context(), []source.Object{o}, false); err != nil {
					return err
				}
				fmt.Fprintf(e.out, "%s/%s %s\n", printers.KindPrefix(r.kind), r.name, verb)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "allow labels to be overwritten")
	return cmd
}

func splitLabelArgs(args []string) (objs, changes []string) {
	for _, a := range args {
		if strings.Contains(a, "=") || (strings.HasSuffix(a, "-") && len(objs) > 0 && !strings.Contains(a, "/")) {
			changes = append(changes, a)
		} else {
			objs = append(objs, a)
		}
	}
	return
}

func newScale(e *env) *cobra.Command {
	var replicas int32
	cmd := &cobra.Command{
		Use:   "scale (TYPE NAME | TYPE/NAME) --replicas=COUNT",
		Short: "Set the replica count of a deployment, replica set or stateful set",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if replicas < 0 {
				return errors.New("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			refs, err := e.resolveRefs(cmd, c, args, "", false)
			if err != nil {
				return err
			}
			for _, r := range refs {
				o, err := e.getOne(cmd.Context(), c, r.kind, r.name)
				if err != nil {
					return err
				}
				switch v := o.(type) {
				case *appsv1.Deployment:
					v.Spec.Replicas = &replicas
				case *appsv1.ReplicaSet:
					v.Spec.Replicas = &replicas
				case *appsv1.StatefulSet:
					v.Spec.Replicas = &replicas
				default:
					return fmt.Errorf("cannot scale a %s", r.kind)
				}
				if _, err := c.Apply(cmd.Context(), []source.Object{o}, false); err != nil {
					return err
				}
				fmt.Fprintf(e.out, "%s/%s scaled\n", printers.KindPrefix(r.kind), r.name)
			}
			return nil
		},
	}
	cmd.Flags().Int32Var(&replicas, "replicas", -1, "the new number of replicas")
	return cmd
}
