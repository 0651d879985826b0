#!/bin/sh
# Stand-in for @remote_coverage_tools (see BUILD.stub): coverage is not available
# in the offline Bazel set-up; use `go test -cover` instead.
echo "remote_coverage_tools stand-in: bazel coverage is not supported offline; use go test -cover" >&2
exit 1
