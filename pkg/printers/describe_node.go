package printers

import (
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// describeNode follows kubectl's layout without the Lease, resource
// allocation and ResourceSlice sections, which podnet's lab has no data for.
func describeNode(d *describeWriter, node *corev1.Node, pods []*corev1.Pod, now time.Time) {
	d.write(0, "Name:\t%s\n", node.Name)
	d.write(0, "Roles:\t%s\n", orNone(strings.Join(nodeRoles(node), ",")))
	d.labelsMultiline("Labels", node.Labels)
	d.annotationsMultiline("Annotations", node.Annotations)
	d.write(0, "CreationTimestamp:\t%s\n", rfc1123(node.CreationTimestamp))
	describeTaints(d, node.Spec.Taints)
	d.write(0, "Unschedulable:\t%v\n", node.Spec.Unschedulable)
	if len(node.Status.Conditions) > 0 {
		d.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
		d.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
		for _, c := range node.Status.Conditions {
			d.write(1, "%v \t%v \t%s \t%s \t%v \t%v\n", c.Type, c.Status,
				rfc1123(c.LastHeartbeatTime), rfc1123(c.LastTransitionTime), c.Reason, c.Message)
		}
	}
	d.write(0, "Addresses:\n")
	for _, a := range node.Status.Addresses {
		d.write(1, "%s:\t%s\n", a.Type, a.Address)
	}
	for _, part := range []struct {
		title string
		list  corev1.ResourceList
	}{{"Capacity", node.Status.Capacity}, {"Allocatable", node.Status.Allocatable}} {
		if len(part.list) == 0 {
			continue
		}
		d.write(0, "%s:\n", part.title)
		names := make([]string, 0, len(part.list))
		for n := range part.list {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			q := part.list[corev1.ResourceName(n)]
			d.write(0, "  %s:\t%s\n", n, q.String())
		}
	}
	info := node.Status.NodeInfo
	d.write(0, "System Info:\n")
	d.write(0, "  Machine ID:\t%s\n", info.MachineID)
	d.write(0, "  System UUID:\t%s\n", info.SystemUUID)
	d.write(0, "  Boot ID:\t%s\n", info.BootID)
	d.write(0, "  Kernel Version:\t%s\n", info.KernelVersion)
	d.write(0, "  OS Image:\t%s\n", info.OSImage)
	d.write(0, "  Operating System:\t%s\n", info.OperatingSystem)
	d.write(0, "  Architecture:\t%s\n", info.Architecture)
	d.write(0, "  Container Runtime Version:\t%s\n", info.ContainerRuntimeVersion)
	d.write(0, "  Kubelet Version:\t%s\n", info.KubeletVersion)
	if node.Spec.PodCIDR != "" {
		d.write(0, "PodCIDR:\t%s\n", node.Spec.PodCIDR)
	}
	if len(node.Spec.PodCIDRs) > 0 {
		d.write(0, "PodCIDRs:\t%s\n", strings.Join(node.Spec.PodCIDRs, ","))
	}
	if node.Spec.ProviderID != "" {
		d.write(0, "ProviderID:\t%s\n", node.Spec.ProviderID)
	}
	describeNodePods(d, node, pods, now)
}

func describeTaints(d *describeWriter, taints []corev1.Taint) {
	d.write(0, "Taints:\t")
	if len(taints) == 0 {
		d.write(0, "<none>\n")
		return
	}
	sorted := append([]corev1.Taint(nil), taints...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return string(sorted[i].Effect)+","+sorted[i].Key < string(sorted[j].Effect)+","+sorted[j].Key
	})
	for i, t := range sorted {
		if i != 0 {
			d.write(0, "\t")
		}
		d.write(0, "%s\n", t.ToString())
	}
}

// describeNodePods lists the node's running pods in kubectl's "Non-terminated
// Pods" table, without the request and limit columns' percentages of
// allocatable (podnet sets no node capacity).
func describeNodePods(d *describeWriter, node *corev1.Node, pods []*corev1.Pod, now time.Time) {
	var running []*corev1.Pod
	for _, p := range pods {
		if p.Spec.NodeName == node.Name && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			running = append(running, p)
		}
	}
	sort.SliceStable(running, func(i, j int) bool {
		if running[i].Namespace != running[j].Namespace {
			return running[i].Namespace < running[j].Namespace
		}
		return running[i].Name < running[j].Name
	})
	d.write(0, "Non-terminated Pods:\t(%d in total)\n", len(running))
	d.write(1, "Namespace\tName\t\tAge\n")
	d.write(1, "---------\t----\t\t---\n")
	for _, p := range running {
		d.write(1, "%s\t%s\t\t%s\n", p.Namespace, p.Name, age(p.CreationTimestamp, now))
	}
}
