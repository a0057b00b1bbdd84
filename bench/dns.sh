#!/bin/sh
# DNS server benchmark: podnet's server against a do-nothing UDP reflector
# (the ceiling of this machine), under the same dnsperf load, alternated so
# that both see the same background load.
#
#   bench/dns.sh                      # 1000 Services in 10 namespaces × 3 endpoints, 8 clients
#   SERVICES=10000 ENDPOINTS=10 bench/dns.sh
#   ROUNDS=5 SECONDS_PER_RUN=10 bench/dns.sh
#
# Prints QPS, mean latency and p99 latency for each, their ratio, and the
# server's peak RSS (VmHWM). Needs dnsperf (Debian package dnsperf). Uses
# only 127.0.0.1.
set -eu
SERVICES=${SERVICES:-1000}
NAMESPACES=${NAMESPACES:-10}
ENDPOINTS=${ENDPOINTS:-3}
CLIENTS=${CLIENTS:-8}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
PODNET_PORT=${PODNET_PORT:-15353}
REFLECT_PORT=${REFLECT_PORT:-15354}

command -v dnsperf >/dev/null || { echo "dns.sh: dnsperf not found (apt-get install dnsperf)" >&2; exit 1; }
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

go build -o "$work/podnet" ./cmd/podnet
go build -o "$work/dnsreflect" ./bench/dnsreflect
go build -o "$work/dnsgen" ./bench/dnsgen
"$work/dnsgen" -dir "$work" -services "$SERVICES" -namespaces "$NAMESPACES" -endpoints "$ENDPOINTS"

"$work/dnsreflect" -listen "127.0.0.1:$REFLECT_PORT" >/dev/null &
reflector=$!
pids="$pids $reflector"
"$work/podnet" dns serve -f "$work/manifests" --listen "127.0.0.1:$PODNET_PORT" >"$work/serve.log" 2>&1 &
server=$!
pids="$pids $server"
# Ready when the last Service answers.
last=$((SERVICES - 1))
i=0
until dig +short +time=1 +tries=1 @127.0.0.1 -p "$PODNET_PORT" "svc$last.ns$((last % NAMESPACES)).svc.cluster.local" 2>/dev/null | grep -q "^[0-9]"; do
	i=$((i + 1)); [ $i -lt 120 ] || { echo "dns.sh: server not ready" >&2; cat "$work/serve.log" >&2; exit 1; }
	sleep 0.5
done
rss_idle=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")

# cpu PID: the process's user+system CPU time in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# run PORT PID: one dnsperf run; prints "qps mean_ms p99_ms cpu_us_per_query".
# The CPU time the server spent per answered query does not depend on what
# else the shared machine runs, unlike QPS.
run() {
	c0=$(cpu "$2")
	dnsperf -v -s 127.0.0.1 -p "$1" -d "$work/queries.txt" -c "$CLIENTS" -l "$SECONDS_PER_RUN" >"$work/out" 2>&1 || true
	c1=$(cpu "$2")
	qps=$(awk '/Queries per second/ {print $4}' "$work/out")
	done=$(awk '/Queries completed/ {print $3}' "$work/out")
	mean=$(awk '/Average Latency/ {printf "%.3f", $4 * 1000}' "$work/out")
	p99=$(awk '/^> / {print $NF}' "$work/out" | sort -g | awk '{v[NR] = $1} END {i = int(NR * 0.99); if (i < 1) i = 1; printf "%.3f", v[i] * 1000}')
	cpq=$(awk -v c="$((c1 - c0))" -v hz="$hz" -v n="$done" 'BEGIN {printf "%.2f", c / hz * 1e6 / n}')
	echo "$qps $mean $p99 $cpq"
}

median() { sort -g "$1" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

printf "%-6s %-10s %10s %9s %9s %12s\n" round server qps mean_ms p99_ms cpu_us/query
r=1
: >"$work/ratios"
: >"$work/cpuratios"
while [ $r -le "$ROUNDS" ]; do
	set -- $(run "$REFLECT_PORT" "$reflector"); rq=$1; rc=$4
	printf "%-6s %-10s %10.0f %9s %9s %12s\n" "$r" reflector "$1" "$2" "$3" "$4"
	set -- $(run "$PODNET_PORT" "$server"); pq=$1; pc=$4
	printf "%-6s %-10s %10.0f %9s %9s %12s\n" "$r" podnet "$1" "$2" "$3" "$4"
	awk -v p="$pq" -v q="$rq" 'BEGIN {printf "%.3f\n", p / q}' >>"$work/ratios"
	awk -v p="$pc" -v q="$rc" 'BEGIN {printf "%.3f\n", q / p}' >>"$work/cpuratios"
	r=$((r + 1))
done
echo "podnet/reflector QPS ratio per round: $(tr '\n' ' ' <"$work/ratios")(median $(median "$work/ratios"))"
echo "reflector/podnet CPU-per-query ratio per round: $(tr '\n' ' ' <"$work/cpuratios")(median $(median "$work/cpuratios"))"
echo "podnet RSS: idle ${rss_idle} kB, peak $(awk '/VmHWM/ {print $2}' "/proc/$server/status") kB ($SERVICES Services × $ENDPOINTS endpoints)"
