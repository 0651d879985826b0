package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/ofac-dev/ofac/backends"
)

type targetsCmd struct{}

func (targetsCmd) Run(e *env) error {
	ts := backends.Targets()
	if len(ts) == 0 {
		fmt.Fprintln(e.stdout, "no targets registered yet: this build of ofac has no backends")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\tBACKEND\tDESCRIPTION")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, t.Backend, t.Summary)
	}
	return w.Flush()
}
