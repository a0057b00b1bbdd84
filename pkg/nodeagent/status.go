package nodeagent

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// procStart is a process's start time (field 22 of /proc/PID/stat); zombies
// count as gone.
func procStart(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, errors.New("process gone")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// status computes the pod's status from the worker's state, keeping the
// transition times of conditions that did not change.
func (w *podWorker) status(pod *corev1.Pod) corev1.PodStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := metav1.NewTime(w.a.cfg.Clock.Now())
	st := corev1.PodStatus{Phase: corev1.PodPending, HostIP: w.a.cfg.NodeIP, QOSClass: corev1.PodQOSBestEffort}
	if w.a.cfg.NodeIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: w.a.cfg.NodeIP}}
	}
	if !w.startTime.IsZero() {
		t := w.startTime
		st.StartTime = &t
	}
	if w.sb != nil {
		st.PodIP = w.ip.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	allReady, anyRunning, allDone, allSucceeded := true, false, true, true
	for _, spec := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, ImageID: "podnet://" + spec.Image}
		c := w.containers[spec.Name]
		switch {
		case c == nil && w.sandboxErr != "":
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating", Message: w.sandboxErr}
		case c == nil:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		case c.imageErr != "":
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: c.imageErr}
		case c.running:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: c.started}
			cs.ContainerID = "podnet://" + strconv.Itoa(c.pid)
			cs.Ready = c.ready
			started := true
			cs.Started = &started
		case c.last != nil && !shouldRestart(pod.Spec.RestartPolicy, c.last.ExitCode):
			cs.State.Terminated = c.last.DeepCopy()
		case c.last != nil:
			reason := "CrashLoopBackOff"
			if c.startError != "" {
				reason = "RunContainerError"
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason,
				Message: fmt.Sprintf("back-off restarting failed container %s in pod %s_%s(%s)", spec.Name, pod.Name, pod.Namespace, pod.UID)}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		if c != nil {
			cs.RestartCount = c.restarts
			if c.last != nil && (c.running || cs.State.Waiting != nil) {
				cs.LastTerminationState.Terminated = c.last.DeepCopy()
			}
		}
		if cs.State.Running != nil {
			anyRunning = true
		}
		if !cs.Ready {
			allReady = false
		}
		if cs.State.Terminated == nil {
			allDone = false
		} else if cs.State.Terminated.ExitCode != 0 {
			allSucceeded = false
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	switch {
	case allDone && allSucceeded:
		st.Phase = corev1.PodSucceeded
	case allDone:
		st.Phase = corev1.PodFailed
	case anyRunning:
		st.Phase = corev1.PodRunning
	}
	if allDone {
		allReady = false
	}
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		c := corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now}
		for _, old := range pod.Status.Conditions {
			if old.Type == t && old.Status == s {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		if !ok && (t == corev1.ContainersReady || t == corev1.PodReady) {
			c.Reason = "ContainersNotReady"
			var names []string
			for _, cs := range st.ContainerStatuses {
				if !cs.Ready {
					names = append(names, cs.Name)
				}
			}
			c.Message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(names, " "))
		}
		return c
	}
	st.Conditions = []corev1.PodCondition{
		cond("PodReadyToStartContainers", w.sb != nil),
		cond(corev1.PodInitialized, true),
		cond(corev1.PodReady, allReady),
		cond(corev1.ContainersReady, allReady),
		cond(corev1.PodScheduled, true),
	}
	return st
}

func statusEqual(a, b corev1.PodStatus) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}
