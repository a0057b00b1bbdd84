package wget

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestWget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "hello from the pod\n")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedAddr := closed.Addr().String()
	closed.Close()
	base := "http://" + ln.Addr().String()
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantErrSub string
	}{
		{"-qO- prints the body", []string{"-qO-", base}, 0, "hello from the pod\n", ""},
		{"-T with a value is accepted (Debian's busybox crashes here)", []string{"-q", "-O", "-", "-T", "2", base}, 0, "hello from the pod\n", ""},
		{"--spider --timeout=1 succeeds for a page that exists", []string{"--spider", "--timeout=1", base}, 0, "", "remote file exists"},
		{"a refused connection says so", []string{"-qO-", "http://" + refusedAddr}, 1, "", "can't connect to remote host (127.0.0.1): Connection refused"},
		{"an unknown name is a bad address", []string{"-qO-", "http://no-such-name.invalid"}, 1, "", "bad address 'no-such-name.invalid'"},
		{"an HTTP error fails", []string{"-qO-", base + "/missing"}, 1, "", "server returned error: HTTP/1.1 404 Not Found"},
		{"an unknown option is refused", []string{"-z", base}, 1, "", "invalid option -- 'z'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(tc.args, &out, &errb)
			if code != tc.wantCode || out.String() != tc.wantOut || !strings.Contains(errb.String(), tc.wantErrSub) {
				t.Errorf("code %d out %q err %q; want code %d out %q err containing %q", code, out.String(), errb.String(), tc.wantCode, tc.wantOut, tc.wantErrSub)
			}
		})
	}
}
