package sandbox

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Init runs as the sandbox's first process, already inside its new network,
// UTS and mount namespaces. It makes the mount namespace a slave of the
// host's (pod mounts never leak out; host unmounts reach in), shows the pod's
// files at /etc, sets the hostname, says "ready" and waits to be killed.
func Init(dir, hostname string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making / a slave mount: %w", err)
	}
	for _, f := range []string{ResolvConf, Hosts, Hostname} {
		target, err := filepath.EvalSymlinks(filepath.Join("/etc", f))
		if err != nil {
			return fmt.Errorf("/etc/%s: %w", f, err)
		}
		if err := unix.Mount(filepath.Join(dir, f), target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mounting /etc/%s: %w", f, err)
		}
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("setting hostname: %w", err)
	}
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println("ready")
	os.Stdout.Close()
	<-term
	return nil
}
