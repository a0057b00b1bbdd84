// Package agnhost is the lab's stand-in for the Kubernetes e2e test image
// (registry.k8s.io/e2e-test-images/agnhost): the subcommands Service,
// DNS and NetworkPolicy tests use to serve and probe — netexec,
// serve-hostname, connect and pause — with the endpoints, UDP commands and
// error prefixes that tests written for the real image check for.
package agnhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Main runs agnhost with args (without the program name) and returns the
// exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{Use: "agnhost", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(netexecCmd(), serveHostnameCmd(), connectCmd(), pauseCmd())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return int(ee)
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

type exitError int

func (e exitError) Error() string { return "exit " + strconv.Itoa(int(e)) }

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// untilSignal returns a context that ends on SIGTERM or SIGINT, as a
// container is stopped.
func untilSignal() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

func pauseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pause",
		Short: "Sleep until stopped",
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := untilSignal()
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
}

func connectCmd() *cobra.Command {
	var timeout time.Duration
	var protocol, udpData string
	cmd := &cobra.Command{
		Use:   "connect HOST:PORT",
		Short: "Open a TCP connection or exchange a UDP datagram; on failure print TIMEOUT, DNS, REFUSED, OTHER or UNKNOWN",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var msg string
			switch protocol {
			case "", "tcp":
				msg = connect(args[0], timeout)
			case "udp":
				msg = connectUDP(args[0], timeout, udpData)
			case "sctp":
				// The lab's kernels have no SCTP sockets; say so instead of
				// pretending the peer was unreachable.
				msg = "UNKNOWN: sctp: this kernel has no SCTP sockets"
			default:
				msg = fmt.Sprintf("UNKNOWN: unsupported protocol %q (tcp, udp or sctp)", protocol)
			}
			if msg == "" {
				return nil
			}
			fmt.Fprintln(os.Stderr, msg)
			return exitError(1)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "maximum time before giving up (0: the system's)")
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "protocol: tcp, udp (sctp is reported as unsupported here)")
	cmd.Flags().StringVar(&udpData, "udp-data", "hostname", "the datagram sent over UDP (a newline is added)")
	return cmd
}

// resolveError checks dest's form and name before dialling, so a bad
// argument or a failed lookup gets its own prefix. The lookup shares the
// probe's timeout: with DNS cut off by an egress policy, the resolver's own
// retries over every search domain would take many times longer.
func resolveError(dest string, timeout time.Duration) string {
	host, _, err := net.SplitHostPort(dest)
	if err != nil {
		return "UNKNOWN: " + err.Error()
	}
	if net.ParseIP(host) == nil {
		ctx := context.Background()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
			return "DNS: " + err.Error()
		}
	}
	return ""
}

// connect dials once and classifies a failure by the prefix tests check.
func connect(dest string, timeout time.Duration) string {
	if msg := resolveError(dest, timeout); msg != "" {
		return msg
	}
	conn, err := net.DialTimeout("tcp", dest, timeout)
	if err == nil {
		conn.Close()
		return ""
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "REFUSED: " + err.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "TIMEOUT: " + err.Error()
	}
	return "OTHER: " + err.Error()
}

// connectUDP sends one datagram and succeeds only when an answer comes
// back: UDP has no handshake, so a reply is the only proof the server got
// the request. ICMP port-unreachable shows as REFUSED, silence as TIMEOUT.
func connectUDP(dest string, timeout time.Duration, data string) string {
	if msg := resolveError(dest, timeout); msg != "" {
		return msg
	}
	conn, err := net.Dial("udp", dest)
	if err != nil {
		return "OTHER: " + err.Error()
	}
	defer conn.Close()
	if timeout > 0 {
		conn.SetDeadline(time.Now().Add(timeout))
	}
	classify := func(err error) string {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return "TIMEOUT: " + err.Error()
		case errors.Is(err, syscall.ECONNREFUSED):
			return "REFUSED: " + err.Error()
		}
		return "UNKNOWN: " + err.Error()
	}
	if _, err := conn.Write([]byte(data + "\n")); err != nil {
		return classify(err)
	}
	buf := make([]byte, 1024)
	n, err := conn.Read(buf)
	if err != nil {
		return classify(err)
	}
	if n == 0 {
		return "OTHER: the server sent an empty datagram, so it is unknown whether it got the request"
	}
	return ""
}

func serveHostnameCmd() *cobra.Command {
	var tcp, udp, httpFlag, closeConn bool
	var port int
	cmd := &cobra.Command{
		Use:   "serve-hostname",
		Short: "Serve the hostname over HTTP, or raw over TCP and/or UDP",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if httpFlag && (tcp || udp) {
				return errors.New("--http cannot be given with --tcp or --udp")
			}
			if !httpFlag && !tcp && !udp {
				return errors.New("serve at least one of --http, --tcp, --udp")
			}
			ctx, stop := untilSignal()
			defer stop()
			addr := ":" + strconv.Itoa(port)
			name := hostname()
			errc := make(chan error, 3)
			if tcp {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return err
				}
				defer ln.Close()
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							errc <- err
							return
						}
						c.Write([]byte(name))
						c.Close()
					}
				}()
			}
			if udp {
				pc, err := net.ListenPacket("udp", addr)
				if err != nil {
					return err
				}
				defer pc.Close()
				go func() { errc <- serveUDP(pc, func(string, net.Addr) string { return name }) }()
			}
			if httpFlag {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return err
				}
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					if closeConn {
						w.Header().Set("Connection", "close")
					}
					fmt.Fprint(w, name)
				})}
				defer srv.Close()
				go func() { errc <- srv.Serve(ln) }()
			}
			select {
			case <-ctx.Done():
				return nil
			case err := <-errc:
				return err
			}
		},
	}
	cmd.Flags().BoolVar(&tcp, "tcp", false, "serve raw over TCP")
	cmd.Flags().BoolVar(&udp, "udp", false, "serve raw over UDP")
	cmd.Flags().BoolVar(&httpFlag, "http", true, "serve HTTP")
	cmd.Flags().BoolVar(&closeConn, "close", false, "close the connection after each HTTP request")
	cmd.Flags().IntVar(&port, "port", 9376, "port to listen on")
	return cmd
}

// serveUDP answers every datagram with reply(message, client) until the
// socket closes.
func serveUDP(pc net.PacketConn, reply func(msg string, from net.Addr) string) error {
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if out := reply(strings.TrimSpace(string(buf[:n])), from); out != "" {
			pc.WriteTo([]byte(out), from)
		}
	}
}

// udpCommand is netexec's UDP protocol: hostname, echo <msg>, clientip.
func udpCommand(msg string, from net.Addr) string {
	switch {
	case msg == "hostname":
		return hostname()
	case strings.HasPrefix(msg, "echo "):
		return strings.TrimPrefix(msg, "echo ")
	case msg == "clientip":
		return from.String()
	}
	return ""
}

func netexecCmd() *cobra.Command {
	var httpPort, udpPort, sctpPort int
	cmd := &cobra.Command{
		Use:   "netexec",
		Short: "HTTP and UDP servers with the endpoints networking tests use",
		RunE: func(*cobra.Command, []string) error {
			if sctpPort != -1 {
				return errors.New("--sctp-port: this kernel has no SCTP sockets")
			}
			ctx, stop := untilSignal()
			defer stop()
			errc := make(chan error, 2)
			exit := make(chan int, 1)
			if udpPort != -1 {
				pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(udpPort))
				if err != nil {
					return err
				}
				defer pc.Close()
				go func() { errc <- serveUDP(pc, udpCommand) }()
			}
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(httpPort))
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: netexecMux(exit)}
			defer srv.Close()
			go func() { errc <- srv.Serve(ln) }()
			select {
			case <-ctx.Done():
				return nil
			case code := <-exit:
				if code != 0 {
					return exitError(code)
				}
				return nil
			case err := <-errc:
				return err
			}
		},
	}
	cmd.Flags().IntVar(&httpPort, "http-port", 8080, "HTTP port")
	cmd.Flags().IntVar(&udpPort, "udp-port", 8081, "UDP port (-1: no UDP server)")
	cmd.Flags().IntVar(&sctpPort, "sctp-port", -1, "SCTP port (unsupported here)")
	return cmd
}

func netexecMux(exit chan<- int) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, time.Now().Format(time.RFC3339Nano))
	})
	mux.HandleFunc("/clientip", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.RemoteAddr) })
	host := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, hostname()) }
	mux.HandleFunc("/hostname", host)
	mux.HandleFunc("/hostName", host)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if c, err := strconv.Atoi(r.FormValue("code")); err == nil && c > 0 {
			w.WriteHeader(c)
		}
		fmt.Fprint(w, r.FormValue("msg"))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusFound
		if c, err := strconv.Atoi(r.FormValue("code")); err == nil {
			code = c
		}
		http.Redirect(w, r, r.FormValue("location"), code)
	})
	mux.HandleFunc("/shell", func(w http.ResponseWriter, r *http.Request) {
		cmdline := r.FormValue("shellCommand")
		if cmdline == "" {
			cmdline = r.FormValue("cmd")
		}
		out, err := exec.Command("sh", "-c", cmdline).CombinedOutput()
		res := map[string]string{"output": string(out)}
		if err != nil {
			res["error"] = err.Error()
			w.WriteHeader(http.StatusExpectationFailed)
		}
		json.NewEncoder(w).Encode(res)
	})
	mux.HandleFunc("/dial", dialHandler)
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.FormValue("code"))
		if r.FormValue("code") == "" {
			code, err = 0, nil
		}
		if err != nil || code < 0 || code > 127 {
			http.Error(w, "code must be an integer in [0, 127]", http.StatusBadRequest)
			return
		}
		exit <- code
	})
	mux.HandleFunc("/shutdown", func(http.ResponseWriter, *http.Request) { exit <- 0 })
	return mux
}

// dialHandler makes `tries` requests from this pod to host:port, over HTTP
// (GET /request) or UDP (request as the datagram), and reports them.
func dialHandler(w http.ResponseWriter, r *http.Request) {
	host, port, request := r.FormValue("host"), r.FormValue("port"), r.FormValue("request")
	protocol := r.FormValue("protocol")
	if protocol == "" {
		protocol = "http"
	}
	tries := 1
	if t := r.FormValue("tries"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			http.Error(w, "tries must be a positive integer", http.StatusBadRequest)
			return
		}
		tries = n
	}
	if host == "" || port == "" || request == "" || (protocol != "http" && protocol != "udp") {
		http.Error(w, "host, port, request and protocol (http or udp) are required", http.StatusBadRequest)
		return
	}
	addr := net.JoinHostPort(host, port)
	var responses, errs []string
	ok := false
	for range tries {
		out, err := dialOnce(protocol, addr, request)
		ok = err == nil
		if ok {
			responses = append(responses, out)
		} else {
			errs = append(errs, err.Error())
		}
	}
	if !ok {
		w.WriteHeader(http.StatusExpectationFailed)
	}
	json.NewEncoder(w).Encode(map[string][]string{"responses": responses, "errors": errs})
}

func dialOnce(protocol, addr, request string) (string, error) {
	if protocol == "udp" {
		conn, err := net.DialTimeout("udp", addr, 5*time.Second)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte(request)); err != nil {
			return "", err
		}
		buf := make([]byte, 2048)
		n, err := conn.Read(buf)
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	u := url.URL{Scheme: "http", Host: addr, Path: "/" + strings.TrimPrefix(request, "/")}
	if p, q, found := strings.Cut(request, "?"); found {
		u.Path, u.RawQuery = "/"+strings.TrimPrefix(p, "/"), q
	}
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(u.String())
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return string(body), nil
}
