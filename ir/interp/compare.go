package interp

import (
	"fmt"
	"math"

	"github.com/ofac-dev/ofac/ir"
)

// LayerError is how far one integer result of a quantized graph is from
// the same result of its float graph, over a set of inputs.
type LayerError struct {
	Name  string
	Op    ir.Op
	Shape ir.Shape
	// SQNR is the signal-to-quantization-noise ratio in dB: the float
	// result's energy over the energy of (dequantized int8 - float). Each
	// 6 dB is about one bit; int8 of a well-spread tensor gives 35-45 dB.
	SQNR float64
	// MaxAbs is the largest |float result| seen, the range the int8 steps
	// have to cover.
	MaxAbs float64
}

// CompareLayers runs the float graph (the pass pipeline without
// quantization) and its quantized twin on the same inputs and measures, for
// every integer node result whose name the float graph also has, how much
// quantization changed it. Errors accumulate from layer to layer, so the
// first layer where SQNR falls is where precision is lost. It answers "which
// layer costs my int8 accuracy", which the end-to-end top-1 cannot.
func CompareLayers(float *Interpreter, quant *Int8, inputs [][]Tensor) ([]LayerError, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("no inputs to compare on")
	}
	floatByName := map[string]*ir.Value{}
	for _, n := range float.g.Nodes {
		floatByName[n.Output.Name] = n.Output
	}
	type pair struct {
		n *ir.Node // the quantized graph's node
		f *ir.Value
	}
	// A graph output's integer result is renamed by quantization; the
	// dequantize node that follows it keeps the float name.
	nameOf := map[*ir.Value]string{}
	for _, n := range quant.g.Nodes {
		if n.Op == ir.OpDequantize {
			nameOf[n.Inputs[0]] = n.Output.Name
		}
	}
	var pairs []pair
	for _, n := range quant.g.Nodes {
		v := n.Output
		if v.Quant == nil || n.Op == ir.OpQuantize || n.Op == ir.OpDequantize {
			continue
		}
		name, ok := nameOf[v]
		if !ok {
			name = v.Name
		}
		if f := floatByName[name]; f != nil && f.Shape.Equal(v.Shape) {
			pairs = append(pairs, pair{n, f})
		}
	}
	signal := make([]float64, len(pairs))
	noise := make([]float64, len(pairs))
	maxAbs := make([]float64, len(pairs))
	for si, in := range inputs {
		fv, err := float.RunAll(in...)
		if err != nil {
			return nil, fmt.Errorf("input %d, float graph: %w", si, err)
		}
		_, qv, err := quant.RunAll(in...)
		if err != nil {
			return nil, fmt.Errorf("input %d, int8 graph: %w", si, err)
		}
		for pi, p := range pairs {
			f, q := fv[p.f].Data, qv[p.n.Output].Data
			t := &p.n.Output.Type
			for i, c := range q {
				s, z := scaleFor(t, i)
				real := float64(s) * (float64(c) - float64(z))
				x := float64(f[i])
				signal[pi] += x * x
				noise[pi] += (real - x) * (real - x)
				maxAbs[pi] = max(maxAbs[pi], math.Abs(x))
			}
		}
	}
	out := make([]LayerError, len(pairs))
	for i, p := range pairs {
		sqnr := math.Inf(1)
		if noise[i] > 0 {
			sqnr = 10 * math.Log10(signal[i]/noise[i])
		}
		out[i] = LayerError{Name: p.f.Name, Op: p.n.Op, Shape: p.f.Shape, SQNR: sqnr, MaxAbs: maxAbs[i]}
	}
	return out, nil
}
