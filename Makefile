# rmqlog: the two commands a new user needs are `make bench` and `make test`.
GO       ?= go
PKGS     := ./...
BENCHTIME ?= 1s
BENCHCOUNT ?= 5
FUZZTIME ?= 10s

.PHONY: test lint vet fmt-check arch-check race chaos bench bench-record bench-failover bench-membership bench-sweep bench-peers bench-broker bench-parts bench-storage bench-replication bench-node fuzz-smoke build peer-test compat-test

## build: the binaries, into bin/ (bin/rmqlog: the node daemon and its admin commands;
## bin/rmqbench: the load generator).
build:
	$(GO) build -o bin/ ./cmd/...

## test: lint, then every test with the race detector (fuzz seed corpora included), then the
## NATS peer module's own test (bench/peers/nats is a separate Go module), then the RocketMQ
## compatibility module's (compat/rocketmq: the official Go client against our bytes).
test: lint race peer-test compat-test

PEER := bench/peers/nats
peer-test:
	cd $(PEER) && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m ./...
	cd bench/peers/rocketmq && $(GO) vet ./... && $(GO) test -count=1 ./...

compat-test:
	cd compat/rocketmq && $(GO) vet ./... && $(GO) test -count=1 ./...

race:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	@# The race detector slows the Raft simulator tenfold, so under it TestSimRandom runs a tenth
	@# of its seeded schedules; here it runs them all without it (TestSimRandom: 7 configurations x
	@# 400 seeds; TestSimDamage: 5 x 300; TestSimFullHouseLiveness).
	$(GO) test -count=1 -run 'TestSim' ./engine/raft/

## lint: gofmt, go vet, and the import rules of docs/architecture.md (scripts/archcheck.sh:
## the leaves, the pure Raft core, and every "never imports" between layers).
lint: fmt-check vet arch-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

arch-check:
	GO=$(GO) scripts/archcheck.sh

## chaos: the fault campaign: every fault class (kill -9, pause, partitions, one-way links, frame
## chaos, power loss, storage damage, disk full, clock) under both flush modes, on real rmqlog
## processes behind a fault proxy; every history checked (lost, duplicates, divergence,
## non-monotonic reads, unknown entries, linearizability). Writes results/reliability.md; about
## 10 minutes here. CHAOS_ARGS adds rmqchaos flags (e.g. --faults kill-leader --rounds 5). `make test`
## runs a short form (internal/chaos TestCampaignShort).
chaos: build
	$(GO) test -count=1 -timeout 30m -run TestHostile ./internal/hostile/ -hostile.long -hostile.report=$(CURDIR)/results/hostile.md
	bin/rmqchaos --include "Bad input against both ports (internal/hostile, long form)=results/hostile.md" $(CHAOS_ARGS)

## bench: the main job: rmqbench with its defaults. A local 3-node group of rmqlog processes on
## 127.0.0.1 with rmqlog's (and RocketMQ's) default config (1 GiB segment files), 1 KiB appends
## from 64 producers for 20 s under SYNC_FLUSH, then under ASYNC_FLUSH; a live line per second, a
## comparison table, and results/local/<date>-default/ (git ignores results/local).
## BENCH_ARGS adds rmqbench flags, e.g. make bench BENCH_ARGS="--rounds 3" (medians of 3 rounds).
bench: build
	bin/rmqbench $(BENCH_ARGS)

## bench-record: the same, 3 rounds, recorded in results/<date>-default/ and results/README.md
## (the committed headline: run it on a quiet machine, from a committed tree).
bench-record: build
	bin/rmqbench --record --rounds 3 $(BENCH_ARGS)

## bench-failover: kill -9 of the leader under load, its restart, and the check that every
## acknowledged append is on every node (results/<date>-failover/).
bench-failover: build
	bin/rmqbench --scenario failover $(BENCH_ARGS)

## bench-membership: under load, replace a follower (a new node joins as a learner, is promoted, the
## follower removed), grow to five, remove the leader, shrink to three; each change's write outage
## against the load's own gaps, and the check that every acknowledged append is on every final
## member (results/<date>-membership/; 60 s per mode).
bench-membership: build
	bin/rmqbench --scenario membership $(BENCH_ARGS)

## bench-sweep: 128 B / 1 KiB / 16 KiB x 1 / 16 / 64 / 256 producers x both modes, 5 s each.
bench-sweep: build
	bin/rmqbench --scenario sweep $(BENCH_ARGS)

## bench-peers: rmqlog and NATS JetStream (R3, file storage; nats-server built from the peer
## module's pinned version) alternately in one run, side by side with ratios (results/<date>-peers/):
## per mode closed 64 / sync publish, pipelined 256 and 1024 / async publish window, open loop,
## failover; 60 s per run, about 26 min (printed at the start). Shorter: BENCH_ARGS="--windows 1024
## --closed=false --open=false --failover=false --duration 20s" (bench/peers/nats/README.md).
bench-peers: build
	cd $(PEER) && $(GO) run . --rmqlog $(CURDIR)/bin/rmqlog --results $(CURDIR)/$(PEERS_RESULTS) $(BENCH_ARGS)

# bench-peers records into results/ only when asked: make bench-peers PEERS_RESULTS=results
PEERS_RESULTS ?= results/local

## bench-broker: the RocketMQ broker (rmqlog namesrv + 3 brokers, 1 GiB segments) driven by the
## official RocketMQ Go client (64 SendSync producers, 1 KiB, a push consumer timing send to
## callback), side by side with the native closed-loop load, both flush modes; a module of its own
## (bench/peers/rocketmq) so the main module has no RocketMQ dependency. Record: BROKER_RESULTS=results
BROKER_RESULTS ?= results/local
bench-broker: build
	cd bench/peers/rocketmq && $(GO) run . --rmqlog $(CURDIR)/bin/rmqlog --results $(CURDIR)/$(BROKER_RESULTS) $(BENCH_ARGS)

## bench-parts: the component benchmarks (testing.B): medians of BENCHCOUNT runs and same-run
## ratios, written to results/storage.md, results/replication.md and results/node.md.
bench-parts: bench-storage bench-replication bench-node

STORAGE_RATIOS := \
	-ratio "ASYNC append vs memcpy, 64 B (MB/s)=Append/size=64B@MB/s:Memcpy/size=64B@MB/s" \
	-ratio "ASYNC append vs memcpy, 1 KiB (MB/s)=Append/size=1KiB@MB/s:Memcpy/size=1KiB@MB/s" \
	-ratio "ASYNC append vs memcpy, 16 KiB (MB/s)=Append/size=16KiB@MB/s:Memcpy/size=16KiB@MB/s" \
	-ratio "ASYNC append vs memcpy, 1 MiB (MB/s)=Append/size=1MiB@MB/s:Memcpy/size=1MiB@MB/s" \
	-ratio "CRC32C vs memcpy, 1 KiB (MB/s; bounds the append)=CRC/size=1KiB@MB/s:Memcpy/size=1KiB@MB/s" \
	-ratio "SYNC_FLUSH pwrite: 64 vs 1 writers (entries/s)=SyncFlush/write=pwrite/writers=64@entries/s:SyncFlush/write=pwrite/writers=1@entries/s" \
	-ratio "SYNC_FLUSH pwrite: 256 vs 1 writers (entries/s)=SyncFlush/write=pwrite/writers=256@entries/s:SyncFlush/write=pwrite/writers=1@entries/s" \
	-ratio "SYNC_FLUSH 1 writer vs raw pwrite+fdatasync (per second)=SyncFlush/write=pwrite/writers=1@entries/s:Fdatasync/overwrite@syncs/s" \
	-ratio "fdatasync: pwrite vs mmap-dirtied pages (syncs/s)=Fdatasync/overwrite@syncs/s:Fdatasync/mmap-fdatasync@syncs/s" \
	-ratio "fdatasync vs msync of mmap-dirtied pages (syncs/s)=Fdatasync/mmap-fdatasync@syncs/s:Fdatasync/msync@syncs/s" \
	-ratio "random read vs two dependent mapped loads, 1 Mi entries (ns/op)=Read/entries=1M/pattern=random@ns/op:RandomLoads/entries=1M@ns/op" \
	-ratio "sequential read, 1 Mi vs 1 Ki entries (ns/op)=Read/entries=1M/pattern=sequential@ns/op:Read/entries=1K/pattern=sequential@ns/op" \
	-ratio "recovery: restart (last MiB scanned) vs full scan of 200 MiB (ns/op)=Recover/segment=64MiB/scan=tail@ns/op:Recover/segment=64MiB/scan=all@ns/op"

bench-storage:
	mkdir -p results
	$(GO) test -run '^$$' -bench . -benchmem -short -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./segment/ | tee results/storage-bench.txt
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x -count $(BENCHCOUNT) ./flush/ | tee -a results/storage-bench.txt
	$(GO) run ./internal/benchsum -title "Storage benchmarks (segment, flush)" \
		-cmd "make bench-storage  (= go test -bench . -short -count $(BENCHCOUNT) ./segment/ and -benchtime 2000x ./flush/)" \
		$(STORAGE_RATIOS) < results/storage-bench.txt > results/storage.md
	@cat results/storage.md

CLUSTER_N ?= 200000x
REPLICATION_RATIOS := \
	-ratio "SYNC_FLUSH: 3-node group vs 1 node on the same disk (entries/s)=Cluster/nodes=3/mode=SYNC_FLUSH/appenders=64/size=1KiB@entries/s:Cluster/nodes=1/mode=SYNC_FLUSH/appenders=64/size=1KiB@entries/s" \
	-ratio "ASYNC_FLUSH: 3-node group vs 1 node (entries/s)=Cluster/nodes=3/mode=ASYNC_FLUSH/appenders=64/size=1KiB@entries/s:Cluster/nodes=1/mode=ASYNC_FLUSH/appenders=64/size=1KiB@entries/s" \
	-ratio "SYNC_FLUSH: 3-node vs 1-node p50 commit latency=Cluster/nodes=3/mode=SYNC_FLUSH/appenders=64/size=1KiB@p50-us:Cluster/nodes=1/mode=SYNC_FLUSH/appenders=64/size=1KiB@p50-us" \
	-ratio "SYNC_FLUSH: 3-node vs 1-node CPU per entry=Cluster/nodes=3/mode=SYNC_FLUSH/appenders=64/size=1KiB@cpu-us/entry:Cluster/nodes=1/mode=SYNC_FLUSH/appenders=64/size=1KiB@cpu-us/entry" \
	-ratio "ASYNC_FLUSH: 3-node vs 1-node CPU per entry=Cluster/nodes=3/mode=ASYNC_FLUSH/appenders=64/size=1KiB@cpu-us/entry:Cluster/nodes=1/mode=ASYNC_FLUSH/appenders=64/size=1KiB@cpu-us/entry" \
	-ratio "SYNC_FLUSH: 3-node group vs each of 3 independent 1-node logs sharing the disk (entries/s)=Cluster/nodes=3/mode=SYNC_FLUSH/appenders=64/size=1KiB@entries/s:Independent/groups=3/mode=SYNC_FLUSH/appenders=64/size=1KiB@entries/s" \
	-ratio "ASYNC_FLUSH: 3-node group vs each of 3 independent 1-node logs (entries/s)=Cluster/nodes=3/mode=ASYNC_FLUSH/appenders=64/size=1KiB@entries/s:Independent/groups=3/mode=ASYNC_FLUSH/appenders=64/size=1KiB@entries/s" \
	-ratio "ASYNC_FLUSH 3-node MB/s vs one TCP link's writev throughput (MB/s)=Cluster/nodes=3/mode=ASYNC_FLUSH/appenders=64/size=1KiB@MB/s:Send/64x1KiB@MB/s"

## bench-replication: in-process groups on loopback (engine BenchmarkCluster, BenchmarkFailover)
## and the transport's send path, written to results/replication.md.
bench-replication:
	mkdir -p results
	$(GO) test -run '^$$' -bench 'Cluster|Independent' -benchtime $(CLUSTER_N) -count $(BENCHCOUNT) ./engine/ | tee results/replication-bench.txt
	$(GO) test -run '^$$' -bench 'Failover' -benchtime 5x -count 1 ./engine/ | tee -a results/replication-bench.txt
	$(GO) test -run '^$$' -bench 'Send' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./replication/ | tee -a results/replication-bench.txt
	$(GO) run ./internal/benchsum -title "Replication benchmarks (engine, replication)" \
		-cmd "make bench-replication  (= go test -bench 'Cluster|Independent' -benchtime $(CLUSTER_N) -count $(BENCHCOUNT) ./engine/; -bench Failover -benchtime 5x ./engine/; -bench Send -count $(BENCHCOUNT) ./replication/)" \
		$(REPLICATION_RATIOS) < results/replication-bench.txt > results/replication.md
	@cat results/replication.md

NODE_N ?= 50000x
G := Group/mode=
NODE_RATIOS := \
	-ratio "SYNC_FLUSH: 1 producer pipelining 256 vs 64 closed-loop producers (entries/s)=$(G)SYNC_FLUSH/pipelined=256/size=1KiB@entries/s:$(G)SYNC_FLUSH/producers=64/size=1KiB@entries/s" \
	-ratio "ASYNC_FLUSH: 1 producer pipelining 256 vs 64 closed-loop producers (entries/s)=$(G)ASYNC_FLUSH/pipelined=256/size=1KiB@entries/s:$(G)ASYNC_FLUSH/producers=64/size=1KiB@entries/s" \
	-ratio "pipelined 256: SYNC_FLUSH vs ASYNC_FLUSH (entries/s)=$(G)SYNC_FLUSH/pipelined=256/size=1KiB@entries/s:$(G)ASYNC_FLUSH/pipelined=256/size=1KiB@entries/s" \
	-ratio "64 producers: SYNC_FLUSH vs ASYNC_FLUSH p50 latency=$(G)SYNC_FLUSH/producers=64/size=1KiB@p50-us:$(G)ASYNC_FLUSH/producers=64/size=1KiB@p50-us" \
	-ratio "node CPU per entry: pipelined vs 64 producers, ASYNC_FLUSH=$(G)ASYNC_FLUSH/pipelined=256/size=1KiB@node-cpu-us/entry:$(G)ASYNC_FLUSH/producers=64/size=1KiB@node-cpu-us/entry"

## bench-node: three real rmqlog processes (from conf/) driven through package client over the
## client port (cmd/rmqlog BenchmarkGroup), written to results/node.md.
bench-node:
	mkdir -p results
	$(GO) test -run '^$$' -bench Group -benchtime $(NODE_N) -count $(BENCHCOUNT) ./cmd/rmqlog/ | tee results/node-bench.txt
	$(GO) run ./internal/benchsum -title "A three-process group through the client (cmd/rmqlog BenchmarkGroup)" \
		-cmd "make bench-node  (= go test -bench Group -benchtime $(NODE_N) -count $(BENCHCOUNT) ./cmd/rmqlog/)" \
		$(NODE_RATIOS) < results/node-bench.txt > results/node.md
	@cat results/node.md

## fuzz-smoke: run every fuzz target for FUZZTIME each (the seed corpora already run in `make test`).
fuzz-smoke:
	@for pkg in ./record ./segment ./replication/wire ./client/proto ./config; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
