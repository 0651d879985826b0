package interp

import (
	"fmt"

	"github.com/ofac-dev/ofac/ir"
)

// Int8 runs a quantized graph the way integer hardware does: int8
// activations, int32 accumulators and fixed-point requantization (ir.Requant),
// with every constant derived at preparation time. It is the bit-exact
// oracle for integer backends: a backend that implements the kernels of
// int8_kernels.go with the parameters of ir.IntegerParams must reproduce its
// outputs exactly.
//
// Floating point appears only at the graph boundary: a quantize node reading
// an f32 graph input (ir.QuantizeF32) and a dequantize node producing an f32
// graph output (ir.DequantizeI8). Everything between runs in
// int8_kernels.go, which uses no floating point at all.
//
// The graph may hold only integer values between those boundaries: i8
// activations and constants, i32 biases, i8[256] activation tables. Where the
// reference interpreter (Interpreter) fake-quantizes a quantized graph with
// float arithmetic, Int8 computes it exactly; the two differ by rounding, a
// step or two of each result's scale.
type Int8 struct {
	g     *ir.Graph
	steps []int8Step
	// lastUse[i] lists the activations whose final reader is step i.
	lastUse [][]*ir.Value
}

type int8Step struct {
	n *ir.Node
	p *ir.IntParams // nil for quantize and dequantize
}

// NewInt8 prepares g for integer execution. It fails, naming the node, if g
// is invalid or holds anything the integer kernels cannot run.
func NewInt8(g *ir.Graph) (*Int8, error) {
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	for _, c := range g.Consts {
		switch {
		case c.Data == nil:
			return nil, fmt.Errorf("constant %s has no data", c.Ref())
		case c.DType == ir.F32:
			return nil, fmt.Errorf("constant %s is f32; an int8 graph holds only integer constants", c.Ref())
		}
	}
	graphInput := map[*ir.Value]bool{}
	for _, in := range g.Inputs {
		graphInput[in] = true
		if in.DType == ir.I32 {
			return nil, fmt.Errorf("input %s is i32; the int8 interpreter takes f32 or i8 inputs", in.Ref())
		}
	}
	users := g.Users()
	it := &Int8{g: g}
	for _, n := range g.Nodes {
		st := int8Step{n: n}
		switch n.Op {
		case ir.OpQuantize:
			if !graphInput[n.Inputs[0]] || n.Output.DType != ir.I8 || !n.Output.Quant.PerTensor() {
				return nil, fmt.Errorf("%s: quantize must turn an f32 graph input into per-tensor i8", n.Name())
			}
		case ir.OpDequantize:
			if len(users[n.Output]) > 0 {
				return nil, fmt.Errorf("%s: dequantize must produce a graph output nothing else reads", n.Name())
			}
		default:
			p, err := ir.IntegerParams(n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n.Name(), err)
			}
			for i, in := range n.Inputs {
				if i > 0 && (n.Op == ir.OpConv2D || n.Op == ir.OpDense || ir.IsTableOp(n.Op)) && in.Kind != ir.ConstValue {
					return nil, fmt.Errorf("%s: %s must be a constant", n.Name(), in.Ref())
				}
			}
			st.p = p
		}
		it.steps = append(it.steps, st)
	}
	it.lastUse = lastUses(g)
	return it, nil
}

// lastUses lists, per node, the node results it is the final reader of, so
// a run can drop them early.
func lastUses(g *ir.Graph) [][]*ir.Value {
	last := map[*ir.Value]int{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in.Kind == ir.NodeValue {
				last[in] = i
			}
		}
	}
	for _, out := range g.Outputs {
		delete(last, out)
	}
	uses := make([][]*ir.Value, len(g.Nodes))
	for _, n := range g.Nodes { // graph order keeps this deterministic
		for _, in := range n.Inputs {
			if i, ok := last[in]; ok {
				uses[i] = append(uses[i], in)
				delete(last, in)
			}
		}
	}
	return uses
}

// Graph returns the graph being interpreted.
func (it *Int8) Graph() *ir.Graph { return it.g }

// Run executes the graph on one tensor per graph input: real values for f32
// inputs, integer codes for i8 inputs. It returns one tensor per output, real
// values for f32 outputs and codes for i8 ones, as Interpreter.Run does.
func (it *Int8) Run(inputs ...Tensor) ([]Tensor, error) {
	outs, _, err := it.run(inputs, false)
	return outs, err
}

// RunAll is Run that also returns every integer value's codes (i8 codes and
// i32 accumulators, as float32), for comparing a backend layer by layer.
func (it *Int8) RunAll(inputs ...Tensor) ([]Tensor, map[*ir.Value]Tensor, error) {
	return it.run(inputs, true)
}

func (it *Int8) run(inputs []Tensor, keepAll bool) ([]Tensor, map[*ir.Value]Tensor, error) {
	g := it.g
	if len(inputs) != len(g.Inputs) {
		return nil, nil, fmt.Errorf("graph %s takes %d inputs, got %d", g.Name, len(g.Inputs), len(inputs))
	}
	reals := map[*ir.Value][]float32{}
	codes := map[*ir.Value][]int8{}
	accs := map[*ir.Value][]int32{} // i32 results (dense accumulators)
	for i, in := range g.Inputs {
		t := inputs[i]
		if !t.Shape.Equal(in.Shape) || len(t.Data) != in.Shape.NumElements() {
			return nil, nil, fmt.Errorf("input %s wants shape %s, got %s with %d elements", in.Ref(), in.Shape, t.Shape, len(t.Data))
		}
		if in.DType == ir.F32 {
			reals[in] = t.Data
			continue
		}
		c, err := codesOf(t.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: %w", in.Ref(), err)
		}
		codes[in] = c
	}
	for _, c := range g.Consts {
		if d := c.Int8s(); d != nil {
			codes[c] = d
		}
	}
	for i, st := range it.steps {
		n := st.n
		switch n.Op {
		case ir.OpQuantize:
			codes[n.Output] = quantizeBoundary(reals[n.Inputs[0]], n.Output.Quant)
		case ir.OpDequantize:
			in := n.Inputs[0]
			if in.DType == ir.I32 {
				reals[n.Output] = dequantizeBoundary(accs[in], &in.Type)
			} else {
				reals[n.Output] = dequantizeBoundary(codes[in], &in.Type)
			}
		case ir.OpDense:
			if n.Output.DType == ir.I32 {
				out := make([]int32, n.Output.Shape.NumElements())
				denseI32(n, st.p, codes[n.Inputs[0]], codes[n.Inputs[1]], biasOf(n), out)
				accs[n.Output] = out
				break
			}
			fallthrough
		default:
			out := make([]int8, n.Output.Shape.NumElements())
			if err := evalInt8(n, st.p, codes, out); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", n.Name(), err)
			}
			codes[n.Output] = out
		}
		if !keepAll {
			for _, dead := range it.lastUse[i] {
				delete(codes, dead)
				delete(accs, dead)
			}
		}
	}
	outs := make([]Tensor, len(g.Outputs))
	for i, o := range g.Outputs {
		var d []float32
		switch o.DType {
		case ir.F32:
			d = append(d, reals[o]...)
		case ir.I32:
			d = asFloat(accs[o])
		default:
			d = asFloat(codes[o])
		}
		outs[i] = Tensor{Shape: o.Shape, Data: d}
	}
	if !keepAll {
		return outs, nil, nil
	}
	all := map[*ir.Value]Tensor{}
	for v, c := range codes {
		if v.Kind != ir.ConstValue {
			all[v] = Tensor{Shape: v.Shape, Data: asFloat(c)}
		}
	}
	for v, c := range accs {
		all[v] = Tensor{Shape: v.Shape, Data: asFloat(c)}
	}
	return outs, all, nil
}

func asFloat[T int8 | int32](c []T) []float32 {
	d := make([]float32, len(c))
	for i, v := range c {
		d[i] = float32(v)
	}
	return d
}

// codesOf converts integer codes carried as float32 to int8.
func codesOf(d []float32) ([]int8, error) {
	out := make([]int8, len(d))
	for i, x := range d {
		if x < -128 || x > 127 || x != float32(int8(x)) {
			return nil, fmt.Errorf("element %d is %g, not an int8 code", i, x)
		}
		out[i] = int8(x)
	}
	return out, nil
}

// quantizeBoundary and dequantizeBoundary are the only floating-point
// arithmetic of an int8 run: the conversions at the graph's edges.
func quantizeBoundary(x []float32, q *ir.Quant) []int8 {
	out := make([]int8, len(x))
	for i, v := range x {
		out[i] = ir.QuantizeF32(v, q.Scale[0], q.ZeroPoint[0])
	}
	return out
}

// dequantizeBoundary computes scale * (q - zp) in float32, per element's
// channel, exactly as the reference interpreter does.
func dequantizeBoundary[T int8 | int32](x []T, t *ir.Type) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		s, z := scaleFor(t, i)
		out[i] = s * (float32(v) - float32(z))
	}
	return out
}
