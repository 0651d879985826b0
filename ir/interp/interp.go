package interp

import (
	"fmt"
	"math"

	"github.com/ofac-dev/ofac/ir"
)

// Tensor is a dense row-major tensor. For integer graph inputs and outputs,
// Data holds the integer codes; everywhere else it holds real values.
type Tensor struct {
	Shape ir.Shape
	Data  []float32
}

// Interpreter runs one verified graph. It is safe for concurrent use: Run
// keeps all per-run state on its own stack.
type Interpreter struct {
	g      *ir.Graph
	consts map[*ir.Value][]float32 // real values of every constant
	// lastUse[i] lists the values whose final reader is node i, so their
	// buffers can be dropped early and memory stays flat on deep graphs.
	lastUse [][]*ir.Value
	// unrounded holds the integer node results that keep their real values
	// (LeaveUnrounded).
	unrounded map[*ir.Value]bool
}

// New prepares g for execution; it fails if the graph is invalid or a
// constant has no data.
func New(g *ir.Graph) (*Interpreter, error) {
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	it := &Interpreter{g: g, consts: map[*ir.Value][]float32{}}
	for _, c := range g.Consts {
		if c.Data == nil {
			return nil, fmt.Errorf("constant %s has no data", c.Ref())
		}
		it.consts[c] = realValues(c)
	}
	last := map[*ir.Value]int{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			last[in] = i
		}
	}
	for _, out := range g.Outputs {
		delete(last, out)
	}
	it.lastUse = make([][]*ir.Value, len(g.Nodes))
	for _, n := range g.Nodes { // graph order keeps this deterministic
		for _, in := range n.Inputs {
			if i, ok := last[in]; ok && in.Kind == ir.NodeValue {
				it.lastUse[i] = append(it.lastUse[i], in)
				delete(last, in)
			}
		}
	}
	return it, nil
}

// Graph returns the graph being interpreted.
func (it *Interpreter) Graph() *ir.Graph { return it.g }

// LeaveUnrounded makes later runs keep the real values of the given integer
// node results instead of rounding them onto their quantization grid, as if
// those tensors had unlimited precision; everything else is fake-quantized
// as before. It is for sensitivity studies: which tensor's rounding costs a
// quantized graph its accuracy. Call it before Run, not during one.
func (it *Interpreter) LeaveUnrounded(vs ...*ir.Value) {
	if it.unrounded == nil {
		it.unrounded = map[*ir.Value]bool{}
	}
	for _, v := range vs {
		it.unrounded[v] = true
	}
}

// Run executes the graph on one tensor per graph input, in order, and
// returns one tensor per graph output.
func (it *Interpreter) Run(inputs ...Tensor) ([]Tensor, error) {
	vals, err := it.run(inputs, false, nil)
	if err != nil {
		return nil, err
	}
	outs := make([]Tensor, len(it.g.Outputs))
	for i, o := range it.g.Outputs {
		outs[i] = boundary(o, vals[o])
	}
	return outs, nil
}

// RunAll is Run that also returns every node's result (real values), for
// tests that compare intermediate tensors.
func (it *Interpreter) RunAll(inputs ...Tensor) (map[*ir.Value]Tensor, error) {
	vals, err := it.run(inputs, true, nil)
	if err != nil {
		return nil, err
	}
	all := make(map[*ir.Value]Tensor, len(vals))
	for v, d := range vals {
		all[v] = Tensor{Shape: v.Shape, Data: d}
	}
	return all, nil
}

// RoundingErrors runs the graph and returns, for every integer node result,
// what rounding onto its grid added to each element: the rounded value minus
// the value the node computed from its (rounded) inputs. The quantizer's bias
// correction averages them.
func (it *Interpreter) RoundingErrors(inputs ...Tensor) (map[*ir.Value]Tensor, error) {
	errs := map[*ir.Value][]float32{}
	if _, err := it.run(inputs, false, errs); err != nil {
		return nil, err
	}
	out := make(map[*ir.Value]Tensor, len(errs))
	for v, d := range errs {
		out[v] = Tensor{Shape: v.Shape, Data: d}
	}
	return out, nil
}

// run executes the graph; with keepAll it returns every value, and with a
// non-nil errs it records the rounding error of every integer node result.
func (it *Interpreter) run(inputs []Tensor, keepAll bool, errs map[*ir.Value][]float32) (map[*ir.Value][]float32, error) {
	g := it.g
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("graph %s takes %d inputs, got %d", g.Name, len(g.Inputs), len(inputs))
	}
	vals := make(map[*ir.Value][]float32, len(g.Nodes)+len(g.Inputs))
	for i, in := range g.Inputs {
		t := inputs[i]
		if !t.Shape.Equal(in.Shape) || len(t.Data) != in.Shape.NumElements() {
			return nil, fmt.Errorf("input %s wants shape %s, got %s with %d elements", in.Ref(), in.Shape, t.Shape, len(t.Data))
		}
		d := append([]float32(nil), t.Data...)
		if in.DType.IsInteger() {
			dequantize(d, &in.Type)
		}
		vals[in] = d
	}
	for c, d := range it.consts {
		vals[c] = d
	}
	for i, n := range g.Nodes {
		args := make([][]float32, len(n.Inputs))
		for j, in := range n.Inputs {
			args[j] = vals[in]
		}
		out := make([]float32, n.Output.Shape.NumElements())
		if err := eval(n, args, out); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name(), err)
		}
		if n.Output.DType.IsInteger() && !it.unrounded[n.Output] {
			var before []float32
			if errs != nil {
				before = append(before, out...)
			}
			fakeQuantize(out, &n.Output.Type)
			if errs != nil {
				for j := range before {
					before[j] = out[j] - before[j]
				}
				errs[n.Output] = before
			}
		}
		vals[n.Output] = out
		if !keepAll {
			for _, dead := range it.lastUse[i] {
				delete(vals, dead)
			}
		}
	}
	return vals, nil
}

// boundary converts an output's real values to what callers see: integer
// codes for integer outputs.
func boundary(v *ir.Value, real []float32) Tensor {
	d := append([]float32(nil), real...)
	if v.DType.IsInteger() {
		quantize(d, &v.Type)
	}
	return Tensor{Shape: v.Shape, Data: d}
}

// realValues returns a constant's elements as real numbers.
func realValues(c *ir.Value) []float32 {
	n := c.Shape.NumElements()
	out := make([]float32, n)
	switch d := c.Data.(type) {
	case []float32:
		copy(out, d)
		return out
	case []int8:
		for i, x := range d {
			out[i] = float32(x)
		}
	case []int32:
		// Dequantized here in float64: int32 biases exceed float32's 24-bit
		// mantissa.
		for i, x := range d {
			s, z := scaleFor(&c.Type, i)
			out[i] = float32(float64(s) * float64(int64(x)-int64(z)))
		}
		return out
	}
	dequantize(out, &c.Type)
	return out
}

// scaleFor returns the scale and zero point that govern flat element i.
func scaleFor(t *ir.Type, i int) (float32, int32) {
	q := t.Quant
	if q.PerTensor() {
		return q.Scale[0], q.ZeroPoint[0]
	}
	inner := 1
	for _, d := range t.Shape[q.Axis+1:] {
		inner *= d
	}
	return q.ScaleAt((i / inner) % t.Shape[q.Axis])
}

func dequantize(d []float32, t *ir.Type) {
	for i := range d {
		s, z := scaleFor(t, i)
		d[i] = s * (d[i] - float32(z))
	}
}

func quantize(d []float32, t *ir.Type) {
	lo, hi := float32(-128), float32(127)
	if t.DType == ir.I32 {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	for i := range d {
		s, z := scaleFor(t, i)
		q := float32(math.RoundToEven(float64(d[i]/s))) + float32(z)
		d[i] = min(max(q, lo), hi)
	}
}

func fakeQuantize(d []float32, t *ir.Type) {
	quantize(d, t)
	dequantize(d, t)
}
