// Package wget is a busybox-compatible wget for podnet's busybox image.
//
// Debian's busybox 1.35 wget crashes on -T (and its static build has no
// --timeout), while the tutorials podnet follows use `wget --spider
// --timeout=1 svc` and `wget -qO- -T 2 svc` against the real busybox image.
// This implements the options and messages of busybox wget (1.36) that those
// walkthroughs see: -q, -O, --spider, -T/--timeout, -S, -U, --header, and the
// "bad address", "can't connect" and "download timed out" errors.
package wget

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	quiet, spider, showHeaders bool
	output                     string
	timeout                    time.Duration
	userAgent                  string
	headers                    []string
	urls                       []string
}

func parse(args []string) (options, error) {
	o := options{timeout: 900 * time.Second, userAgent: "Wget"}
	value := func(i *int, flag string) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("option requires an argument -- '%s'", strings.TrimLeft(flag, "-"))
		}
		*i++
		return args[*i], nil
	}
	setTimeout := func(v string) error {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid number '%s'", v)
		}
		o.timeout = time.Duration(n * float64(time.Second))
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--spider":
			o.spider = true
		case a == "--quiet":
			o.quiet = true
		case strings.HasPrefix(a, "--timeout="):
			if err := setTimeout(strings.TrimPrefix(a, "--timeout=")); err != nil {
				return o, err
			}
		case a == "--timeout":
			v, err := value(&i, a)
			if err != nil {
				return o, err
			}
			if err := setTimeout(v); err != nil {
				return o, err
			}
		case strings.HasPrefix(a, "--output-document="):
			o.output = strings.TrimPrefix(a, "--output-document=")
		case a == "--header":
			v, err := value(&i, a)
			if err != nil {
				return o, err
			}
			o.headers = append(o.headers, v)
		case strings.HasPrefix(a, "--user-agent="):
			o.userAgent = strings.TrimPrefix(a, "--user-agent=")
		case strings.HasPrefix(a, "--"):
			// Accepted and ignored, as busybox does for compatibility flags.
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				switch c := a[j]; c {
				case 'q':
					o.quiet = true
				case 'S':
					o.showHeaders = true
				case 'c':
				case 'O', 'T', 'U', 'P', 'Y', 'o':
					v := a[j+1:]
					if v == "" {
						var err error
						if v, err = value(&i, "-"+string(c)); err != nil {
							return o, err
						}
					}
					switch c {
					case 'O':
						o.output = v
					case 'T':
						if err := setTimeout(v); err != nil {
							return o, err
						}
					case 'U':
						o.userAgent = v
					}
					j = len(a)
				default:
					return o, fmt.Errorf("invalid option -- '%c'", c)
				}
			}
		default:
			o.urls = append(o.urls, a)
		}
	}
	if len(o.urls) == 0 {
		return o, errors.New("missing URL")
	}
	return o, nil
}

// Main runs wget with args (without the program name) and returns the exit
// code, writing to stdout and stderr as busybox does.
func Main(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "wget: %v\nBusyBox wget: usage: wget [-cqS] [--spider] [-O FILE] [-T SEC] [-U AGENT] [--header STR] URL...\n", err)
		return 1
	}
	for _, u := range o.urls {
		if code := fetch(o, u, stdout, stderr); code != 0 {
			return code
		}
	}
	return 0
}

func fetch(o options, raw string, stdout, stderr io.Writer) int {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		fmt.Fprintf(stderr, "wget: bad address '%s'\n", raw)
		return 1
	}
	if u.Scheme != "http" {
		fmt.Fprintf(stderr, "wget: not an http or ftp url: %s\n", raw)
		return 1
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "wget: download timed out")
		} else {
			fmt.Fprintf(stderr, "wget: bad address '%s'\n", host)
		}
		return 1
	}
	target := net.JoinHostPort(addrs[0], port)
	if !o.quiet {
		fmt.Fprintf(stderr, "Connecting to %s (%s)\n", u.Host, target)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			fmt.Fprintln(stderr, "wget: download timed out")
		case errors.Is(err, syscall.ECONNREFUSED):
			fmt.Fprintf(stderr, "wget: can't connect to remote host (%s): Connection refused\n", addrs[0])
		case errors.Is(err, syscall.EHOSTUNREACH):
			fmt.Fprintf(stderr, "wget: can't connect to remote host (%s): Host is unreachable\n", addrs[0])
		case errors.Is(err, syscall.ENETUNREACH):
			fmt.Fprintf(stderr, "wget: can't connect to remote host (%s): Network is unreachable\n", addrs[0])
		default:
			fmt.Fprintf(stderr, "wget: can't connect to remote host (%s): %v\n", addrs[0], err)
		}
		return 1
	}
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }, DisableKeepAlives: true}
	method := http.MethodGet
	if o.spider {
		method = http.MethodHead
	}
	req, _ := http.NewRequestWithContext(ctx, method, u.String(), nil)
	req.Header.Set("User-Agent", o.userAgent)
	for _, h := range o.headers {
		if k, v, ok := strings.Cut(h, ":"); ok {
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "wget: download timed out")
		} else {
			fmt.Fprintf(stderr, "wget: error getting response: %v\n", err)
		}
		return 1
	}
	defer resp.Body.Close()
	if o.showHeaders {
		fmt.Fprintf(stderr, "  %s %s\n", resp.Proto, resp.Status)
		for k, vs := range resp.Header {
			for _, v := range vs {
				fmt.Fprintf(stderr, "  %s: %s\n", k, v)
			}
		}
	}
	if resp.StatusCode >= 400 {
		fmt.Fprintf(stderr, "wget: server returned error: %s %s\n", resp.Proto, resp.Status)
		return 1
	}
	if o.spider {
		if !o.quiet {
			fmt.Fprintln(stderr, "remote file exists")
		}
		return 0
	}
	name := o.output
	if name == "" {
		name = path.Base(u.Path)
		if name == "/" || name == "." || name == "" {
			name = "index.html"
		}
	}
	var w io.Writer
	if name == "-" {
		w = stdout
		if !o.quiet {
			fmt.Fprintln(stderr, "writing to stdout")
		}
	} else {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			if os.IsExist(err) {
				fmt.Fprintf(stderr, "wget: can't open '%s': File exists\n", name)
			} else {
				fmt.Fprintf(stderr, "wget: can't open '%s': %v\n", name, err)
			}
			return 1
		}
		defer f.Close()
		w = f
		if !o.quiet {
			fmt.Fprintf(stderr, "saving to '%s'\n", name)
		}
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "wget: download timed out")
		} else {
			fmt.Fprintf(stderr, "wget: error reading response: %v\n", err)
		}
		return 1
	}
	if !o.quiet {
		if name == "-" {
			fmt.Fprintln(stderr, "written to stdout")
		} else {
			fmt.Fprintf(stderr, "%-20s 100%% |********************************| %5d  0:00:00 ETA\n'%s' saved\n", name, n, name)
		}
	}
	return 0
}
