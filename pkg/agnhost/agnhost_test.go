package agnhost

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestNetexecHTTP(t *testing.T) {
	srv := httptest.NewServer(netexecMux(make(chan int, 1)))
	defer srv.Close()
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{path: "/hostname", want: hostname(), code: 200},
		{path: "/hostName", want: hostname(), code: 200},
		{path: "/echo?msg=hello", want: "hello", code: 200},
		{path: "/echo?msg=teapot&code=418", want: "teapot", code: 418},
		{path: "/healthz", code: 200},
	} {
		code, body := get(t, srv.URL+tc.path)
		if code != tc.code || (tc.want != "" && body != tc.want) {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, code, body, tc.code, tc.want)
		}
	}
	// /clientip is the caller's address as the server saw it.
	_, body := get(t, srv.URL+"/clientip")
	if host, _, err := net.SplitHostPort(body); err != nil || host != "127.0.0.1" {
		t.Errorf("/clientip = %q, want 127.0.0.1:PORT", body)
	}
	// /dial reaches another server from this one.
	target := httptest.NewServer(netexecMux(make(chan int, 1)))
	defer target.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))
	code, body := get(t, srv.URL+"/dial?host=127.0.0.1&port="+port+"&request=echo?msg=via&tries=2")
	var res struct{ Responses, Errors []string }
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != 200 || len(res.Responses) != 2 || res.Responses[0] != "via" {
		t.Errorf("/dial = %d %s", code, body)
	}
	if code, _ := get(t, srv.URL+"/dial?host=127.0.0.1"); code != http.StatusBadRequest {
		t.Errorf("/dial without port/request = %d, want 400", code)
	}
	// A refused dial is 417 with the error listed.
	closed := freePort(t)
	code, body = get(t, srv.URL+"/dial?host=127.0.0.1&port="+closed+"&request=hostname")
	if code != http.StatusExpectationFailed || !strings.Contains(body, "refused") {
		t.Errorf("/dial to a closed port = %d %s, want 417 naming the refusal", code, body)
	}
}

func TestNetexecUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go serveUDP(pc, udpCommand)
	conn, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for msg, want := range map[string]string{
		"hostname":   hostname(),
		"echo hi":    "hi",
		"clientip\n": conn.LocalAddr().String(),
	} {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		conn.Write([]byte(msg))
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("UDP %q = %q %v, want %q", msg, buf[:n], err, want)
		}
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestConnectClassifiesFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if msg := connect(ln.Addr().String(), time.Second); msg != "" {
		t.Errorf("connect to a listener: %q, want success", msg)
	}
	if msg := connect("127.0.0.1:"+freePort(t), time.Second); !strings.HasPrefix(msg, "REFUSED: ") {
		t.Errorf("connect to a closed port: %q, want REFUSED", msg)
	}
	if msg := connect("no-port", time.Second); !strings.HasPrefix(msg, "UNKNOWN: ") {
		t.Errorf("connect without a port: %q, want UNKNOWN", msg)
	}
	if code := Main([]string{"connect", "127.0.0.1:" + freePort(t)}, io.Discard, io.Discard); code != 1 {
		t.Errorf("agnhost connect to a closed port exits %d, want 1", code)
	}
}

func TestConnectUDP(t *testing.T) {
	answering, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer answering.Close()
	go serveUDP(answering, func(string, net.Addr) string { return "host" })
	if msg := connectUDP(answering.LocalAddr().String(), time.Second, "hostname"); msg != "" {
		t.Errorf("connect --protocol=udp to an answering server: %q, want success", msg)
	}
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if msg := connectUDP(silent.LocalAddr().String(), 200*time.Millisecond, "hostname"); !strings.HasPrefix(msg, "TIMEOUT: ") {
		t.Errorf("connect --protocol=udp to a silent server: %q, want TIMEOUT", msg)
	}
	closed := silent.LocalAddr().String()
	silent.Close()
	if msg := connectUDP(closed, time.Second, "hostname"); !strings.HasPrefix(msg, "REFUSED: ") {
		t.Errorf("connect --protocol=udp to a closed port: %q, want REFUSED", msg)
	}
	if code := Main([]string{"connect", "--protocol=sctp", "127.0.0.1:80"}, io.Discard, io.Discard); code != 1 {
		t.Errorf("agnhost connect --protocol=sctp exits %d, want 1 (no SCTP sockets)", code)
	}
}
