package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ofac-dev/ofac/internal/humanize"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
)

type inspectCmd struct {
	Model  string `arg:"" help:"Model file (.ofac) to describe." type:"path"`
	Passes bool   `help:"Describe the model after the compiler's pass pipeline (BN folding, fusion, ...) with its memory plan."`
	Int8   bool   `name:"int8" help:"With --passes: quantize to int8 (calibrated on --calib training images) and list the quantization parameters."`
	Calib  int    `default:"512" help:"Training images that calibrate int8 activation ranges."`
	Data   string `placeholder:"DIR" default:"${default_data}" help:"Folder with the Fashion-MNIST files (for --int8 calibration)."`
	passFlags
}

func (c *inspectCmd) Run(e *env) error {
	g, err := ir.ReadModelFile(c.Model)
	if err != nil {
		return err
	}
	if c.Int8 && !c.Passes {
		return usageError{fmt.Errorf("--int8 needs --passes")}
	}
	compiled := c.Passes || c.DumpAfter != "" || len(c.Disable) > 0
	if compiled {
		opts := passes.Options{Int8: c.Int8}
		if c.Int8 {
			if opts.Calibration, err = calibrationSamples(g, c.Data, c.Calib); err != nil {
				return err
			}
		}
		if err := c.passFlags.run(g, opts, e.stdout); err != nil {
			return err
		}
	}
	if err := printInspect(e.stdout, g); err != nil {
		return err
	}
	if c.Int8 {
		printQuant(e.stdout, g)
	}
	if !compiled {
		return nil
	}
	plan, err := passes.PlanMemory(g, passes.PlanOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\nmemory plan:")
	return plan.WriteTable(e.stdout)
}

func printInspect(out io.Writer, g *ir.Graph) error {
	per, tot := ir.Stats(g)
	fmt.Fprintf(out, "model %s: %d inputs, %d nodes, %d constants\n", g.Name, len(g.Inputs), len(g.Nodes), len(g.Consts))
	for _, in := range g.Inputs {
		fmt.Fprintf(out, "input  %s : %s%s\n", in.Ref(), in.DType, in.Shape)
	}
	for _, o := range g.Outputs {
		fmt.Fprintf(out, "output %s : %s%s\n", o.Ref(), o.DType, o.Shape)
	}
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "#\tnode\top\toutput\tMACs\tparams\tact bytes\t")
	for i, s := range per {
		n := s.Node
		op := n.Op.String()
		if n.Op == ir.OpConv2D {
			op = fmt.Sprintf("conv%dx%d", n.Attrs.Kernel[0], n.Attrs.Kernel[1])
			if n.Attrs.Groups > 1 && n.Attrs.Groups == n.Inputs[0].Shape[1] {
				op = "dw" + op
			}
			if n.Attrs.Stride > 1 {
				op += fmt.Sprintf("/s%d", n.Attrs.Stride)
			}
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s%s\t%s\t%s\t%s\t\n", i, n.Name(), op, n.Output.DType, n.Output.Shape,
			humanize.Count(s.MACs), humanize.Count(s.Params), humanize.Count(s.ActivationBytes))
	}
	fmt.Fprintf(w, "\ttotal\t\t\t%s\t%s\t%s\t\n", humanize.Count(tot.MACs), humanize.Count(tot.Params), humanize.Count(tot.ActivationBytes))
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ntotals: %s MACs, %s parameters (%s bytes of weights), largest activation %s bytes\n",
		humanize.Count(tot.MACs), humanize.Count(tot.Params), humanize.Count(tot.ParamBytes), humanize.Count(tot.PeakActivationBytes))
	return nil
}

// printQuant lists every integer value's quantization: per-tensor scale and
// zero point, or the range of per-channel scales.
func printQuant(out io.Writer, g *ir.Graph) {
	fmt.Fprintln(out, "\nquantization (real = scale x (q - zero point)):")
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "value\ttype\tscale\tzero point")
	list := append(append([]*ir.Value(nil), g.Inputs...), g.Consts...)
	for _, n := range g.Nodes {
		list = append(list, n.Output)
	}
	for _, v := range list {
		q := v.Quant
		if q == nil {
			continue
		}
		if q.PerTensor() {
			fmt.Fprintf(w, "%s\t%s%s\t%.6g\t%d\n", v.Ref(), v.DType, v.Shape, q.Scale[0], q.ZeroPoint[0])
			continue
		}
		lo, hi := q.Scale[0], q.Scale[0]
		for _, s := range q.Scale {
			lo, hi = min(lo, s), max(hi, s)
		}
		fmt.Fprintf(w, "%s\t%s%s\t%.4g..%.4g (%d channels, axis %d)\t0\n", v.Ref(), v.DType, v.Shape, lo, hi, len(q.Scale), q.Axis)
	}
	w.Flush()
}
