package ofa

import "github.com/ofac-dev/ofac/supernet/nn"

// ConvBN is one extracted convolution (no bias) with its batch norm and
// activation, at the subnet's concrete size.
type ConvBN struct {
	Out, In, Kernel, Stride, Groups int
	Act                             nn.Act
	W                               []float32 // [Out, In/Groups, Kernel, Kernel]
	Gamma, Beta, Mean, Var          []float32
	Eps                             float32
}

// SE is an extracted squeeze-excite: W1 [Mid, C] with B1 reduces, ReLU, W2
// [C, Mid] with B2 expands, hard sigmoid gates.
type SE struct {
	C, Mid         int
	W1, B1, W2, B2 []float32
}

// SubBlock is one extracted MBConv block.
type SubBlock struct {
	Expand   *ConvBN // nil when the expand ratio is 1
	DW       ConvBN
	SE       *SE
	Project  ConvBN
	Residual bool
}

// Subnet is a subnet with concrete weights: kernels transformed, channels
// sliced, and batch-norm statistics from stats (or the running statistics).
// It is plain data, so a frontend can turn it into any IR.
type Subnet struct {
	Arch    Arch
	Stem    ConvBN
	Blocks  []SubBlock
	Head    ConvBN
	Classes int
	FCW     []float32 // [Classes, Head.Out]
	FCB     []float32
}

// Extract takes subnet a out of the supernet with its own weights.
func (n *Net) Extract(a Arch, stats *Stats) *Subnet {
	p := &pass{net: n, mode: Eval, stats: stats}
	s := &Subnet{Arch: a, Classes: n.Space.Classes}
	s.Stem = p.extractConv(n.stem, n.stem.w.Data, 1, 3, n.Space.StemStride(), 1, nn.HardSwish)
	s.Blocks = append(s.Blocks, p.extractBlock(n.first, 3, 1))
	for st := range n.Space.Stages {
		for j := 0; j < a.D[st]; j++ {
			i := st*n.Space.MaxDepth() + j
			s.Blocks = append(s.Blocks, p.extractBlock(n.blocks[i], a.KS[i], a.E[i]))
		}
	}
	last := n.blocks[len(n.blocks)-1].out
	s.Head = p.extractConv(n.head, n.head.w.Data, last, 1, 1, 1, nn.HardSwish)
	s.FCW = append([]float32(nil), n.fcW.Data...)
	s.FCB = append([]float32(nil), n.fcB.Data...)
	return s
}

func (p *pass) extractBlock(b *block, k, e int) SubBlock {
	var sb SubBlock
	hid := b.in
	if b.expand != nil {
		hid = hidden(b.in, e)
		w, _ := prefix(b.expand, hid)
		c := p.extractConv(b.expand, w, b.in, 1, 1, 1, b.act)
		sb.Expand = &c
	}
	w, _ := prefix(b.dw, hid)
	if big := b.dw.shape[2]; k != big {
		w, _ = p.transformKernel(b, w, nil, hid, big, k)
	}
	sb.DW = p.extractConv(b.dw, w, hid, k, b.stride, hid, b.act)
	if b.se {
		mid := seMid(hid)
		w1, _ := p.sub(b.seW1, b.maxHidden, mid, hid)
		w2, _ := p.sub(b.seW2, b.seMaxMid, hid, mid)
		sb.SE = &SE{C: hid, Mid: mid, W1: clone(w1), B1: clone(b.seB1.Data[:mid]), W2: clone(w2), B2: clone(b.seB2.Data[:hid])}
	}
	pw, _ := p.columns(b.project.w, b.out, b.maxHidden, hid)
	sb.Project = p.extractConv(b.project, pw, hid, 1, 1, 1, nn.Identity)
	sb.Residual = b.residual
	return sb
}

// extractConv copies one conv's weights (already sliced to out rows) and
// the statistics its batch norm would use in an Eval pass.
func (p *pass) extractConv(c *convBN, w []float32, in, k, stride, groups int, act nn.Act) ConvBN {
	out := len(w) / (in / groups * k * k)
	mean, variance := c.bn.RunningMean[:out], c.bn.RunningVar[:out]
	if p.stats != nil {
		mean, variance = p.stats.lookup(c.bn, out)
	}
	return ConvBN{Out: out, In: in, Kernel: k, Stride: stride, Groups: groups, Act: act, W: clone(w),
		Gamma: clone(c.gamma.Data[:out]), Beta: clone(c.beta.Data[:out]), Mean: clone(mean), Var: clone(variance), Eps: c.bn.Eps}
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }
