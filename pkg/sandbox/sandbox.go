// Package sandbox makes and removes pod sandboxes: a network, UTS and mount
// namespace held open by a small init process, with the pod's own hostname,
// /etc/resolv.conf and /etc/hosts, and the network namespace bound under
// /run/netns so CNI plugins and `ip netns` can name it.
//
// The sandbox outlives the daemon that made it (the init process is in its own
// session), so a restarted daemon adopts it from the record in the pod's
// directory instead of making a second one.
package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NetnsDir is where named network namespaces live, as iproute2 keeps them.
const NetnsDir = "/run/netns"

// Config describes a sandbox to make.
type Config struct {
	Dir      string // the pod's directory: files, logs, the record
	Netns    string // name under /run/netns
	Hostname string
	Self     string // the podnet executable, run as the init process
}

// Sandbox is a running pod sandbox.
type Sandbox struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"` // of PID, so a reused PID is not mistaken for ours
	Netns     string `json:"netns"`
	Dir       string `json:"-"`
}

// NetnsPath is the bind-mounted network namespace.
func (s *Sandbox) NetnsPath() string { return filepath.Join(NetnsDir, s.Netns) }

// Files a sandbox shows at /etc inside the pod. They are written before the
// init process mounts them and later rewritten in place (same inode, which the
// bind mount pins), e.g. /etc/hosts once the pod IP is known.
const (
	ResolvConf = "resolv.conf"
	Hosts      = "hosts"
	Hostname   = "hostname"
	record     = "sandbox.json"
)

// Create starts the init process in new namespaces and binds its network
// namespace. The files ResolvConf and Hosts must already exist in cfg.Dir.
func Create(cfg Config) (*Sandbox, error) {
	if err := os.WriteFile(filepath.Join(cfg.Dir, Hostname), []byte(cfg.Hostname+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := ensureNetnsDir(); err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Self, "sandbox-init", "--dir", cfg.Dir, "--hostname", cfg.Hostname)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS,
		Setsid:     true, // survive the daemon and its terminal
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting sandbox init for %s: %w", cfg.Netns, err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("sandbox init for %s failed: %s", cfg.Netns, strings.TrimSpace(stderr.String()))
	}
	// Reap it in the background if it ever exits while we run.
	go cmd.Wait()
	sb := &Sandbox{PID: cmd.Process.Pid, Netns: cfg.Netns, Dir: cfg.Dir}
	sb.StartTime, _ = startTime(sb.PID)
	if err := bindNetns(sb.PID, sb.NetnsPath()); err != nil {
		sb.kill()
		return nil, err
	}
	data, _ := json.Marshal(sb)
	if err := os.WriteFile(filepath.Join(cfg.Dir, record), data, 0o600); err != nil {
		sb.Remove()
		return nil, err
	}
	return sb, nil
}

// Load returns the sandbox recorded in dir if its init process still runs.
func Load(dir string) (*Sandbox, bool) {
	data, err := os.ReadFile(filepath.Join(dir, record))
	if err != nil {
		return nil, false
	}
	var sb Sandbox
	if json.Unmarshal(data, &sb) != nil {
		return nil, false
	}
	sb.Dir = dir
	return &sb, sb.Alive()
}

// Record reads what dir says about a sandbox, alive or not, so that a dead
// one can still be cleaned up by name.
func Record(dir string) (*Sandbox, bool) {
	data, err := os.ReadFile(filepath.Join(dir, record))
	if err != nil {
		return nil, false
	}
	var sb Sandbox
	if json.Unmarshal(data, &sb) != nil {
		return nil, false
	}
	sb.Dir = dir
	return &sb, true
}

// Alive reports whether the init process is the one we started.
func (s *Sandbox) Alive() bool {
	st, err := startTime(s.PID)
	return err == nil && st == s.StartTime
}

// Remove stops the init process and unbinds the network namespace; the
// kernel frees the namespaces when their last process and mount are gone.
// Removing an already removed sandbox succeeds.
func (s *Sandbox) Remove() error {
	s.kill()
	p := s.NetnsPath()
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting netns %q: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	os.Remove(filepath.Join(s.Dir, record))
	return nil
}

func (s *Sandbox) kill() {
	if !s.Alive() {
		return
	}
	syscall.Kill(s.PID, syscall.SIGKILL)
	for range 200 {
		if !s.Alive() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startTime is field 22 of /proc/PID/stat; a zombie counts as gone.
func startTime(pid int) (uint64, error) {
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

// ensureNetnsDir makes /run/netns a shared mount point, as iproute2 does, so
// that binds and unbinds there propagate into the pods' mount namespaces
// (which are slaves of the host's) and no pod pins another pod's netns.
func ensureNetnsDir() error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
		if err := unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mounting %s: %w", NetnsDir, err)
		}
		err = unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("making %s shared: %w", NetnsDir, err)
	}
	return nil
}

func bindNetns(pid int, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("creating netns file %q: %w", path, err)
	}
	f.Close()
	if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/net", pid), path, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("binding netns %q: %w", path, err)
	}
	return nil
}
