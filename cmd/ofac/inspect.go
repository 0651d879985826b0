package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
)

type inspectCmd struct {
	Model  string `arg:"" help:"Model file (.ofac) to describe." type:"path"`
	Passes bool   `help:"Describe the model after the compiler's pass pipeline (BN folding, fusion, ...)."`
	passFlags
}

func (c *inspectCmd) Run(e *env) error {
	g, err := ir.ReadModelFile(c.Model)
	if err != nil {
		return err
	}
	compiled := c.Passes || c.DumpAfter != "" || len(c.Disable) > 0
	if compiled {
		if err := c.passFlags.run(g, passes.Options{}, e.stdout); err != nil {
			return err
		}
	}
	if err := printInspect(e.stdout, g); err != nil {
		return err
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
			group(s.MACs), group(s.Params), group(s.ActivationBytes))
	}
	fmt.Fprintf(w, "\ttotal\t\t\t%s\t%s\t%s\t\n", group(tot.MACs), group(tot.Params), group(tot.ActivationBytes))
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ntotals: %s MACs, %s parameters (%s bytes of weights), largest activation %s bytes\n",
		group(tot.MACs), group(tot.Params), group(tot.ParamBytes), group(tot.PeakActivationBytes))
	return nil
}

// group writes n with thousands separators, so large counts read at a glance.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
