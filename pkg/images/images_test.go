package images

import (
	"slices"
	"strings"
	"testing"
)

func TestResolveAndCommand(t *testing.T) {
	c := &Catalog{dir: "/lab/images", self: "/usr/local/bin/podnet"}
	cases := []struct {
		name          string
		ref           string
		command, args []string
		wantImage     string
		wantArgv      []string
	}{
		{"nginx with a tag is nginx", "nginx:1.25", nil, nil, "nginx", nil},
		{"a registry-qualified nginx is nginx", "docker.io/library/nginx:latest", nil, nil, "nginx", nil},
		{"busybox runs sh by default", "busybox", nil, nil, "busybox", []string{"sh"}},
		{"busybox args replace the default cmd", "busybox:1.36", nil, []string{"sleep", "3600"}, "busybox", []string{"sleep", "3600"}},
		{"curl's command replaces the entrypoint", "curlimages/curl", []string{"sleep", "3600"}, nil, "curlimages/curl", []string{"sleep", "3600"}},
		{"curl args replace curl's cmd", "curlimages/curl:8.5.0", nil, []string{"curl", "-s", "web"}, "curlimages/curl", []string{"curl", "-s", "web"}},
		{"coredns runs podnet's DNS server with the pod's args", "registry.k8s.io/coredns/coredns:v1.11.1", nil, []string{"-conf", "/etc/coredns/Corefile"}, "coredns", []string{"/usr/local/bin/podnet", "dns", "serve", "-conf", "/etc/coredns/Corefile"}},
		{"a digest is ignored", "busybox@sha256:abc", nil, nil, "busybox", []string{"sh"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, err := c.Resolve(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if img.Name != tc.wantImage {
				t.Errorf("image %s, want %s", img.Name, tc.wantImage)
			}
			if got := img.Command(tc.command, tc.args); tc.wantArgv != nil && !slices.Equal(got, tc.wantArgv) {
				t.Errorf("argv %q, want %q", got, tc.wantArgv)
			}
		})
	}
}

func TestUnknownImageNamesWhatRuns(t *testing.T) {
	c := &Catalog{dir: "/lab/images"}
	_, err := c.Resolve("redis:7")
	if err == nil || !strings.Contains(err.Error(), `image "redis:7" cannot be run by podnet`) || !strings.Contains(err.Error(), "busybox") {
		t.Fatalf("got %v", err)
	}
}
