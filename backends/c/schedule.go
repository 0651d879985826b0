package c

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
)

// The schedule is what Emit writes and Estimate prices: one step per node
// that does work, each a call of one kernel with constant arguments, and
// the constant arrays the calls read. Both read it, so the estimate
// describes the emitted code.

// array is one constant array of the library (flash).
type array struct {
	name  string // without the prefix
	ctype string // "int8_t" or "int32_t"
	data  []int64
	doc   string
}

func (a *array) bytes() int64 {
	if a.ctype == "int32_t" {
		return 4 * int64(len(a.data))
	}
	return int64(len(a.data))
}

// step is one kernel call.
type step struct {
	node    *ir.Node
	kernel  string   // key of kernels
	args    []string // C expressions, PFX_ and A (the arena) unexpanded
	comment string
	// What the cost model reads.
	macs  int64 // multiply-accumulates
	outs  int64 // outputs requantized (or written)
	elems int64 // elements streamed by an element-wise kernel
	rows  int64 // inner-loop entries (window rows of a padded conv)
	copy  int64 // bytes copied to scratch (in-place depthwise)
}

// schedule is the emitted program.
type schedule struct {
	g      *ir.Graph
	plan   *passes.MemoryPlan
	steps  []step
	arrays []*array
	// The interface: the i8 input the caller passes (the quantize node's
	// result) and the output (an i32 or i8 value).
	input, output *ir.Value
	outDType      ir.DType
}

// kernelsUsed lists the kernels the steps call, sorted.
func (s *schedule) kernelsUsed() []string {
	seen := map[string]bool{}
	for _, st := range s.steps {
		seen[st.kernel] = true
	}
	var out []string
	for _, k := range sortedKeys(kernels) {
		if seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// constBytes is the flash the constant arrays take.
func (s *schedule) constBytes() int64 {
	var n int64
	for _, a := range s.arrays {
		n += a.bytes()
	}
	return n
}

func buildSchedule(g *ir.Graph, plan *passes.MemoryPlan) (*schedule, error) {
	if plan == nil {
		return nil, fmt.Errorf("c backend: no memory plan")
	}
	if err := passes.CheckMemoryPlan(g, plan); err != nil {
		return nil, fmt.Errorf("c backend: %w", err)
	}
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		return nil, fmt.Errorf("c backend: the library API takes one input and one output, the graph has %d and %d", len(g.Inputs), len(g.Outputs))
	}
	s := &schedule{g: g, plan: plan}
	users := g.Users()
	prod := g.Producers()
	// The output: a dequantize's operand, or an integer graph output.
	s.output = g.Outputs[0]
	if n := prod[s.output]; n != nil && n.Op == ir.OpDequantize {
		s.output = n.Inputs[0]
	}
	s.outDType = s.output.DType
	if s.outDType != ir.I8 && s.outDType != ir.I32 {
		return nil, fmt.Errorf("c backend: output %s is %s; compile the int8 graph (passes with Int8)", s.output.Ref(), s.outDType)
	}
	if s.outDType == ir.I32 {
		if n := prod[s.output]; n == nil || n.Op != ir.OpDense {
			return nil, fmt.Errorf("c backend: an i32 output must come from dense")
		}
	}
	arena := func(v *ir.Value) (string, error) {
		vp := plan.Value(v)
		if vp == nil {
			return "", fmt.Errorf("%s is not in the arena", v.Ref())
		}
		return fmt.Sprintf("A + %d", vp.Offset), nil
	}
	for si, n := range g.Nodes {
		np := plan.Nodes[si]
		st := step{node: n}
		id := strconv.Itoa(si)
		var err error
		switch n.Op {
		case ir.OpQuantize:
			in := n.Inputs[0]
			if in.Kind != ir.InputValue || len(users[in]) != 1 {
				return nil, fmt.Errorf("c backend: %s: quantize must be the only reader of the graph input", n.Name())
			}
			if s.input != nil {
				return nil, fmt.Errorf("c backend: more than one quantize node")
			}
			s.input = n.Output
			dst, err := arena(n.Output)
			if err != nil {
				return nil, err
			}
			st.kernel, st.args = "copy", []string{"in", dst, num(n.Output.Shape.NumElements())}
			st.comment = fmt.Sprintf("%s: the caller's int8 input", n.Output.Ref())
			st.elems = int64(n.Output.Shape.NumElements())
			s.steps = append(s.steps, st)
			continue
		case ir.OpDequantize:
			if n.Inputs[0] != s.output || n.Output != g.Outputs[0] {
				return nil, fmt.Errorf("c backend: %s: dequantize only at the graph output", n.Name())
			}
			if s.outDType == ir.I8 {
				src, err := arena(s.output)
				if err != nil {
					return nil, err
				}
				st.kernel, st.args = "copy", []string{src, "out", num(s.output.Shape.NumElements())}
				st.comment = "the output codes"
				st.elems = int64(s.output.Shape.NumElements())
				s.steps = append(s.steps, st)
			}
			continue
		}
		p, err := ir.IntegerParams(n)
		if err != nil {
			return nil, fmt.Errorf("c backend: %s: %w", n.Name(), err)
		}
		x, err := arena(n.Inputs[0])
		if err != nil {
			return nil, fmt.Errorf("c backend: %s: %w", n.Name(), err)
		}
		y := ""
		if n.Output == s.output && s.outDType == ir.I32 {
			y = "out"
		} else if y, err = arena(n.Output); err != nil {
			return nil, fmt.Errorf("c backend: %s: %w", n.Name(), err)
		}
		outs := int64(n.Output.Shape.NumElements())
		st.outs = outs
		st.comment = fmt.Sprintf("%s = %s%s", n.Output.Ref(), n.Op, n.Output.Shape)
		switch n.Op {
		case ir.OpConv2D:
			err = s.conv(&st, n, np, p, id, x, y)
		case ir.OpDense:
			err = s.dense(&st, n, p, id, x, y)
		case ir.OpAdd:
			if !n.Inputs[0].Shape.Equal(n.Inputs[1].Shape) || !n.Inputs[0].Shape.Equal(n.Output.Shape) {
				return nil, fmt.Errorf("c backend: %s: add with broadcasting is not supported", n.Name())
			}
			b, err := arena(n.Inputs[1])
			if err != nil {
				return nil, fmt.Errorf("c backend: %s: %w", n.Name(), err)
			}
			st.kernel = "add"
			st.args = []string{x, b, y, num(int(outs)), i32(p.InZP[0]), i32(p.InZP[1]),
				i32(p.InMul[0].Multiplier), i32(p.InMul[0].Shift), i32(p.InMul[1].Multiplier), i32(p.InMul[1].Shift),
				i32(p.OutMul[0].Multiplier), i32(p.OutMul[0].Shift), i32(p.OutZP), i32(p.Min), i32(p.Max)}
			st.elems = outs
		case ir.OpMul:
			err = s.mul(&st, n, p, arena, y)
		case ir.OpGlobalAvgPool:
			xs := n.Inputs[0].Shape
			hw := xs[2] * xs[3]
			st.kernel = "gap"
			st.args = []string{x, y, num(xs[0] * xs[1]), num(hw), i32(p.InZP[0]),
				i32(p.OutMul[0].Multiplier), i32(p.OutMul[0].Shift), i32(p.OutZP), i32(p.Min), i32(p.Max)}
			st.elems = int64(xs.NumElements())
		case ir.OpReshape, ir.OpReLU, ir.OpClip:
			identity := p.OutZP == p.InZP[0] && p.OutMul[0] == (ir.Requant{Multiplier: 1 << 30, Shift: 1}) && p.Min == -128 && p.Max == 127
			if n.Op == ir.OpReshape && identity && np.Reuse == passes.ReuseAlias {
				continue // the same bytes: nothing to do
			}
			if np.Reuse == passes.ReuseAlias {
				return nil, fmt.Errorf("c backend: %s: a reshape that rescales cannot alias its input", n.Name())
			}
			st.kernel = "requant"
			st.args = []string{x, y, num(int(outs)), i32(p.InZP[0]), i32(p.OutMul[0].Multiplier), i32(p.OutMul[0].Shift), i32(p.OutZP), i32(p.Min), i32(p.Max)}
			st.elems = outs
		case ir.OpHSwish, ir.OpHSigmoid, ir.OpSigmoid:
			t := n.Inputs[1].Int8s()
			xs := n.Inputs[0].Shape
			switch {
			case len(t) == 256:
				a := s.addArray("t"+id, "int8_t", widen(t), fmt.Sprintf("%s table of %s", n.Op, n.Output.Ref()))
				st.kernel = "lut"
				st.args = []string{x, y, num(int(outs)), a}
			case len(xs) >= 2 && xs[0] == 1 && len(t) == 256*xs[1]:
				a := s.addArray("t"+id, "int8_t", widen(t), fmt.Sprintf("%s tables of %s, one per channel", n.Op, n.Output.Ref()))
				st.kernel = "lut_c"
				st.args = []string{x, y, num(xs[1]), num(int(outs) / xs[1]), a}
			default:
				return nil, fmt.Errorf("c backend: %s: lookup table %s has %d entries, want 256 or 256 per channel", n.Name(), n.Inputs[1].Ref(), len(t))
			}
			st.elems = outs
		default:
			return nil, fmt.Errorf("c backend: %s: no kernel for %s", n.Name(), n.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("c backend: %s: %w", n.Name(), err)
		}
		s.steps = append(s.steps, st)
	}
	if s.input == nil {
		return nil, fmt.Errorf("c backend: the graph has no quantize node at its input; compile the int8 graph")
	}
	if n := prod[g.Outputs[0]]; (n == nil || n.Op != ir.OpDequantize) && s.outDType == ir.I8 {
		src, err := arena(s.output)
		if err != nil {
			return nil, err
		}
		s.steps = append(s.steps, step{kernel: "copy", args: []string{src, "out", num(s.output.Shape.NumElements())},
			comment: "the output codes", elems: int64(s.output.Shape.NumElements())})
	}
	return s, nil
}

func (s *schedule) addArray(name, ctype string, data []int64, doc string) string {
	s.arrays = append(s.arrays, &array{name: name, ctype: ctype, data: data, doc: doc})
	return "PFX_" + name
}

// weights adds the constant arrays of a conv2d or dense: weights, bias
// (folded with -zp_x * sum(w) when fold), multipliers and shifts.
func (s *schedule) weights(n *ir.Node, p *ir.IntParams, id string, fold, requant bool) (w, b, m, sh string, err error) {
	wd := n.Inputs[1].Int8s()
	if wd == nil {
		return "", "", "", "", fmt.Errorf("weights %s are not i8 constant data", n.Inputs[1].Ref())
	}
	cout := n.Inputs[1].Shape[0]
	per := len(wd) / cout
	var bias []int32
	if len(n.Inputs) > 2 {
		if bias = n.Inputs[2].Int32s(); bias == nil {
			return "", "", "", "", fmt.Errorf("bias %s is not i32 constant data", n.Inputs[2].Ref())
		}
	}
	w = s.addArray("w"+id, "int8_t", widen(wd), fmt.Sprintf("weights of %s %s", n.Output.Ref(), n.Inputs[1].Shape))
	b = "0"
	if bias != nil || fold {
		bd := make([]int64, cout)
		for c := range bd {
			if bias != nil {
				bd[c] = int64(bias[c])
			}
			if fold {
				var sum int64
				for _, v := range wd[c*per : (c+1)*per] {
					sum += int64(v)
				}
				bd[c] -= int64(p.InZP[0]) * sum
			}
			if bd[c] < -1<<31 || bd[c] >= 1<<31 {
				return "", "", "", "", fmt.Errorf("folded bias of channel %d overflows int32", c)
			}
		}
		doc := "bias"
		if fold {
			doc = "bias - zp_x * sum(w)"
		}
		b = s.addArray("b"+id, "int32_t", bd, fmt.Sprintf("%s of %s", doc, n.Output.Ref()))
	}
	if requant {
		md, sd := make([]int64, cout), make([]int64, cout)
		for c, r := range p.OutMul {
			md[c], sd[c] = int64(r.Multiplier), int64(r.Shift)
		}
		m = s.addArray("m"+id, "int32_t", md, fmt.Sprintf("Q31 multipliers of %s", n.Output.Ref()))
		sh = s.addArray("s"+id, "int8_t", sd, fmt.Sprintf("shifts of %s", n.Output.Ref()))
	}
	return w, b, m, sh, nil
}

func (s *schedule) conv(st *step, n *ir.Node, np passes.NodePlan, p *ir.IntParams, id, x, y string) error {
	a := n.Attrs
	xs, ys := n.Inputs[0].Shape, n.Output.Shape
	if xs[0] != 1 {
		return fmt.Errorf("batch %d: the library runs batch 1", xs[0])
	}
	cin, h, wd := xs[1], xs[2], xs[3]
	cout, oh, ow := ys[1], ys[2], ys[3]
	kh, kw := a.Kernel[0], a.Kernel[1]
	cinG := cin / a.Groups
	st.macs = int64(cout) * int64(oh*ow) * int64(cinG*kh*kw)
	pointwise := kh == 1 && kw == 1 && a.Stride == 1 && a.Pad == 0 && a.Groups == 1
	depthwise := a.Groups == cin && cout == cin && kh == kw
	if np.Reuse == passes.ReuseDepthwise && !depthwise {
		return fmt.Errorf("the plan runs a non-depthwise conv in place")
	}
	if np.InPlace >= 0 && np.Reuse != passes.ReuseDepthwise {
		return fmt.Errorf("conv2d cannot write over its input (%s)", np.Reuse)
	}
	// Per-channel zero points (a stem quantized per channel) have kernels
	// of their own only where they occur: the stem's output and the
	// depthwise convolution reading it.
	if p.OutZPs != nil && (pointwise || depthwise) {
		return fmt.Errorf("a per-channel result needs the general conv kernel, not %dx%d groups %d", kh, kw, a.Groups)
	}
	if len(p.InZP) > 1 && !depthwise {
		return fmt.Errorf("a per-channel input needs the depthwise kernel (square kernel, groups = channels)")
	}
	w, b, m, sh, err := s.weights(n, p, id, pointwise, true)
	if err != nil {
		return err
	}
	switch {
	case pointwise:
		st.kernel = "conv_pw"
		// The input zero point is folded into the bias.
		st.args = []string{x, y, w, b, m, sh, num(cin), num(cout), num(h * wd), i32(p.OutZP), i32(p.Min), i32(p.Max)}
		st.rows = int64(cout * h * wd)
	case depthwise:
		scratch := "0"
		if np.Reuse == passes.ReuseDepthwise {
			scratch = fmt.Sprintf("A + %d", np.ScratchOffset)
			st.copy = int64(xs.NumElements())
		}
		zps := "0"
		if len(p.InZP) > 1 { // a per-channel input: a zero point per channel
			zps = s.addArray("z"+id, "int32_t", widen(p.InZP), fmt.Sprintf("input zero points of %s, one per channel", n.Output.Ref()))
		}
		st.kernel = "conv_dw"
		st.args = []string{x, y, scratch, w, b, m, sh, num(cin), num(h), num(wd), num(oh), num(ow), num(kh), num(a.Stride), num(a.Pad),
			i32(p.InZP[0]), zps, i32(p.OutZP), i32(p.Min), i32(p.Max)}
		st.rows = int64(cout*oh*ow) * int64(kh)
	default:
		ozps := "0"
		if p.OutZPs != nil { // a per-channel result: a zero point per channel
			ozps = s.addArray("o"+id, "int32_t", widen(p.OutZPs), fmt.Sprintf("zero points of %s, one per channel", n.Output.Ref()))
		}
		st.kernel = "conv"
		st.args = []string{x, y, w, b, m, sh, num(cin), num(h), num(wd), num(cout), num(oh), num(ow), num(kh), num(kw), num(a.Stride), num(a.Pad), num(a.Groups),
			i32(p.InZP[0]), i32(p.OutZP), ozps, i32(p.Min), i32(p.Max)}
		st.rows = int64(cout*oh*ow) * int64(cinG*kh)
	}
	return nil
}

func (s *schedule) dense(st *step, n *ir.Node, p *ir.IntParams, id, x, y string) error {
	xs := n.Inputs[0].Shape
	if xs[0] != 1 {
		return fmt.Errorf("batch %d: the library runs batch 1", xs[0])
	}
	k, m := xs[1], n.Inputs[1].Shape[0]
	st.macs = int64(k * m)
	st.rows = int64(m)
	if n.Output.DType == ir.I32 {
		w, b, _, _, err := s.weights(n, p, id, true, false)
		if err != nil {
			return err
		}
		st.kernel, st.args = "dense_i32", []string{x, y, w, b, num(k), num(m)}
		return nil
	}
	w, b, mu, sh, err := s.weights(n, p, id, true, true)
	if err != nil {
		return err
	}
	st.kernel, st.args = "dense_i8", []string{x, y, w, b, mu, sh, num(k), num(m), i32(p.OutZP), i32(p.Min), i32(p.Max)}
	return nil
}

// mul supports equal shapes and the squeeze-excite broadcast [1,C,H,W] x
// [1,C,1,1], in either operand order (the product is symmetric).
func (s *schedule) mul(st *step, n *ir.Node, p *ir.IntParams, arena func(*ir.Value) (string, error), y string) error {
	xi, si := 0, 1
	a, b := n.Inputs[0].Shape, n.Inputs[1].Shape
	if !a.Equal(n.Output.Shape) {
		xi, si = 1, 0
		a, b = b, a
	}
	if !a.Equal(n.Output.Shape) || len(a) != 4 || a[0] != 1 {
		return fmt.Errorf("mul of %s and %s is not supported (equal shapes or [1,C,H,W] x [1,C,1,1])", n.Inputs[0].Shape, n.Inputs[1].Shape)
	}
	c, hw := a[1], a[2]*a[3]
	sc, sstep := "", ""
	switch {
	case b.Equal(a):
		sc, sstep = num(hw), "1"
	case len(b) == 4 && b[0] == 1 && b[1] == c && b[2] == 1 && b[3] == 1:
		sc, sstep = "1", "0"
	default:
		return fmt.Errorf("mul of %s and %s is not supported (equal shapes or [1,C,H,W] x [1,C,1,1])", n.Inputs[0].Shape, n.Inputs[1].Shape)
	}
	x, err := arena(n.Inputs[xi])
	if err != nil {
		return err
	}
	sv, err := arena(n.Inputs[si])
	if err != nil {
		return err
	}
	st.kernel = "mul"
	st.args = []string{x, sv, y, num(c), num(hw), sc, sstep, i32(p.InZP[xi]), i32(p.InZP[si]),
		i32(p.OutMul[0].Multiplier), i32(p.OutMul[0].Shift), i32(p.OutZP), i32(p.Min), i32(p.Max)}
	st.elems = int64(c * hw)
	return nil
}

func num(n int) string { return strconv.Itoa(n) }

// i32 writes an int32 constant; INT32_MIN has no literal of its own type.
func i32(v int32) string {
	if v == -1<<31 {
		return "INT32_MIN"
	}
	return strconv.Itoa(int(v))
}

func widen[T int8 | int32](d []T) []int64 {
	out := make([]int64, len(d))
	for i, v := range d {
		out[i] = int64(v)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// expand replaces the placeholders PFXU (upper case, for macros) and PFX
// with the library prefix.
func expand(s, prefix string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "PFXU", strings.ToUpper(prefix)), "PFX", prefix)
}
