package passes

import (
	"fmt"
	"io"
	"strings"

	"github.com/ofac-dev/ofac/ir"
)

// Options carry what passes need beyond the graph.
type Options struct {
	// Int8 turns on post-training quantization.
	Int8 bool
	// Calibration holds sample inputs (one tensor per graph input per
	// sample, real values, NCHW) for int8 calibration.
	Calibration [][]Sample
	// Percentile, when in (0, 100), clips activation ranges to that
	// percentile of calibration values instead of min/max.
	Percentile float64
	// Disabled names passes to skip.
	Disabled map[string]bool
	// DumpAfter names a pass after which the IR is printed to Dump.
	DumpAfter string
	Dump      io.Writer
}

// Sample is one calibration input tensor.
type Sample struct {
	Shape ir.Shape
	Data  []float32
}

// Pass is one step of the pipeline: a plain function of the graph.
type Pass struct {
	Name string
	// Fn rewrites g in place.
	Fn func(g *ir.Graph, o *Options) error
	// Int8Only passes run only when quantizing.
	Int8Only bool
	Doc      string
}

// Pipeline is the ordered table of passes, readable top to bottom: generic
// clean-ups first, then folding and fusion, then quantization and the
// clean-up it needs.
var Pipeline = []Pass{
	{Name: "dce", Fn: DeadValues, Doc: "remove nodes and constants no output depends on"},
	{Name: "constfold", Fn: FoldConstants, Doc: "evaluate nodes whose inputs are all constants"},
	{Name: "foldbn", Fn: FoldBatchNorm, Doc: "fold inference batch norm into the preceding conv2d"},
	{Name: "fuseact", Fn: FuseActivations, Doc: "fuse relu, relu6, h-swish, h-sigmoid, sigmoid into conv2d, dense and add"},
	{Name: "fuseadd", Fn: FuseResidualAdd, Doc: "mark residual adds that follow a projection conv for in-place accumulation"},
	{Name: "quantize", Fn: Quantize, Int8Only: true, Doc: "calibrate and quantize to int8: per-channel weights, per-tensor activations, lookup-table h-swish/h-sigmoid"},
	{Name: "dce.post", Fn: DeadValues, Doc: "remove what folding left behind"},
}

// PassNames lists the pipeline's pass names, for --help and errors.
func PassNames() []string {
	names := make([]string, len(Pipeline))
	for i, p := range Pipeline {
		names[i] = p.Name
	}
	return names
}

// Check rejects --disable and --dump-after names that are not passes.
func (o *Options) Check() error {
	known := map[string]bool{}
	for _, p := range Pipeline {
		known[p.Name] = true
	}
	for name := range o.Disabled {
		if !known[name] {
			return fmt.Errorf("--disable: no pass %q (passes: %s)", name, strings.Join(PassNames(), ", "))
		}
	}
	if o.DumpAfter != "" && !known[o.DumpAfter] {
		return fmt.Errorf("--dump-after: no pass %q (passes: %s)", o.DumpAfter, strings.Join(PassNames(), ", "))
	}
	return nil
}

// Run applies the pipeline to g, verifying after every pass so a broken
// rewrite is caught where it happens.
func Run(g *ir.Graph, o *Options) error {
	if o == nil {
		o = &Options{}
	}
	if err := o.Check(); err != nil {
		return err
	}
	for _, p := range Pipeline {
		if o.Disabled[p.Name] || (p.Int8Only && !o.Int8) {
			continue
		}
		if err := p.Fn(g, o); err != nil {
			return fmt.Errorf("pass %s: %w", p.Name, err)
		}
		if err := ir.Verify(g); err != nil {
			return fmt.Errorf("pass %s left an invalid graph: %w", p.Name, err)
		}
		if p.Name == o.DumpAfter && o.Dump != nil {
			fmt.Fprintf(o.Dump, "# after %s\n%s", p.Name, ir.Print(g))
		}
	}
	return nil
}
