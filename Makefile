# modlab: build, load and test Linux kernel modules in real kernels under QEMU.
#
#   make demo    set-up, then every example on every kernel, with a results table
#   make test    set-up, Go checks, the debug kernel (built once, about 15
#                minutes; then cached), unit tests (with the lab's own in-VM
#                tests on it), fuzzing, then the in-VM suite on every kernel
#   make bench   timings against baselines measured in the same run
#   make debug-kernel   build and register the lab's debug kernel only

GO        ?= go
MODLAB    := bin/modlab
FUZZTIME  ?= 3s
KERNEL    ?= all

.PHONY: all setup build demo test check unit fuzz debug-kernel vmtest bench clean

all: build

setup:
	bash scripts/setup.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(MODLAB) ./cmd/modlab

demo: setup build
	$(MODLAB) test --kernel $(KERNEL) --format table

test: setup build check debug-kernel unit fuzz vmtest

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet -tags modlab_guest ./examples/...

unit:
	$(GO) test -count=1 ./...

fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

# Does nothing (and says so) when the kernel is built and registered already.
debug-kernel: build
	$(MODLAB) kernels build-debug

vmtest:
	$(MODLAB) test --kernel $(KERNEL) --format ktap

bench: setup build
	$(MODLAB) bench --kernel $(KERNEL)
	@for s in scripts/bench-*.sh; do bash "$$s" $(CURDIR)/$(MODLAB) || exit 1; done

clean:
	rm -rf bin
