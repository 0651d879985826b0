package frontend

import (
	"fmt"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// Subnet builds the IR graph of an extracted subnet: batch 1, one grey
// R x R input %image, logits %logits. Layers come out unfused
// (conv -> batchnorm -> activation), exactly as the engine computes them;
// the passes fold and fuse them afterwards.
func Subnet(name string, s *ofa.Subnet) (*ir.Graph, error) {
	b := graphBuilder{b: ir.NewBuilder(name)}
	r := s.Arch.R
	x := b.b.Input("image", ir.F32, ir.Shape{1, 1, r, r}, nil)
	x = b.convBN("stem", x, &s.Stem)
	for i := range s.Blocks {
		blk := &s.Blocks[i]
		p := fmt.Sprintf("b%d", i)
		in := x
		if blk.Expand != nil {
			x = b.convBN(p+".expand", x, blk.Expand)
		}
		x = b.convBN(p+".dw", x, &blk.DW)
		if blk.SE != nil {
			x = b.se(p+".se", x, blk.SE)
		}
		x = b.convBN(p+".project", x, &blk.Project)
		if blk.Residual {
			x = b.b.Op(ir.OpAdd, ir.Attrs{}, nil, x, in)
		}
	}
	x = b.convBN("head", x, &s.Head)
	x = b.b.Unary(ir.OpGlobalAvgPool, x)
	x = b.b.Op(ir.OpReshape, ir.Attrs{Shape: ir.Shape{1, s.Head.Out}}, nil, x)
	w := b.b.ConstF32("classifier.w", ir.Shape{s.Classes, s.Head.Out}, s.FCW)
	bias := b.b.ConstF32("classifier.b", ir.Shape{s.Classes}, s.FCB)
	b.b.Output(b.b.NamedOp("logits", ir.OpDense, ir.Attrs{}, nil, x, w, bias))
	return b.b.Graph()
}

type graphBuilder struct{ b *ir.Builder }

func (g *graphBuilder) convBN(name string, x *ir.Value, c *ofa.ConvBN) *ir.Value {
	w := g.b.ConstF32(name+".w", ir.Shape{c.Out, c.In / c.Groups, c.Kernel, c.Kernel}, c.W)
	y := g.b.Conv2D(x, w, nil, c.Kernel, c.Stride, c.Kernel/2, c.Groups, ir.ActNone)
	s := ir.Shape{c.Out}
	y = g.b.Op(ir.OpBatchNorm, ir.Attrs{Eps: c.Eps}, nil, y,
		g.b.ConstF32(name+".bn.gamma", s, c.Gamma), g.b.ConstF32(name+".bn.beta", s, c.Beta),
		g.b.ConstF32(name+".bn.mean", s, c.Mean), g.b.ConstF32(name+".bn.var", s, c.Var))
	switch c.Act {
	case nn.ReLU:
		y = g.b.Unary(ir.OpReLU, y)
	case nn.HardSwish:
		y = g.b.Unary(ir.OpHSwish, y)
	case nn.HardSigmoid:
		y = g.b.Unary(ir.OpHSigmoid, y)
	}
	return y
}

func (g *graphBuilder) se(name string, x *ir.Value, s *ofa.SE) *ir.Value {
	p := g.b.Unary(ir.OpGlobalAvgPool, x)
	w1 := g.b.ConstF32(name+".reduce.w", ir.Shape{s.Mid, s.C, 1, 1}, s.W1)
	b1 := g.b.ConstF32(name+".reduce.b", ir.Shape{s.Mid}, s.B1)
	h := g.b.Conv2D(p, w1, b1, 1, 1, 0, 1, ir.ActNone)
	h = g.b.Unary(ir.OpReLU, h)
	w2 := g.b.ConstF32(name+".expand.w", ir.Shape{s.C, s.Mid, 1, 1}, s.W2)
	b2 := g.b.ConstF32(name+".expand.b", ir.Shape{s.C}, s.B2)
	h = g.b.Conv2D(h, w2, b2, 1, 1, 0, 1, ir.ActNone)
	h = g.b.Unary(ir.OpHSigmoid, h)
	return g.b.Op(ir.OpMul, ir.Attrs{}, nil, x, h)
}
