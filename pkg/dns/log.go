package dns

import (
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// logQuery writes one line per query in the format of CoreDNS's log plugin
// ({common}): remote, id, type, class, name, proto, size, DO, buffer size,
// then rcode, flags, reply size and duration.
func logQuery(w io.Writer, req, reply *mdns.Msg, proto string, remote net.Addr, reqSize, replySize int, d time.Duration) {
	q := req.Question[0]
	do, bufsize := false, 512
	if opt := req.IsEdns0(); opt != nil {
		do, bufsize = opt.Do(), int(opt.UDPSize())
	}
	host, port, err := net.SplitHostPort(remote.String())
	if err != nil {
		host, port = remote.String(), "0"
	}
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{reply.Response, "qr"}, {reply.Authoritative, "aa"}, {reply.Truncated, "tc"}, {reply.RecursionDesired, "rd"}, {reply.RecursionAvailable, "ra"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	fmt.Fprintf(w, "[INFO] %s:%s - %d \"%s %s %s %s %d %t %d\" %s %s %d %.9fs\n",
		host, port, req.Id, typeString(q.Qtype), mdns.ClassToString[q.Qclass], q.Name, proto, reqSize, do, bufsize,
		rcodeLabel(reply.Rcode), strings.Join(flags, ","), replySize, d.Seconds())
}

func typeString(t uint16) string {
	if s, ok := mdns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}
