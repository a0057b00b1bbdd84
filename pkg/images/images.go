// Package images maps container image names to programs of this host.
//
// podnet has no image store: a container is a host program run inside the
// pod's namespaces. Each image podnet knows gets the PATH and the default
// command (entrypoint and cmd, as the real image has them) that make the
// walkthroughs behave as with the real image: busybox's applets for busybox,
// curl plus busybox for curlimages/curl (an Alpine image), the Debian tools
// for tutum/dnsutils, nginx from Debian serving a page that names the pod.
package images

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Image is a runnable image.
type Image struct {
	Name       string   // canonical short name, e.g. "nginx"
	Path       []string // directories searched for the command, in order
	Entrypoint []string
	Cmd        []string
	// Nginx is set for nginx images: the container runs nginx with a
	// configuration made for the pod unless the pod gives a command.
	Nginx bool
	// DNS is set for CoreDNS images: the container runs podnet's DNS server.
	DNS bool
	// Aliases maps absolute paths the real image has (its entrypoint) to
	// the host programs standing in for them.
	Aliases map[string]string
}

// Catalog resolves image references. Its directories hold the per-image
// command links and live in the lab's state directory.
type Catalog struct {
	dir  string // <state>/images
	self string // the podnet executable
}

// systemPath is the PATH of a Debian-based image.
var systemPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// Runnable lists the images podnet can run, for error messages and docs.
var Runnable = []string{"nginx", "busybox", "curlimages/curl", "tutum/dnsutils", "registry.k8s.io/e2e-test-images/agnhost", "registry.k8s.io/coredns/coredns"}

// NewCatalog prepares the command directories under dir: busybox's applets
// as links to the host's busybox, and curl.
func NewCatalog(dir, self string) (*Catalog, error) {
	c := &Catalog{dir: dir, self: self}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return nil, fmt.Errorf("busybox is not installed (apt-get install busybox): %w", err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	if err := linkAll(filepath.Join(dir, "busybox"), bb, strings.Fields(string(out))); err != nil {
		return nil, err
	}
	// Debian's busybox wget crashes on -T; podnet's own busybox-compatible
	// wget stands in for it (package wget).
	if err := linkAll(filepath.Join(dir, "busybox"), self, []string{"wget"}); err != nil {
		return nil, err
	}
	// agnhost is podnet itself under that name (package agnhost).
	if err := linkAll(filepath.Join(dir, "agnhost"), self, []string{"agnhost"}); err != nil {
		return nil, err
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		if err := linkAll(filepath.Join(dir, "curl"), curl, []string{"curl"}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func linkAll(dir, target string, names []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if cur, err := os.Readlink(p); err == nil && cur == target {
			continue
		}
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	return nil
}

// repository strips registry, tag and digest: "docker.io/library/nginx:1.25"
// → "nginx", "curlimages/curl:8.1" → "curlimages/curl".
func repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	for _, prefix := range []string{"docker.io/", "index.docker.io/", "library/"} {
		ref = strings.TrimPrefix(ref, prefix)
	}
	return ref
}

// Resolve returns the image for ref, or an error naming what podnet runs.
func (c *Catalog) Resolve(ref string) (*Image, error) {
	repo := repository(ref)
	bb := filepath.Join(c.dir, "busybox")
	switch {
	case repo == "nginx" || repo == "nginxinc/nginx-unprivileged" || repo == "nginxdemos/hello":
		return &Image{Name: "nginx", Path: systemPath, Nginx: true}, nil
	case repo == "busybox":
		return &Image{Name: "busybox", Path: []string{bb}, Cmd: []string{"sh"}}, nil
	case repo == "curlimages/curl":
		return &Image{Name: "curlimages/curl", Path: []string{filepath.Join(c.dir, "curl"), bb}, Cmd: []string{"curl"}}, nil
	case repo == "tutum/dnsutils" || repo == "registry.k8s.io/e2e-test-images/jessie-dnsutils":
		return &Image{Name: "tutum/dnsutils", Path: systemPath, Cmd: []string{"sh"}}, nil
	case repo == "registry.k8s.io/e2e-test-images/agnhost" || repo == "k8s.gcr.io/e2e-test-images/agnhost" || repo == "gcr.io/kubernetes-e2e-test-images/agnhost":
		// The real image's entrypoint is /agnhost, with sh, curl and nc
		// beside it.
		agn := filepath.Join(c.dir, "agnhost")
		return &Image{Name: "agnhost", Path: []string{agn, filepath.Join(c.dir, "curl"), bb}, Entrypoint: []string{"/agnhost"},
			Aliases: map[string]string{"/agnhost": filepath.Join(agn, "agnhost")}}, nil
	case repo == "registry.k8s.io/coredns/coredns" || repo == "coredns/coredns" || repo == "k8s.gcr.io/coredns/coredns":
		return &Image{Name: "coredns", Path: systemPath, Entrypoint: []string{c.self, "dns", "serve"}, DNS: true}, nil
	}
	return nil, fmt.Errorf("image %q cannot be run by podnet: it runs %s (any tag)", ref, strings.Join(Runnable, ", "))
}

// Command is the argv a container runs, as Kubernetes combines the pod's
// command/args with the image's entrypoint/cmd: command replaces the
// entrypoint (and drops cmd), args replace cmd.
func (img *Image) Command(command, args []string) []string {
	var argv []string
	switch {
	case len(command) > 0:
		argv = append(slices.Clone(command), args...)
	case len(args) > 0:
		argv = append(slices.Clone(img.Entrypoint), args...)
	default:
		argv = append(slices.Clone(img.Entrypoint), img.Cmd...)
	}
	return argv
}

// LookPath finds the program argv[0] names in the image's PATH, as the
// container's exec would.
func (img *Image) LookPath(name string) (string, error) {
	if p, ok := img.Aliases[name]; ok {
		return p, nil
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, d := range img.Path {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// Env is the PATH variable the container sees.
func (img *Image) Env() string { return "PATH=" + strings.Join(img.Path, ":") }

// OpenCatalog returns the catalog a running lab prepared under dir, without
// preparing it again (for `podnet exec`).
func OpenCatalog(dir, self string) *Catalog { return &Catalog{dir: dir, self: self} }
