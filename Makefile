# Superstep — see README.md. Every target works from a fresh clone.
GO          ?= go
BIN         := bin/superstep
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEMO_DIR    ?= $(CURDIR)/.demo

.PHONY: build test test-short check demo bench bench-full bench-bleve bench-observe proto proto-check clean image test-containers test-k8s bench-containers

build:
	$(GO) build -o $(BIN) ./cmd/superstep

# Every test under the race detector with -short (which skips the large and
# multi-process ones), then every test without it, the 200 MB sort, the
# 100 MB spill and the multi-process cluster with a SIGKILLed worker included.
test:
	$(GO) test -race -short -timeout 15m ./...
	$(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short ./...

check: proto-check
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@tmp=$$(mktemp -d); cp go.mod go.sum $$tmp/; $(GO) mod tidy; \
	if ! cmp -s go.mod $$tmp/go.mod || ! cmp -s go.sum $$tmp/go.sum; then \
	  echo "go.mod/go.sum were not tidy (now tidied; commit the change):"; diff $$tmp/go.mod go.mod; rm -rf $$tmp; exit 1; fi; \
	rm -rf $$tmp

# The demo: the flagship. Builds the search index of the bundled SQLite
# documentation on an embedded cluster (coordinator and two gRPC workers in
# one process), prints its statistics and answers a few queries; then a word
# count and a sort.
DEMO_CORPUS := examples/webindex/testdata/sqlite-doc.tar.gz
demo: build
	@rm -rf $(DEMO_DIR); mkdir -p $(DEMO_DIR)
	$(BIN) run webindex --workers 2 --input $(DEMO_CORPUS) --base-url https://sqlite.org/ --out $(DEMO_DIR)/index --progress plain
	$(BIN) index stats --index $(DEMO_DIR)/index
	$(BIN) search --index $(DEMO_DIR)/index --k 3 create table
	$(BIN) search --index $(DEMO_DIR)/index --k 3 '"write-ahead logging"'
	$(BIN) search --index $(DEMO_DIR)/index --k 3 vacuum OR analyze
	@echo "--- serve it with: $(BIN) serve --index $(DEMO_DIR)/index --listen 127.0.0.1:8080"
	$(BIN) run wordcount --input README.md,docs --out $(DEMO_DIR)/wordcount
	@echo "--- the ten most frequent words:"; sort -t'	' -k2,2nr $(DEMO_DIR)/wordcount/part-* | head -10
	$(BIN) run terasort --generate 1000000 --out $(DEMO_DIR)/records
	$(BIN) run terasort --input $(DEMO_DIR)/records --out $(DEMO_DIR)/sorted --memory 32MB
	$(BIN) run terasort --validate $(DEMO_DIR)/sorted

# `go run ./bench`: every workload through the single-thread baseline, the
# in-process executor, the embedded cluster and separate processes; writes
# report.md, results.csv, results.json and SVG plots under bench/out.
bench:
	$(GO) run ./bench --workload wordcount,terasort,shuffle,pagerank,webindex --workers 1,2 --runs 3 --size small --out bench/out

bench-full:
	$(GO) run ./bench --workload wordcount,terasort,shuffle,pagerank,webindex --workers 1,2 --runs 3 --size default --out bench/out-full

# Superstep against Bleve (a separate module: bench/bleve), on the bundled
# corpus or another: make bench-bleve BLEVE_CORPUS=/usr/share/cppreference/doc/html
# BLEVE_BASE_URL=https://en.cppreference.com/ BLEVE_RUNS=3
BLEVE_CORPUS ?= examples/webindex/testdata/sqlite-doc.tar.gz
BLEVE_BASE_URL ?= https://sqlite.org/
BLEVE_RUNS ?= 3
bench-bleve:
	cd bench/bleve && $(GO) run . --corpus $(abspath $(BLEVE_CORPUS)) --base-url $(BLEVE_BASE_URL) --runs $(BLEVE_RUNS)

# What watching a job costs (issue 14): wordcount on an embedded cluster,
# alternately unobserved and with a separate observer process polling the
# dashboard and scraping /metrics once a second, OBSERVE_PAIRS interleaved
# pairs; reports the median paired overhead of wall and CPU time. See
# bench/README.md.
OBSERVE_PAIRS ?= 6
bench-observe:
	$(GO) test -run '^$$' -bench BenchmarkWordcountObserved -benchtime $(OBSERVE_PAIRS)x -timeout 60m ./bench/

# Protobuf code under api/ is generated and checked in. `make proto`
# regenerates it with protoc 3.x (apt-get install protobuf-compiler) and the
# Go generators pinned in api/gen.sh (protoc-gen-go v1.36.12,
# protoc-gen-go-grpc v1.6.2), installed into bin/tools when missing;
# `make proto-check` regenerates into a temporary directory and fails when
# the checked-in code is stale.
proto:
	GO=$(GO) bash api/gen.sh

proto-check:
	@GO=$(GO) bash api/gen.sh --check

# The container image: a static build (CGO_ENABLED=0, -trimpath) of
# cmd/superstep copied FROM scratch (deploy/Dockerfile), tagged
# superstep:$(VERSION) and superstep:dev, and the S3 test server of the
# compose cluster and the container tests, superstep-s3test:dev. Needs only
# the docker CLI (nothing is pulled).
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE_CTX := bin/image
image:
	rm -rf $(IMAGE_CTX); mkdir -p $(IMAGE_CTX)/tmp $(IMAGE_CTX)/s3test
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(IMAGE_CTX)/superstep ./cmd/superstep
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(IMAGE_CTX)/s3test/s3test ./deploy/s3test
	cp /etc/ssl/certs/ca-certificates.crt $(IMAGE_CTX)/
	docker build -q -f deploy/Dockerfile --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	  -t superstep:$(VERSION) -t superstep:dev $(IMAGE_CTX)
	docker build -q -f deploy/s3test/Dockerfile --build-arg VERSION=$(VERSION) -t superstep-s3test:$(VERSION) -t superstep-s3test:dev $(IMAGE_CTX)/s3test
	@docker image inspect superstep:dev --format 'superstep:$(VERSION) superstep:dev {{.Size}} bytes'

# The Kubernetes manifests checked offline against the k8s.io/api types (a
# separate module: deploy/k8scheck) and against the CLI's flags.
test-k8s:
	cd deploy/k8scheck && $(GO) test -count=1 ./...

# Tests in real containers (build tag containers): the compose cluster,
# faults, Swarm. They build the image first and skip only where docker
# info fails.
test-containers: image test-k8s
	SUPERSTEP_IMAGE_BUILT=$(VERSION) $(GO) test -count=1 -tags containers -timeout 12m ./deploy/containertest/...

# The container overhead (bench/README.md): wordcount on 300 MB of generated
# text, the compose cluster (3 workers in containers) against `superstep run
# --workers 3` on this host, interleaved, medians of 3 after a warm-up each.
bench-containers: image
	$(GO) run ./bench/containers --image-tag $(VERSION) --size 300MB --runs 3

clean:
	rm -rf bin $(DEMO_DIR)
