# recoverybot — make test runs the whole suite (installing Dovecot and
# pdftoppm and Chromium when missing and run as root); make check runs the
# linters.

GO ?= go
FUZZTIME ?= 10m
# make test fuzzes every target briefly (a number of executions: see
# scripts/fuzz.sh); make fuzz for FUZZTIME each.
TEST_FUZZTIME ?= 50000x
PKG := ./...

.PHONY: all build test check fuzz bench deps clean

all: build

# -buildvcs=true stamps the commit and its date into the binary, which
# `recoverybot version` prints, whatever GOFLAGS says.
build:
	$(GO) build -buildvcs=true -o recoverybot ./cmd/recoverybot

deps:
	@scripts/test-deps.sh

test: deps
	$(GO) vet $(PKG)
	$(GO) test -race -count=1 -timeout 25m $(PKG)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKG)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKG)

fuzz:
	@GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

bench:
	@scripts/test-deps.sh --bench
	$(GO) run ./cmd/recoverybench

clean:
	rm -f recoverybot
