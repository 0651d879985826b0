package passes

import (
	"fmt"
	"math"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
)

// replaceUses points every reader of old (and the graph outputs) at new.
func replaceUses(g *ir.Graph, old, new *ir.Value) {
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == old {
				n.Inputs[i] = new
			}
		}
	}
	for i, out := range g.Outputs {
		if out == old {
			g.Outputs[i] = new
		}
	}
}

// isOutput reports whether v is a graph output.
func isOutput(g *ir.Graph, v *ir.Value) bool {
	for _, o := range g.Outputs {
		if o == v {
			return true
		}
	}
	return false
}

// soleUser returns the only node reading v, or nil when v has several
// readers or is a graph output.
func soleUser(g *ir.Graph, users map[*ir.Value][]*ir.Node, v *ir.Value) *ir.Node {
	if len(users[v]) != 1 || isOutput(g, v) {
		return nil
	}
	return users[v][0]
}

// absorb makes producer compute consumer's result: producer takes over
// consumer's output value (so names downstream stay the same) and consumer
// is dropped.
func absorb(g *ir.Graph, producer, consumer *ir.Node) {
	out := consumer.Output
	replaceUses(g, producer.Output, out) // only consumer read it
	producer.Output = out
	removeNode(g, consumer)
}

func removeNode(g *ir.Graph, n *ir.Node) {
	for i, m := range g.Nodes {
		if m == n {
			g.Nodes = append(g.Nodes[:i], g.Nodes[i+1:]...)
			return
		}
	}
}

// DeadValues removes nodes no output depends on, then constants nothing
// reads.
func DeadValues(g *ir.Graph, _ *Options) error {
	live := map[*ir.Value]bool{}
	for _, o := range g.Outputs {
		live[o] = true
	}
	kept := make([]*ir.Node, 0, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		if !live[n.Output] {
			continue
		}
		kept = append(kept, n)
		for _, in := range n.Inputs {
			live[in] = true
		}
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	g.Nodes = kept
	consts := g.Consts[:0]
	for _, c := range g.Consts {
		if live[c] {
			consts = append(consts, c)
		}
	}
	g.Consts = consts
	return nil
}

// FoldConstants evaluates, with the reference interpreter, every float node
// whose inputs are all constants, and replaces it with a constant.
func FoldConstants(g *ir.Graph, _ *Options) error {
	for _, n := range append([]*ir.Node(nil), g.Nodes...) {
		if n.Output.DType != ir.F32 || isOutput(g, n.Output) {
			continue
		}
		allConst := true
		for _, in := range n.Inputs {
			allConst = allConst && in.Kind == ir.ConstValue
		}
		if !allConst {
			continue
		}
		b := ir.NewBuilder("fold")
		var ins []*ir.Value
		for _, in := range n.Inputs {
			ins = append(ins, b.Const(in.Name, in.DType, in.Shape, in.Quant, in.Data))
		}
		b.Output(b.Op(n.Op, n.Attrs, nil, ins...))
		sub, err := b.Graph()
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
		it, err := interp.New(sub)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
		out, err := it.Run()
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
		c := &ir.Value{Name: n.Output.Name + ".const", Kind: ir.ConstValue, Type: ir.Type{DType: ir.F32, Shape: n.Output.Shape}, Data: out[0].Data}
		g.Consts = append(g.Consts, c)
		replaceUses(g, n.Output, c)
		removeNode(g, n)
	}
	return nil
}

// FoldBatchNorm folds an inference batch norm into the conv2d before it:
// w'[o] = w[o] * s[o] and b'[o] = (b[o] - mean[o]) * s[o] + beta[o] with
// s = gamma / sqrt(var + eps), computed in float64. The conv must have no
// fused activation and no other reader.
func FoldBatchNorm(g *ir.Graph, _ *Options) error {
	users := g.Users()
	for _, bn := range append([]*ir.Node(nil), g.Nodes...) {
		if bn.Op != ir.OpBatchNorm {
			continue
		}
		conv := producerOf(g, bn.Inputs[0])
		if conv == nil || conv.Op != ir.OpConv2D || conv.Attrs.Act != ir.ActNone || len(conv.Inputs) > 3 ||
			conv.Output.DType != ir.F32 || soleUser(g, users, conv.Output) != bn {
			continue
		}
		params := bn.Inputs[1:]
		if !allF32Consts(params...) || !allF32Consts(conv.Inputs[1:]...) {
			continue
		}
		gamma, beta, mean, variance := params[0].Float32s(), params[1].Float32s(), params[2].Float32s(), params[3].Float32s()
		w := conv.Inputs[1]
		wd := w.Float32s()
		per := len(wd) / len(gamma)
		nw := make([]float32, len(wd))
		nb := make([]float32, len(gamma))
		for o := range gamma {
			s := float64(gamma[o]) / math.Sqrt(float64(variance[o])+float64(bn.Attrs.Eps))
			for i := o * per; i < (o+1)*per; i++ {
				nw[i] = float32(float64(wd[i]) * s)
			}
			bias := 0.0
			if len(conv.Inputs) == 3 {
				bias = float64(conv.Inputs[2].Float32s()[o])
			}
			nb[o] = float32((bias-float64(mean[o]))*s + float64(beta[o]))
		}
		wv := &ir.Value{Name: w.Name + ".bnfold", Kind: ir.ConstValue, Type: w.Type, Data: nw}
		bv := &ir.Value{Name: w.Name + ".bnfold.b", Kind: ir.ConstValue, Type: ir.Type{DType: ir.F32, Shape: ir.Shape{len(nb)}}, Data: nb}
		g.Consts = append(g.Consts, wv, bv)
		conv.Inputs = []*ir.Value{conv.Inputs[0], wv, bv}
		absorb(g, conv, bn)
		users = g.Users()
	}
	return nil
}

func allF32Consts(vs ...*ir.Value) bool {
	for _, v := range vs {
		if v.Kind != ir.ConstValue || v.DType != ir.F32 || v.Float32s() == nil {
			return false
		}
	}
	return true
}

func producerOf(g *ir.Graph, v *ir.Value) *ir.Node {
	for _, n := range g.Nodes {
		if n.Output == v {
			return n
		}
	}
	return nil
}

// FuseActivations moves an activation that is the sole reader of a conv2d,
// dense or add result into that node's act attribute.
func FuseActivations(g *ir.Graph, _ *Options) error {
	users := g.Users()
	for _, n := range append([]*ir.Node(nil), g.Nodes...) {
		act, ok := fusable(n)
		if !ok {
			continue
		}
		p := producerOf(g, n.Inputs[0])
		if p == nil || (p.Op != ir.OpConv2D && p.Op != ir.OpDense && p.Op != ir.OpAdd) || p.Attrs.Act != ir.ActNone ||
			p.Output.DType != n.Output.DType || soleUser(g, users, p.Output) != n {
			continue
		}
		if p.Output.DType != ir.F32 {
			continue // integer activations keep their own requantization
		}
		p.Attrs.Act = act
		absorb(g, p, n)
		users = g.Users()
	}
	return nil
}

// fusable maps an activation node to the act attribute that replaces it.
func fusable(n *ir.Node) (ir.Act, bool) {
	switch n.Op {
	case ir.OpReLU:
		return ir.ActReLU, true
	case ir.OpHSwish:
		return ir.ActHSwish, true
	case ir.OpHSigmoid:
		return ir.ActHSigmoid, true
	case ir.OpSigmoid:
		return ir.ActSigmoid, true
	case ir.OpClip:
		if n.Attrs.Min == 0 && n.Attrs.Max == 6 {
			return ir.ActReLU6, true
		}
	}
	return 0, false
}

// FuseResidualAdd turns add(conv(x), r) into conv(x, w, b, r) when the conv
// has a bias, no activation and no other reader: the conv adds r to its
// accumulator before the add's activation, so the sum needs no buffer of its
// own. Integer graphs keep the add (it needs its own rescaling).
func FuseResidualAdd(g *ir.Graph, o *Options) error {
	if o != nil && o.Int8 {
		return nil
	}
	users := g.Users()
	order := map[*ir.Value]int{}
	for i, n := range g.Nodes {
		order[n.Output] = i
	}
	for _, add := range append([]*ir.Node(nil), g.Nodes...) {
		if add.Op != ir.OpAdd || add.Output.DType != ir.F32 || !add.Inputs[0].Shape.Equal(add.Inputs[1].Shape) {
			continue
		}
		for side := 0; side < 2; side++ {
			conv := producerOf(g, add.Inputs[side])
			other := add.Inputs[1-side]
			if conv == nil || conv.Op != ir.OpConv2D || len(conv.Inputs) != 3 || conv.Attrs.Act != ir.ActNone ||
				soleUser(g, users, conv.Output) != add || other == conv.Output {
				continue
			}
			if i, ok := order[other]; ok && i > order[conv.Output] {
				continue // the residual is computed after the conv: no place to read it
			}
			conv.Inputs = append(conv.Inputs, other)
			conv.Attrs.Act = add.Attrs.Act
			absorb(g, conv, add)
			users = g.Users()
			break
		}
	}
	return nil
}
