package nodeagent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/images"
)

// launch describes one container process to start in a sandbox.
type launch struct {
	sandboxPID int
	argv       []string // argv[0] already resolved to a host path
	env        []string
	workDir    string // the container's own directory: files it writes stay in the lab
	logPath    string
}

// start runs the process inside the sandbox's network, UTS and mount
// namespaces through nsenter (Go cannot setns into a mount namespace from a
// multi-threaded process), in a session of its own so the whole container
// can be signalled as a group and survives the daemon.
func (l launch) start() (*exec.Cmd, error) {
	logf, err := os.OpenFile(l.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := append([]string{"--target", strconv.Itoa(l.sandboxPID), "--net", "--uts", "--mount", "--"}, l.argv...)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = l.env
	cmd.Dir = l.workDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// containerArgv is what a container runs: the pod's command/args over the
// image's defaults, or for nginx without a command, nginx with a
// configuration written into dir.
func containerArgv(img *images.Image, c *corev1.Container, pod *corev1.Pod, dir string, dnsArgs []string) ([]string, error) {
	var argv []string
	switch {
	case img.Nginx && len(c.Command) == 0 && len(c.Args) == 0:
		conf, err := writeNginxConf(dir, c)
		if err != nil {
			return nil, err
		}
		argv = []string{"nginx", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf}
	case img.DNS:
		argv = append(img.Command(c.Command, nil), dnsArgs...)
	default:
		argv = img.Command(c.Command, c.Args)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("container %q has no command and image %q none by default", c.Name, c.Image)
	}
	p, err := img.LookPath(argv[0])
	if err != nil {
		return nil, err
	}
	argv[0] = p
	return argv, nil
}

// writeNginxConf makes nginx serve every TCP containerPort (80 when none is
// declared) with a page that names the pod, so a user can see which endpoint
// answered ("Server name: <pod>").
func writeNginxConf(dir string, c *corev1.Container) (string, error) {
	var ports []int32
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			ports = append(ports, p.ContainerPort)
		}
	}
	if len(ports) == 0 {
		ports = []int32{80}
	}
	var listen strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&listen, "    listen %d;\n", p)
	}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
events { worker_connections 512; }
error_log stderr;
http {
  # As the nginx image links its logs to the container's output, so that
  # podnet logs shows requests.
  access_log /dev/stdout;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  server {
%[2]s    location / {
      default_type text/html;
      return 200 '<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>Server name: $hostname</p>
<p>Server address: $server_addr:$server_port</p>
<p>Request URI: $request_uri</p>
</body>
</html>
';
    }
  }
}
`, dir, listen.String())
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o777); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "nginx.conf")
	return p, os.WriteFile(p, []byte(conf), 0o644)
}

// containerEnv is the environment Kubernetes gives a container: PATH from
// the image, HOSTNAME, the kubernetes Service variables, then the
// container's own env with $(VAR) references expanded.
func containerEnv(img *images.Image, c *corev1.Container, pod *corev1.Pod, resolveRef func(*corev1.EnvVarSource) string, apiHost string) []string {
	vars := []string{img.Env(), "HOSTNAME=" + podHostname(pod)}
	if apiHost != "" {
		vars = append(vars,
			"KUBERNETES_SERVICE_HOST="+apiHost, "KUBERNETES_SERVICE_PORT=443", "KUBERNETES_SERVICE_PORT_HTTPS=443",
			"KUBERNETES_PORT=tcp://"+apiHost+":443", "KUBERNETES_PORT_443_TCP=tcp://"+apiHost+":443",
			"KUBERNETES_PORT_443_TCP_PROTO=tcp", "KUBERNETES_PORT_443_TCP_PORT=443", "KUBERNETES_PORT_443_TCP_ADDR="+apiHost)
	}
	seen := map[string]string{}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		seen[k] = v
	}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = resolveRef(e.ValueFrom)
		} else {
			v = expandRefs(v, seen)
		}
		seen[e.Name] = v
		vars = append(vars, e.Name+"="+v)
	}
	return vars
}

// expandRefs replaces $(VAR) with earlier variables' values, leaving unknown
// references as they are and $$( as a literal $(, as Kubernetes does.
func expandRefs(v string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '$' && i+1 < len(v) {
			switch v[i+1] {
			case '$':
				b.WriteByte('$')
				i++
				continue
			case '(':
				if end := strings.IndexByte(v[i+2:], ')'); end >= 0 {
					name := v[i+2 : i+2+end]
					if val, ok := vars[name]; ok {
						b.WriteString(val)
					} else {
						b.WriteString(v[i : i+3+end])
					}
					i += 2 + end
					continue
				}
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
