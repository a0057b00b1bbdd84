# podnet: `make run` brings up the example lab, `make test` runs every test.
PREFIX ?= /usr/local
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all deps build install run test unit fuzz bench bench-lab down clean

all: build

deps:
	./scripts/deps.sh

build:
	$(GO) build -o bin/podnet ./cmd/podnet

install: build
	install -m 0755 bin/podnet $(PREFIX)/bin/podnet

run: deps install
	PODNET=$(PREFIX)/bin/podnet ./scripts/demo.sh

# Every test, unit and root integration (the latter skip when not root).
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...
	$(MAKE) fuzz

# Short fuzz runs: the DNS query path and the Corefile parser. Budgets are
# execution counts, not durations: Go 1.26's fuzz coordinator can report
# "context deadline exceeded" when a -fuzztime duration ends on a loaded
# machine (golang/go#75804, fixed in Go 1.27); a count has no deadline.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzHandle$$' -fuzztime 30000x ./pkg/dns
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30000x ./pkg/dns/corefile

unit:
	$(GO) test -count=1 -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The lab's end-to-end figures (root): up, 100 pods/20 Services, Service latency.
bench-lab: build
	$(GO) build -o bin/labbench ./bench/labbench
	bin/labbench up
	bin/labbench scale
	bin/labbench -runs 50 svc

down:
	$(PREFIX)/bin/podnet down

clean:
	rm -rf bin
