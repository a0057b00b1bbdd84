package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/images"
	"github.com/podnet/podnet/pkg/sandbox"
	"github.com/podnet/podnet/pkg/source"
)

// podWorker converges one pod: sandbox, network, containers, status.
type podWorker struct {
	a   *Agent
	key struct{ ns, name string }
	uid string
	dir string

	kick    chan struct{}
	stop    chan stopMode
	stopped chan struct{}

	mu         sync.Mutex
	sb         *sandbox.Sandbox
	ip         netip.Addr
	sandboxErr string
	containers map[string]*ctr
	startTime  metav1.Time
}

type stopMode int

const (
	stopDetach stopMode = iota // daemon exits: leave everything running
	stopRemove                 // pod deleted: graceful removal
	stopKill                   // lab going down: kill at once
)

// ctr is one container's runtime state.
type ctr struct {
	name       string
	image      *images.Image
	imageErr   string
	cmd        *exec.Cmd // nil when adopted from an earlier daemon
	pid        int
	pidStart   uint64
	running    bool
	started    metav1.Time
	restarts   int32
	last       *corev1.ContainerStateTerminated
	nextStart  time.Time
	ready      bool
	probeStop  context.CancelFunc
	startError string
	// backOffSaid is the restart time the last BackOff event was about, so
	// each back-off is reported once however often the pod syncs.
	backOffSaid time.Time
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	w := &podWorker{a: a, uid: string(pod.UID), dir: a.podDir(pod),
		kick: make(chan struct{}, 1), stop: make(chan stopMode, 1), stopped: make(chan struct{}),
		containers: map[string]*ctr{}}
	w.key.ns, w.key.name = pod.Namespace, pod.Name
	w.poke()
	return w
}

func (w *podWorker) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *podWorker) send(m stopMode) {
	select {
	case w.stop <- m:
	default:
	}
}

func (w *podWorker) detach() { w.send(stopDetach) }
func (w *podWorker) remove() { w.send(stopRemove) }
func (w *podWorker) kill()   { w.send(stopKill); <-w.stopped }

func (w *podWorker) loop(ctx context.Context) {
	defer close(w.stopped)
	for {
		select {
		case m := <-w.stop:
			w.finish(m)
			return
		case <-ctx.Done():
			// The agent is stopping; a worker started after it told the
			// others to detach must not keep it waiting.
			w.finish(stopDetach)
			return
		case <-w.kick:
		}
		pod := w.currentPod()
		if pod == nil {
			w.finish(stopRemove)
			return
		}
		if err := w.sync(ctx, pod); err != nil {
			w.a.cfg.Log.Warn("pod sync failed", "pod", w.key.ns+"/"+w.key.name, "err", err)
			w.after(2 * time.Second)
		}
		w.writeStatus(pod)
	}
}

func (w *podWorker) currentPod() *corev1.Pod {
	o, ok := w.a.src.Get(source.Pod, w.key.ns, w.key.name)
	if !ok || string(o.GetUID()) != w.uid {
		return nil
	}
	return o.(*corev1.Pod)
}

func (w *podWorker) after(d time.Duration) {
	time.AfterFunc(d, w.poke)
}

// sync brings the sandbox and containers to what the pod asks for.
func (w *podWorker) sync(ctx context.Context, pod *corev1.Pod) error {
	if w.startTime.IsZero() {
		w.startTime = metav1.NewTime(w.a.cfg.Clock.Now())
		if pod.Status.StartTime != nil {
			w.startTime = *pod.Status.StartTime
		}
	}
	if w.sb == nil {
		if err := w.ensureSandbox(ctx, pod); err != nil {
			w.mu.Lock()
			w.sandboxErr = err.Error()
			w.mu.Unlock()
			return err
		}
	}
	for i := range pod.Spec.Containers {
		w.syncContainer(ctx, pod, &pod.Spec.Containers[i])
	}
	return nil
}

// ensureSandbox adopts the recorded sandbox if its init still runs, or makes
// a new one (with the pod's old IP, when it had one) and attaches it.
func (w *podWorker) ensureSandbox(ctx context.Context, pod *corev1.Pod) error {
	cfg := w.a.cfg
	cfg.ClusterDomain = w.a.clusterDomain()
	if sb, alive := sandbox.Load(w.dir); alive {
		ip, _ := netip.ParseAddr(pod.Status.PodIP)
		if ip.IsValid() {
			w.sb, w.ip = sb, ip
			w.adoptContainers(pod)
			return nil
		}
		// A sandbox without a recorded IP: its attachment never finished.
		removePodDir(ctx, cfg.Network, w.dir, w.uid, false)
	} else if old, ok := sandbox.Record(w.dir); ok {
		// Its init is gone (the machine rebooted, or it was killed): release
		// the attachment and the name, then start over with the same IP.
		cfg.Network.Del(ctx, w.uid, old.NetnsPath(), "eth0")
		old.Remove()
	}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	resolv, warnings := resolvConf(pod, cfg.ClusterDNS, cfg.ClusterDomain, readHostResolv())
	for _, msg := range warnings {
		cfg.Log.Warn("DNSConfigForming", "pod", pod.Namespace+"/"+pod.Name, "message", msg)
		cfg.Events.Eventf(pod, "", corev1.EventTypeWarning, "DNSConfigForming", "%s", msg)
	}
	if err := os.WriteFile(filepath.Join(w.dir, sandbox.ResolvConf), []byte(resolv), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.dir, sandbox.Hosts), []byte(hostsFile(pod, "", cfg.ClusterDomain)), 0o644); err != nil {
		return err
	}
	hostname, err := utsHostname(pod, cfg.ClusterDomain)
	if err != nil {
		return err
	}
	sb, err := sandbox.Create(sandbox.Config{Dir: w.dir, Netns: w.a.netnsName(pod), Hostname: hostname, Self: cfg.Self})
	if err != nil {
		return err
	}
	want, _ := netip.ParseAddr(pod.Status.PodIP)
	ip, err := cfg.Network.Add(ctx, w.uid, sb.NetnsPath(), "eth0", want, pod.Namespace, pod.Name)
	if err != nil {
		cfg.Network.Del(ctx, w.uid, sb.NetnsPath(), "eth0")
		sb.Remove()
		return fmt.Errorf("setting up the pod network: %w", err)
	}
	// Rewrite in place: the bind mount pins the file's inode.
	if err := os.WriteFile(filepath.Join(w.dir, sandbox.Hosts), []byte(hostsFile(pod, ip.String(), cfg.ClusterDomain)), 0o644); err != nil {
		return err
	}
	w.mu.Lock()
	w.sb, w.ip, w.sandboxErr = sb, ip, ""
	w.mu.Unlock()
	return nil
}

// procRecord is what the pod directory remembers of a container process.
type procRecord struct {
	PID      int    `json:"pid"`
	Start    uint64 `json:"start"`
	Restarts int32  `json:"restarts"`
	Started  int64  `json:"started"`
}

func (w *podWorker) saveProcs() {
	recs := map[string]procRecord{}
	for name, c := range w.containers {
		if c.running {
			recs[name] = procRecord{PID: c.pid, Start: c.pidStart, Restarts: c.restarts, Started: c.started.Unix()}
		}
	}
	data, _ := json.Marshal(recs)
	os.WriteFile(filepath.Join(w.dir, "containers.json"), data, 0o644)
}

func (w *podWorker) adoptContainers(pod *corev1.Pod) {
	data, err := os.ReadFile(filepath.Join(w.dir, "containers.json"))
	if err != nil {
		return
	}
	var recs map[string]procRecord
	if json.Unmarshal(data, &recs) != nil {
		return
	}
	for i := range pod.Spec.Containers {
		spec := &pod.Spec.Containers[i]
		r, ok := recs[spec.Name]
		if !ok {
			continue
		}
		if st, err := procStart(r.PID); err != nil || st != r.Start {
			continue
		}
		img, _ := w.a.cfg.Catalog.Resolve(spec.Image)
		c := &ctr{name: spec.Name, image: img, pid: r.PID, pidStart: r.Start, running: true,
			restarts: r.Restarts, started: metav1.NewTime(time.Unix(r.Started, 0))}
		w.containers[spec.Name] = c
		go w.watchAdopted(c)
		w.startProbes(pod, spec, c)
	}
}

// watchAdopted notices the end of a process this daemon did not start (it
// cannot wait for it) by polling.
func (w *podWorker) watchAdopted(c *ctr) {
	for {
		time.Sleep(500 * time.Millisecond)
		if st, err := procStart(c.pid); err != nil || st != c.pidStart {
			w.exited(c, -1, "the container ended while not a child of this daemon; its exit code is unknown")
			return
		}
		w.mu.Lock()
		gone := !c.running
		w.mu.Unlock()
		if gone {
			return
		}
	}
}

func (w *podWorker) syncContainer(ctx context.Context, pod *corev1.Pod, spec *corev1.Container) {
	w.mu.Lock()
	c, ok := w.containers[spec.Name]
	if !ok {
		c = &ctr{name: spec.Name}
		img, err := w.a.cfg.Catalog.Resolve(spec.Image)
		if err != nil {
			c.imageErr = err.Error()
			w.event(pod, spec, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", spec.Image, err)
		}
		c.image = img
		w.containers[spec.Name] = c
	}
	running, imageErr, last := c.running, c.imageErr, c.last
	w.mu.Unlock()
	if running || imageErr != "" {
		return
	}
	if last != nil && !shouldRestart(pod.Spec.RestartPolicy, last.ExitCode) {
		return
	}
	if wait := c.nextStart.Sub(time.Now()); wait > 0 {
		w.mu.Lock()
		report := last != nil && last.ExitCode != 0 && !c.backOffSaid.Equal(c.nextStart)
		c.backOffSaid = c.nextStart
		w.mu.Unlock()
		if report {
			w.event(pod, spec, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", spec.Name, pod.Name, pod.Namespace, pod.UID)
		}
		w.after(wait)
		return
	}
	w.startContainer(pod, spec, c)
}

// event records a kubelet Event about one of pod's containers.
func (w *podWorker) event(pod *corev1.Pod, spec *corev1.Container, eventType, reason, format string, args ...any) {
	w.a.cfg.Events.Eventf(pod, "spec.containers{"+spec.Name+"}", eventType, reason, format, args...)
}

func shouldRestart(policy corev1.RestartPolicy, exit int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exit != 0
	}
	return true
}

func (w *podWorker) startContainer(pod *corev1.Pod, spec *corev1.Container, c *ctr) {
	cfg := w.a.cfg
	w.mu.Lock()
	// restartCount counts starts after the first, as kubelet's does: a
	// container that ended and is not restarted (restartPolicy Never) keeps 0.
	if c.last != nil {
		c.restarts++
	}
	w.mu.Unlock()
	cdir := filepath.Join(w.dir, spec.Name)
	os.MkdirAll(cdir, 0o755)
	argv, err := containerArgv(c.image, spec, pod, cdir, w.dnsArgs())
	if err != nil {
		w.event(pod, spec, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.mu.Lock()
		c.startError = err.Error()
		c.last = &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(), FinishedAt: metav1.NewTime(time.Now())}
		delay := backoff(c.restarts)
		c.nextStart = time.Now().Add(delay)
		w.mu.Unlock()
		w.after(delay)
		return
	}
	env := containerEnv(c.image, spec, pod, w.envRef(pod, spec), cfg.APIHost)
	if c.image.DNS {
		env = append(env, "PODNET_API="+cfg.APISocket, "PODNET_CLUSTER_DOMAIN="+cfg.ClusterDomain)
	}
	w.event(pod, spec, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", spec.Image)
	cmd, err := launch{sandboxPID: w.sb.PID, argv: argv, env: env, workDir: cdir, logPath: filepath.Join(w.dir, spec.Name+".log")}.start()
	if err != nil {
		w.event(pod, spec, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.mu.Lock()
		c.startError = err.Error()
		w.mu.Unlock()
		return
	}
	w.event(pod, spec, corev1.EventTypeNormal, "Created", "Created container: %s", spec.Name)
	w.event(pod, spec, corev1.EventTypeNormal, "Started", "Started container %s", spec.Name)
	w.mu.Lock()
	c.cmd, c.pid, c.running, c.ready, c.startError = cmd, cmd.Process.Pid, true, false, ""
	c.pidStart, _ = procStart(c.pid)
	c.started = metav1.NewTime(time.Now())
	w.saveProcs()
	w.mu.Unlock()
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
		w.exited(c, code, "")
	}()
	w.startProbes(pod, spec, c)
}

// exited records a container's end and schedules its restart per policy,
// with kubelet's back-off (10 s doubling to 5 min).
func (w *podWorker) exited(c *ctr, code int, msg string) {
	w.mu.Lock()
	if !c.running {
		w.mu.Unlock()
		return
	}
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.running, c.ready = false, false
	c.last = &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason, Message: msg,
		StartedAt: c.started, FinishedAt: metav1.NewTime(time.Now()), ContainerID: "podnet://" + strconv.Itoa(c.pid)}
	if c.probeStop != nil {
		c.probeStop()
	}
	// A container that ran for a while restarts at once, as kubelet resets
	// its back-off after 10 minutes of running.
	delay := backoff(c.restarts)
	if time.Since(c.started.Time) > 10*time.Minute {
		delay = 0
	}
	c.nextStart = time.Now().Add(delay)
	w.saveProcs()
	w.mu.Unlock()
	w.poke()
}

func backoff(restarts int32) time.Duration {
	d := 10 * time.Second
	for range restarts {
		d *= 2
		if d >= 5*time.Minute {
			return 5 * time.Minute
		}
	}
	if restarts == 0 {
		// The first restart is immediate-ish, as kubelet's first back-off
		// step only starts counting after a failure.
		return time.Second
	}
	return d
}

// dnsArgs are the flags a CoreDNS-image container gets: it serves on :53
// inside its pod and reads state from the lab API.
func (w *podWorker) dnsArgs() []string {
	return []string{"--listen", ":53", "--api", w.a.cfg.APISocket, "--cluster-domain", w.a.cfg.ClusterDomain}
}

func (w *podWorker) envRef(pod *corev1.Pod, spec *corev1.Container) func(*corev1.EnvVarSource) string {
	return func(ref *corev1.EnvVarSource) string {
		switch {
		case ref.FieldRef != nil:
			switch ref.FieldRef.FieldPath {
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
			case "status.podIP", "status.podIPs":
				return w.ip.String()
			case "status.hostIP", "status.hostIPs":
				return w.a.cfg.NodeIP
			}
		case ref.ConfigMapKeyRef != nil:
			if o, ok := w.a.src.Get(source.ConfigMap, pod.Namespace, ref.ConfigMapKeyRef.Name); ok {
				return o.(*corev1.ConfigMap).Data[ref.ConfigMapKeyRef.Key]
			}
		case ref.SecretKeyRef != nil:
			if o, ok := w.a.src.Get(source.Secret, pod.Namespace, ref.SecretKeyRef.Name); ok {
				return string(o.(*corev1.Secret).Data[ref.SecretKeyRef.Key])
			}
		}
		return ""
	}
}

// startProbes runs the container's readiness probe until it exits; without
// one the container is ready as soon as it runs.
func (w *podWorker) startProbes(pod *corev1.Pod, spec *corev1.Container, c *ctr) {
	rp := spec.ReadinessProbe
	if rp == nil {
		w.mu.Lock()
		c.ready = true
		w.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.mu.Lock()
	c.probeStop = cancel
	sbPID, ip := w.sb.PID, w.ip.String()
	w.mu.Unlock()
	env := containerEnv(c.image, spec, pod, w.envRef(pod, spec), w.a.cfg.APIHost)
	p := prober{nodeNetns: w.a.cfg.NodeNetns, execIn: func(ctx context.Context, argv []string) error {
		if len(argv) > 0 && c.image != nil {
			if path, err := c.image.LookPath(argv[0]); err == nil {
				argv = append([]string{path}, argv[1:]...)
			}
		}
		return execProbe(ctx, sbPID, env, argv)
	}}
	go func() {
		period := time.Duration(max(rp.PeriodSeconds, 1)) * time.Second
		success, failure := max(rp.SuccessThreshold, 1), max(rp.FailureThreshold, 1)
		var okRun, badRun int32
		var lastReport time.Time
		// Probe quickly until the first success so a new pod becomes ready
		// soon after it listens, then at the configured period.
		interval := 100 * time.Millisecond
		timer := time.NewTimer(time.Duration(rp.InitialDelaySeconds) * time.Second)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			err := p.run(ctx, rp, spec, ip)
			w.mu.Lock()
			was := c.ready
			if err == nil {
				okRun, badRun = okRun+1, 0
				if okRun >= success {
					c.ready = true
					interval = period
				}
			} else {
				badRun, okRun = badRun+1, 0
				if c.ready && badRun >= failure {
					c.ready = false
				}
			}
			changed := was != c.ready
			w.mu.Unlock()
			// Kubelet reports each failed probe; the quick probing before
			// the first success reports at most once per period.
			if err != nil && ctx.Err() == nil && time.Since(lastReport) >= period {
				lastReport = time.Now()
				w.event(pod, spec, corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: %v", err)
			}
			if changed {
				w.poke()
			}
			timer.Reset(interval)
		}
	}()
}

// finish ends the worker: detached, it leaves everything; removed, it stops
// containers with their grace period, detaches the network and removes the
// sandbox and directory.
func (w *podWorker) finish(m stopMode) {
	if m == stopDetach {
		w.mu.Lock()
		for _, c := range w.containers {
			if c.probeStop != nil {
				c.probeStop()
			}
		}
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	var pids []int
	for _, c := range w.containers {
		if c.probeStop != nil {
			c.probeStop()
		}
		if c.running {
			pids = append(pids, c.pid)
		}
		c.running = false
	}
	w.mu.Unlock()
	grace := 30 * time.Second
	if pod := w.currentPod(); pod != nil && pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	if m == stopKill {
		grace = 0
	}
	stopProcesses(pids, grace)
	removePodDir(context.Background(), w.a.cfg.Network, w.dir, w.uid, true)
}

// stopProcesses sends SIGTERM to each container's process group, waits up to
// grace for them to end, then kills what is left.
func stopProcesses(pids []int, grace time.Duration) {
	sig := syscall.SIGTERM
	if grace == 0 {
		sig = syscall.SIGKILL
	}
	for _, pid := range pids {
		syscall.Kill(-pid, sig)
		syscall.Kill(pid, sig)
	}
	deadline := time.Now().Add(grace)
	for _, pid := range pids {
		for time.Now().Before(deadline) && alive(pid) {
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(-pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func alive(pid int) bool {
	_, err := procStart(pid)
	return err == nil
}

// removePodDir tears down what a pod directory records: container
// processes, the network attachment and the sandbox. With all set, the
// directory goes too.
func removePodDir(ctx context.Context, network Network, dir, uid string, all bool) {
	data, err := os.ReadFile(filepath.Join(dir, "containers.json"))
	if err == nil {
		var recs map[string]procRecord
		if json.Unmarshal(data, &recs) == nil {
			var pids []int
			for _, r := range recs {
				if st, err := procStart(r.PID); err == nil && st == r.Start {
					pids = append(pids, r.PID)
				}
			}
			stopProcesses(pids, 0)
		}
	}
	if sb, ok := sandbox.Record(dir); ok {
		network.Del(ctx, uid, sb.NetnsPath(), "eth0")
		sb.Remove()
	} else {
		network.Del(ctx, uid, "", "eth0")
	}
	if all {
		os.RemoveAll(dir)
	}
}

// writeStatus reports the pod's status if it changed.
func (w *podWorker) writeStatus(pod *corev1.Pod) {
	for range 5 {
		cur := w.currentPod()
		if cur == nil {
			return
		}
		st := w.status(cur)
		if statusEqual(cur.Status, st) {
			return
		}
		next := cur.DeepCopy()
		next.Status = st
		_, err := w.a.w.Update(next)
		if err == nil || !apierrors.IsConflict(err) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
