# rmqlog: the two commands a new user needs are `make bench` and `make test`.
GO       ?= go
PKGS     := ./...
# Leaf packages must not import any other package of this module.
LEAVES   := ./segment ./flush
MODULE   := github.com/rmqlog/rmqlog
BENCHTIME ?= 1s
BENCHCOUNT ?= 5
FUZZTIME ?= 10s

.PHONY: test lint vet fmt-check leaf-check race bench bench-storage fuzz-smoke

## test: lint, then every test with the race detector (fuzz seed corpora included).
test: lint race

race:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

## lint: gofmt, go vet, and the leaf-package import rule.
lint: fmt-check vet leaf-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

leaf-check:
	@bad=$$($(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' $(LEAVES) | awk -v m="$(MODULE)/" '{for(i=2;i<=NF;i++) if (index($$i,m)==1) print $$1" imports "$$i}'); \
	if [ -n "$$bad" ]; then echo "leaf packages must not import project packages:"; echo "$$bad"; exit 1; fi; \
	echo "leaf-check: ok"

## bench: until the cluster exists, the storage benchmarks (segment, flush), medians over BENCHCOUNT runs.
bench: bench-storage

bench-storage:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./segment/ ./flush/ | tee bench.out
	$(GO) run ./internal/benchsum < bench.out

## fuzz-smoke: run every fuzz target for FUZZTIME each (the seed corpora already run in `make test`).
fuzz-smoke:
	@for pkg in ./segment; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
