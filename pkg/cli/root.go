// Package cli is podnet's command line: kubectl's verbs and flags against a
// lab, plus the lab's own commands (up, down, status) and the hidden entry
// points the lab runs itself (daemon, sandbox-init, dns serve).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/podnet/podnet/pkg/lab"
	"github.com/podnet/podnet/pkg/labapi"
)

// env is what every command shares: the lab it talks to and its streams.
type env struct {
	labName   string
	stateRoot string
	namespace string
	allNS     bool
	in        io.Reader
	out, errw io.Writer
}

func (e *env) stateDir() string { return filepath.Join(e.stateRoot, e.labName) }

func (e *env) ns() string {
	if e.namespace == "" {
		return "default"
	}
	return e.namespace
}

// client connects to the running lab or says how to start one.
func (e *env) client() (*labapi.Client, error) {
	sock := lab.SocketPath(e.stateDir())
	c := labapi.NewClient(sock)
	if _, err := c.Status(context.Background()); err != nil {
		if labapi.IsSocketError(err) {
			return nil, fmt.Errorf("lab %q is not running; start it with: podnet up", e.labName)
		}
		return nil, err
	}
	return c, nil
}

// exitError carries a process exit code (exec's, or 1 after a printed error).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the CLI and returns the process exit code.
func Main(args []string) int {
	e := &env{in: os.Stdin, out: os.Stdout, errw: os.Stderr}
	root := newRoot(e)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(e.errw, formatError(err))
	return 1
}

// formatError prints errors as kubectl does: API errors as
// `Error from server (Reason): message`, validation errors as
// `The Service "x" is invalid: ...`, the rest as `error: message`.
func formatError(err error) string {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		if apierrors.IsInvalid(se) {
			return "The " + se.Error()
		}
		reason := string(se.ErrStatus.Reason)
		if reason == "" {
			reason = "InternalError"
		}
		var fe *fileError
		if errors.As(err, &fe) {
			return fmt.Sprintf("Error from server (%s): error when %s %q: %s", reason, fe.verb, fe.file, se.Error())
		}
		return fmt.Sprintf("Error from server (%s): %s", reason, se.Error())
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "error: ") || strings.HasPrefix(msg, "The ") {
		return msg
	}
	return "error: " + msg
}

// fileError says which input file an API error came from.
type fileError struct {
	verb, file string
	err        error
}

func (f *fileError) Error() string { return f.err.Error() }
func (f *fileError) Unwrap() error { return f.err }

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "podnet",
		Short: "Kubernetes cluster networking, for real, on one Linux machine",
		Long: `podnet turns Kubernetes manifests into a real cluster network on this machine:
pods are network namespaces running real programs, Services are nftables rules,
cluster DNS answers at 10.96.0.10. Use it like kubectl.

  podnet up                      bring up a lab
  podnet apply -f manifests/     create objects
  podnet exec -it POD -- sh      run a command in a pod
  podnet down                    remove the lab and everything it made`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	labName := os.Getenv("PODNET_LAB")
	if labName == "" {
		labName = "podnet"
	}
	root.PersistentFlags().StringVar(&e.labName, "lab", labName, "name of the lab (env PODNET_LAB)")
	root.PersistentFlags().StringVar(&e.stateRoot, "state-root", "/var/lib/podnet", "directory holding the labs' state")
	root.PersistentFlags().StringVarP(&e.namespace, "namespace", "n", "", "the namespace scope for this request")
	root.AddCommand(
		newUp(e), newDown(e), newStatus(e), newDaemon(e), newSandboxInit(),
		newApply(e), newCreate(e), newDelete(e), newGet(e), newDescribe(e),
		newRun(e), newExpose(e), newLabel(e), newScale(e), newExec(e), newLogs(e), newWait(e),
		newDNS(e), newPortForward(e), newAgnhost(e), newPolicy(e),
	)
	addCompletions(root, e)
	return root
}
