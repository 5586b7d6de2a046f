# modlab: build, load and test Linux kernel modules in real kernels under QEMU.
#
#   make demo    set-up, then every example on every kernel, with a results table
#   make test    set-up, Go checks and unit tests, fuzzing, then the in-VM suite
#   make bench   timings against baselines measured in the same run

GO        ?= go
MODLAB    := bin/modlab
FUZZTIME  ?= 3s
KERNEL    ?= all

.PHONY: all setup build demo test check unit fuzz vmtest bench clean

all: build

setup:
	bash scripts/setup.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(MODLAB) ./cmd/modlab

demo: setup build
	$(MODLAB) test --kernel $(KERNEL) --format table

test: setup build check unit fuzz vmtest

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet -tags modlab_guest ./examples/...

unit:
	$(GO) test -count=1 ./...

fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

vmtest:
	$(MODLAB) test --kernel $(KERNEL) --format ktap

bench: setup build
	$(MODLAB) bench --kernel $(KERNEL)
	@for s in scripts/bench-*.sh; do bash "$$s" $(CURDIR)/$(MODLAB) || exit 1; done

clean:
	rm -rf bin
