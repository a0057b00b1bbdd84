package printers

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func describePod(d *describeWriter, pod *corev1.Pod, now time.Time) {
	d.write(0, "Name:\t%s\n", pod.Name)
	d.write(0, "Namespace:\t%s\n", pod.Namespace)
	if pod.Spec.Priority != nil {
		d.write(0, "Priority:\t%d\n", *pod.Spec.Priority)
	}
	if pod.Spec.PriorityClassName != "" {
		d.write(0, "Priority Class Name:\t%s\n", pod.Spec.PriorityClassName)
	}
	if pod.Spec.ServiceAccountName != "" {
		d.write(0, "Service Account:\t%s\n", pod.Spec.ServiceAccountName)
	}
	if pod.Spec.NodeName == "" {
		d.write(0, "Node:\t<none>\n")
	} else {
		d.write(0, "Node:\t%s\n", pod.Spec.NodeName+"/"+pod.Status.HostIP)
	}
	if pod.Status.StartTime != nil {
		d.write(0, "Start Time:\t%s\n", rfc1123(*pod.Status.StartTime))
	}
	d.labelsMultiline("Labels", pod.Labels)
	d.annotationsMultiline("Annotations", pod.Annotations)
	if pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded {
		d.write(0, "Status:\tTerminating (lasts %s)\n", age(*pod.DeletionTimestamp, now))
		if pod.DeletionGracePeriodSeconds != nil {
			d.write(0, "Termination Grace Period:\t%ds\n", *pod.DeletionGracePeriodSeconds)
		}
	} else {
		d.write(0, "Status:\t%s\n", string(pod.Status.Phase))
	}
	if pod.Status.Reason != "" {
		d.write(0, "Reason:\t%s\n", pod.Status.Reason)
	}
	if pod.Status.Message != "" {
		d.write(0, "Message:\t%s\n", pod.Status.Message)
	}
	d.write(0, "IP:\t%s\n", pod.Status.PodIP)
	if len(pod.Status.PodIPs) == 0 {
		d.write(0, "IPs:\t<none>\n")
	} else {
		d.write(0, "IPs:\n")
		for _, ip := range pod.Status.PodIPs {
			d.write(1, "IP:\t%s\n", ip.IP)
		}
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		d.write(0, "Controlled By:\t%s/%s\n", ref.Kind, ref.Name)
	}
	if pod.Status.NominatedNodeName != "" {
		d.write(0, "NominatedNodeName:\t%s\n", pod.Status.NominatedNodeName)
	}
	if len(pod.Spec.InitContainers) > 0 {
		describeContainers(d, pod, "Init Containers", pod.Spec.InitContainers, pod.Status.InitContainerStatuses, "")
	}
	describeContainers(d, pod, "Containers", pod.Spec.Containers, pod.Status.ContainerStatuses, "")
	if len(pod.Spec.ReadinessGates) > 0 {
		d.write(0, "Readiness Gates:\n  Type\tStatus\n")
		for _, g := range pod.Spec.ReadinessGates {
			status := "<none>"
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					status = string(c.Status)
					break
				}
			}
			d.write(1, "%v \t%v \n", g.ConditionType, status)
		}
	}
	if len(pod.Status.Conditions) > 0 {
		d.write(0, "Conditions:\n  Type\tStatus\n")
		for _, c := range pod.Status.Conditions {
			d.write(1, "%v \t%v \n", c.Type, c.Status)
		}
	}
	describeVolumes(d, pod.Spec.Volumes, "")
	d.write(0, "QoS Class:\t%s\n", podQOS(pod))
	d.labelsMultiline("Node-Selectors", pod.Spec.NodeSelector)
	describeTolerations(d, "Tolerations", pod.Spec.Tolerations)
}

// describeContainers prints a Containers section; space is "  " inside a pod
// template, where names get one more space of indent, as in kubectl.
func describeContainers(d *describeWriter, pod *corev1.Pod, label string, containers []corev1.Container, statuses []corev1.ContainerStatus, space string) {
	byName := map[string]corev1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	none := ""
	if len(containers) == 0 {
		none = " <none>"
	}
	d.write(0, "%s%s:%s\n", space, label, none)
	nameIndent := ""
	if space != "" {
		nameIndent = " "
	}
	for _, c := range containers {
		st, ok := byName[c.Name]
		d.write(1, "%s%v:\n", nameIndent, c.Name)
		if ok {
			d.write(2, "Container ID:\t%s\n", st.ContainerID)
		}
		d.write(2, "Image:\t%s\n", c.Image)
		if ok {
			d.write(2, "Image ID:\t%s\n", st.ImageID)
		}
		ports := containerPorts(c.Ports, func(p corev1.ContainerPort) int32 { return p.ContainerPort })
		if strings.Contains(ports, ",") {
			d.write(2, "Ports:\t%s\n", ports)
		} else {
			d.write(2, "Port:\t%s\n", orNone(ports))
		}
		hostPorts := containerPorts(c.Ports, func(p corev1.ContainerPort) int32 { return p.HostPort })
		if strings.Contains(hostPorts, ",") {
			d.write(2, "Host Ports:\t%s\n", hostPorts)
		} else {
			d.write(2, "Host Port:\t%s\n", orNone(hostPorts))
		}
		describeCommand(d, "Command", c.Command)
		describeCommand(d, "Args", c.Args)
		if ok {
			describeState(d, "State", st.State)
			if st.LastTerminationState.Terminated != nil {
				describeState(d, "Last State", st.LastTerminationState)
			}
			d.write(2, "Ready:\t%v\n", printBool(st.Ready))
			d.write(2, "Restart Count:\t%d\n", st.RestartCount)
		}
		describeResources(d, c.Resources)
		if c.LivenessProbe != nil {
			d.write(2, "Liveness:\t%s\n", describeProbe(c.LivenessProbe))
		}
		if c.ReadinessProbe != nil {
			d.write(2, "Readiness:\t%s\n", describeProbe(c.ReadinessProbe))
		}
		if c.StartupProbe != nil {
			d.write(2, "Startup:\t%s\n", describeProbe(c.StartupProbe))
		}
		describeEnv(d, pod, c)
		describeMounts(d, c.VolumeMounts)
	}
}

func containerPorts(ports []corev1.ContainerPort, num func(corev1.ContainerPort) int32) string {
	out := make([]string, 0, len(ports))
	for _, p := range ports {
		s := fmt.Sprintf("%d/%s", num(p), protocolOrTCP(p.Protocol))
		if p.Name != "" {
			s = fmt.Sprintf("%s (%s)", s, p.Name)
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func describeCommand(d *describeWriter, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	d.write(2, "%s:\n", title)
	for _, c := range lines {
		for _, s := range strings.Split(c, "\n") {
			d.write(3, "%s\n", s)
		}
	}
}

func describeState(d *describeWriter, name string, s corev1.ContainerState) {
	switch {
	case s.Running != nil:
		d.write(2, "%s:\tRunning\n", name)
		d.write(3, "Started:\t%v\n", rfc1123(s.Running.StartedAt))
	case s.Waiting != nil:
		d.write(2, "%s:\tWaiting\n", name)
		if s.Waiting.Reason != "" {
			d.write(3, "Reason:\t%s\n", s.Waiting.Reason)
		}
	case s.Terminated != nil:
		t := s.Terminated
		d.write(2, "%s:\tTerminated\n", name)
		if t.Reason != "" {
			d.write(3, "Reason:\t%s\n", t.Reason)
		}
		if t.Message != "" {
			d.write(3, "Message:\t%s\n", t.Message)
		}
		d.write(3, "Exit Code:\t%d\n", t.ExitCode)
		if t.Signal > 0 {
			d.write(3, "Signal:\t%d\n", t.Signal)
		}
		d.write(3, "Started:\t%s\n", rfc1123(t.StartedAt))
		d.write(3, "Finished:\t%s\n", rfc1123(t.FinishedAt))
	default:
		d.write(2, "%s:\tWaiting\n", name)
	}
}

func describeResources(d *describeWriter, r corev1.ResourceRequirements) {
	for _, part := range []struct {
		title string
		list  corev1.ResourceList
	}{{"Limits", r.Limits}, {"Requests", r.Requests}} {
		if len(part.list) == 0 {
			continue
		}
		d.write(2, "%s:\n", part.title)
		names := make([]string, 0, len(part.list))
		for n := range part.list {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			q := part.list[corev1.ResourceName(n)]
			d.write(3, "%s:\t%s\n", n, q.String())
		}
	}
}

// describeProbe prints a probe like "http-get http://:8080/healthz delay=0s ...".
func describeProbe(p *corev1.Probe) string {
	attrs := fmt.Sprintf("delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold)
	switch {
	case p.Exec != nil:
		return fmt.Sprintf("exec %v %s", p.Exec.Command, attrs)
	case p.HTTPGet != nil:
		u := &url.URL{Scheme: strings.ToLower(string(p.HTTPGet.Scheme)), Path: p.HTTPGet.Path, Host: p.HTTPGet.Host}
		if port := p.HTTPGet.Port.String(); port != "" {
			u.Host = net.JoinHostPort(p.HTTPGet.Host, port)
		}
		return fmt.Sprintf("http-get %s %s", u.String(), attrs)
	case p.TCPSocket != nil:
		return fmt.Sprintf("tcp-socket %s:%s %s", p.TCPSocket.Host, p.TCPSocket.Port.String(), attrs)
	case p.GRPC != nil:
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return fmt.Sprintf("grpc <pod>:%d %s %s", p.GRPC.Port, service, attrs)
	}
	return fmt.Sprintf("unknown %s", attrs)
}

// describeEnv prints Environment; downward API values are resolved against
// the pod as kubectl does (pod is nil in a template, where they stay empty).
func describeEnv(d *describeWriter, pod *corev1.Pod, c corev1.Container) {
	if len(c.EnvFrom) > 0 {
		d.write(2, "Environment Variables from:\n")
		for _, e := range c.EnvFrom {
			from, name, optional := "", "", false
			switch {
			case e.ConfigMapRef != nil:
				from, name = "ConfigMap", e.ConfigMapRef.Name
				optional = e.ConfigMapRef.Optional != nil && *e.ConfigMapRef.Optional
			case e.SecretRef != nil:
				from, name = "Secret", e.SecretRef.Name
				optional = e.SecretRef.Optional != nil && *e.SecretRef.Optional
			}
			if e.Prefix == "" {
				d.write(3, "%s\t%s\tOptional: %t\n", name, from, optional)
			} else {
				d.write(3, "%s\t%s with prefix '%s'\tOptional: %t\n", name, from, e.Prefix, optional)
			}
		}
	}
	if len(c.Env) == 0 {
		d.write(2, "Environment:\t<none>\n")
	} else {
		d.write(2, "Environment:\n")
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			for i, s := range strings.Split(e.Value, "\n") {
				if i == 0 {
					d.write(3, "%s:\t%s\n", e.Name, s)
				} else {
					d.write(3, "\t%s\n", s)
				}
			}
		case e.ValueFrom.FieldRef != nil:
			f := e.ValueFrom.FieldRef
			d.write(3, "%s:\t%s (%s:%s)\n", e.Name, fieldValue(pod, f.FieldPath), f.APIVersion, f.FieldPath)
		case e.ValueFrom.ResourceFieldRef != nil:
			d.write(3, "%s:\t (%s)\n", e.Name, e.ValueFrom.ResourceFieldRef.Resource)
		case e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			d.write(3, "%s:\t<set to the key '%s' in secret '%s'>\tOptional: %t\n", e.Name, r.Key, r.Name, r.Optional != nil && *r.Optional)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			r := e.ValueFrom.ConfigMapKeyRef
			d.write(3, "%s:\t<set to the key '%s' of config map '%s'>\tOptional: %t\n", e.Name, r.Key, r.Name, r.Optional != nil && *r.Optional)
		}
	}
}

func describeMounts(d *describeWriter, mounts []corev1.VolumeMount) {
	if len(mounts) == 0 {
		d.write(2, "Mounts:\t<none>\n")
		return
	}
	d.write(2, "Mounts:\n")
	sorted := append([]corev1.VolumeMount(nil), mounts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].MountPath < sorted[j].MountPath })
	for _, m := range sorted {
		flags := []string{"rw"}
		if m.ReadOnly {
			flags[0] = "ro"
		}
		if m.SubPath != "" {
			flags = append(flags, fmt.Sprintf("path=%q", m.SubPath))
		}
		d.write(3, "%s from %s (%s)\n", m.MountPath, m.Name, strings.Join(flags, ","))
	}
}

// describeVolumes covers the volume sources a lab pod uses; others print
// kubectl's "<unknown>".
func describeVolumes(d *describeWriter, volumes []corev1.Volume, space string) {
	if len(volumes) == 0 {
		d.write(0, "%sVolumes:\t<none>\n", space)
		return
	}
	d.write(0, "%sVolumes:\n", space)
	nameIndent := ""
	if space != "" {
		nameIndent = " "
	}
	for _, v := range volumes {
		d.write(1, "%s%v:\n", nameIndent, v.Name)
		switch {
		case v.HostPath != nil:
			typ := "<none>"
			if v.HostPath.Type != nil {
				typ = string(*v.HostPath.Type)
			}
			d.write(2, "Type:\tHostPath (bare host directory volume)\n    Path:\t%v\n    HostPathType:\t%v\n", v.HostPath.Path, typ)
		case v.EmptyDir != nil:
			limit := "<unset>"
			if v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() > 0 {
				limit = v.EmptyDir.SizeLimit.String()
			}
			d.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t%v\n    SizeLimit:\t%v\n", v.EmptyDir.Medium, limit)
		case v.ConfigMap != nil:
			d.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t%v\n    Optional:\t%v\n",
				v.ConfigMap.Name, v.ConfigMap.Optional != nil && *v.ConfigMap.Optional)
		case v.Secret != nil:
			d.write(2, "Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t%v\n    Optional:\t%v\n",
				v.Secret.SecretName, v.Secret.Optional != nil && *v.Secret.Optional)
		default:
			d.write(1, "<unknown>\n")
		}
	}
}

func describeTolerations(d *describeWriter, title string, tols []corev1.Toleration) {
	d.write(0, "%s:\t", title)
	if len(tols) == 0 {
		d.write(0, "<none>\n")
		return
	}
	sorted := append([]corev1.Toleration(nil), tols...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	for i, t := range sorted {
		if i != 0 {
			d.write(0, "\t")
		}
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		if t.Effect != "" {
			s += ":" + string(t.Effect)
		}
		if t.Operator == corev1.TolerationOpExists && t.Value == "" {
			if t.Key != "" || t.Effect != "" {
				s += " op=Exists"
			} else {
				s += "op=Exists"
			}
		}
		if t.TolerationSeconds != nil {
			s += fmt.Sprintf(" for %ds", *t.TolerationSeconds)
		}
		d.write(0, "%s\n", s)
	}
}

// podQOS is the pod's QoS class as the kubelet computes it: BestEffort with
// no requests or limits, Guaranteed when every container limits cpu and
// memory to exactly what it requests, Burstable otherwise.
func podQOS(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	any, guaranteed := false, true
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			any = true
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			lim, hasLim := c.Resources.Limits[r]
			req, hasReq := c.Resources.Requests[r]
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// fieldValue resolves the downward API field paths a pod's env can name.
func fieldValue(pod *corev1.Pod, path string) string {
	if pod == nil {
		return ""
	}
	switch path {
	case "metadata.name":
		return pod.Name
	case "metadata.namespace":
		return pod.Namespace
	case "metadata.uid":
		return string(pod.UID)
	case "spec.nodeName":
		return pod.Spec.NodeName
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName
	case "status.hostIP":
		return pod.Status.HostIP
	case "status.podIP":
		return pod.Status.PodIP
	}
	return ""
}
