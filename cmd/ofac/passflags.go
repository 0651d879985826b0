package main

import (
	"io"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
)

// passFlags are shared by every command that compiles a graph.
type passFlags struct {
	DumpAfter string   `placeholder:"PASS" help:"Print the IR after this pass (passes: ${passes})."`
	Disable   []string `placeholder:"PASS" help:"Skip these passes."`
}

// run applies the pass pipeline to g, dumping to dump when asked.
func (f *passFlags) run(g *ir.Graph, o passes.Options, dump io.Writer) error {
	o.DumpAfter, o.Dump = f.DumpAfter, dump
	o.Disabled = map[string]bool{}
	for _, p := range f.Disable {
		o.Disabled[p] = true
	}
	if err := o.Check(); err != nil {
		return usageError{err}
	}
	return passes.Run(g, &o)
}
