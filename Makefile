# The one entry point for checks: `make test` installs what the tests need and
# runs every check CI runs. .ci/run calls it.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GO_TEST_FLAGS ?= -timeout 20m

.PHONY: test deps lint gotest fuzz-smoke

# Everything CI checks: Go tests, then Bazel (stale BUILD files, bazel test
# //..., and two clean builds of //cmd/ofac compared by sha256).
test: deps lint gotest bazel-test bazel-repro

include tools/bazel/bazel.mk

deps:
	tools/install-deps.sh

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on: $$unformatted (run gofmt -w)"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

gotest:
	go test $(GO_TEST_FLAGS) ./...

# A short run of every fuzz target, beyond the seed corpora that go test runs.
fuzz-smoke:
	go test ./ir/ -run=NONE -fuzz=FuzzParseText -fuzztime=20s
	go test ./ir/ -run=NONE -fuzz=FuzzReadModel -fuzztime=20s
	go test ./supernet/data/ -run=NONE -fuzz=FuzzReadIDX -fuzztime=20s
	go test ./supernet/data/ -run=NONE -fuzz=FuzzReadPGM -fuzztime=20s
	go test ./supernet/ofa/ -run=NONE -fuzz=FuzzParseArch -fuzztime=20s
	go test ./supernet/train/ -run=NONE -fuzz=FuzzDecodeCheckpoint -fuzztime=20s
	go test ./search/ -run=NONE -fuzz=FuzzDecodePredictor -fuzztime=20s
	go test ./search/ -run=NONE -fuzz=FuzzReadRecords -fuzztime=20s
