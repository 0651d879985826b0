# Bazel targets for the top-level Makefile: `include tools/bazel/bazel.mk`.
#   make bazel-setup   install/prepare Bazel, rules_go (patched), gazelle, deps
#   make gazelle       regenerate BUILD files after adding packages/files/imports
#   make bazel-test    setup + stale BUILD check + bazel test //...
#   make bazel-repro   two clean builds of //cmd/ofac must be bit-identical
BAZEL ?= bazel
BAZEL_TOOLS := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: bazel-setup gazelle bazel-check-build-files bazel-test bazel-repro

bazel-setup:
	$(BAZEL_TOOLS)/setup.sh

gazelle: bazel-setup
	$(BAZEL_TOOLS)/gazelle.sh

bazel-check-build-files: bazel-setup
	$(BAZEL_TOOLS)/check-build-files.sh

bazel-test: bazel-check-build-files
	$(BAZEL) test //...

bazel-repro: bazel-check-build-files
	$(BAZEL_TOOLS)/repro-check.sh
