"""go_srcs: the source files of Go targets, as a plain file set.

Bazel globs stop at package boundaries and source files are private to their
package, so a root-level filegroup cannot list every .go file of the project.
Instead //:go_sources depends on every go_library / go_binary (the list is
generated into go_sources.bzl by tools/bazel/gazelle.sh; the root BUILD file's
`gazelle:go_visibility //:__pkg__` makes them all visible to //) and this rule
returns their original source files, e.g. as data for a test that reads the
source tree.
"""

load("@io_bazel_rules_go//go:def.bzl", "GoSource")

def _go_srcs_impl(ctx):
    files = []
    for dep in ctx.attr.deps:
        files.extend(dep[GoSource].orig_srcs)
    return [DefaultInfo(files = depset(files))]

go_srcs = rule(
    implementation = _go_srcs_impl,
    attrs = {
        "deps": attr.label_list(providers = [GoSource]),
    },
    doc = "Collects the original source files of go_library/go_binary targets.",
)
