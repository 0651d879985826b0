package ofa

import (
	"fmt"
	"math/rand/v2"

	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/optim"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// Net is the supernet: every weight at its largest size, shared by all
// subnets. A subnet is chosen per forward pass by an Arch.
type Net struct {
	Space  SearchSpace
	params []*optim.Param
	stem   *convBN
	first  *block
	blocks []*block
	head   *convBN
	fcW    *optim.Param // [Classes, Head]
	fcB    *optim.Param
}

// New builds a supernet for space with weights drawn from seed.
func New(space SearchSpace, seed uint64) *Net {
	b := &builder{rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	n := &Net{Space: space}
	n.stem = b.convBN("stem", space.Stem, 1, 3, 1)
	n.first = &block{in: space.Stem, out: space.First, stride: 1, act: nn.ReLU, maxHidden: space.Stem}
	n.first.dw = b.convBN("first.dw", space.Stem, space.Stem, 3, space.Stem)
	n.first.project = b.convBN("first.project", space.First, space.Stem, 1, 1)
	n.first.residual = space.Stem == space.First
	in := space.First
	maxE := space.Expands[len(space.Expands)-1]
	maxK := space.Kernels[len(space.Kernels)-1]
	for s, st := range space.Stages {
		for j := 0; j < space.MaxDepth(); j++ {
			name := fmt.Sprintf("s%d.b%d", s, j)
			blk := &block{stage: s, index: j, in: in, out: st.Width, stride: 1, act: nn.ReLU, se: st.SE}
			if j == 0 {
				blk.stride = st.Stride
			}
			if st.HSwish {
				blk.act = nn.HardSwish
			}
			blk.residual = blk.stride == 1 && in == st.Width
			blk.maxHidden = hidden(in, maxE)
			blk.expand = b.convBN(name+".expand", blk.maxHidden, in, 1, 1)
			blk.dw = b.convBN(name+".dw", blk.maxHidden, blk.maxHidden, maxK, blk.maxHidden)
			blk.t5 = b.identity(name+".dw.t5", 25)
			blk.t3 = b.identity(name+".dw.t3", 9)
			if blk.se {
				blk.seMaxMid = seMid(blk.maxHidden)
				blk.seW1, blk.seB1 = b.linear(name+".se.reduce", blk.seMaxMid, blk.maxHidden, true)
				blk.seW2, blk.seB2 = b.linear(name+".se.expand", blk.maxHidden, blk.seMaxMid, true)
			}
			blk.project = b.convBN(name+".project", st.Width, blk.maxHidden, 1, 1)
			n.blocks = append(n.blocks, blk)
			in = st.Width
		}
	}
	n.head = b.convBN("head", space.Head, in, 1, 1)
	n.fcW, n.fcB = b.linear("classifier", space.Classes, space.Head, true)
	n.params = b.params
	return n
}

// Params lists the trainable parameters in their fixed (checkpoint) order.
func (n *Net) Params() []*optim.Param { return n.params }

// BatchNorms lists every batch norm's running statistics in a fixed order.
func (n *Net) BatchNorms() []*nn.BatchNorm2d {
	var out []*nn.BatchNorm2d
	each := func(c *convBN) {
		if c != nil {
			out = append(out, c.bn)
		}
	}
	each(n.stem)
	each(n.first.dw)
	each(n.first.project)
	for _, b := range n.blocks {
		each(b.expand)
		each(b.dw)
		each(b.project)
	}
	each(n.head)
	return out
}

// Mode selects how batch norm behaves in a forward pass.
type Mode int

const (
	// Train uses batch statistics, updates running statistics and records
	// the tape for backward.
	Train Mode = iota
	// Eval uses running statistics (or a Stats override).
	Eval
	// Teacher uses batch statistics without updating anything or recording:
	// the distillation teacher, as the reference runs it.
	Teacher
	// Calibrate uses batch statistics and accumulates them into a Stats.
	Calibrate
)

// pass is the state of one forward pass.
type pass struct {
	net   *Net
	ws    *tensor.Arena
	mode  Mode
	tape  *tape // nil unless mode == Train
	stats *Stats
	rng   *rand.Rand // dropout
	drop  float32
}

// Forward runs the subnet a on x [N,1,R,R] and returns logits [N,Classes].
// In Train mode it also returns the tape; call Backward on it with dlogits.
func (n *Net) Forward(ws *tensor.Arena, a Arch, x *tensor.Tensor, mode Mode, stats *Stats, dropout float32, rng *rand.Rand) (*tensor.Tensor, *Backprop) {
	p := &pass{net: n, ws: ws, mode: mode, stats: stats, rng: rng, drop: dropout}
	if mode == Train {
		p.tape = newTape(ws)
	}
	if mode == Calibrate && stats == nil {
		panic("ofa: Calibrate needs a Stats to accumulate into")
	}
	h := p.convBNAct(n.stem, x, n.stem.w.Data, n.stem.w.Grad, n.stem.shape, n.Space.StemStride(), 1, 1, nn.HardSwish)
	h = p.block(n.first, h, 3, 1)
	for s := range n.Space.Stages {
		for j := 0; j < a.D[s]; j++ {
			i := s*n.Space.MaxDepth() + j
			h = p.block(n.blocks[i], h, a.KS[i], a.E[i])
		}
	}
	h = p.convBNAct(n.head, h, n.head.w.Data, n.head.w.Grad, n.head.shape, 1, 0, 1, nn.HardSwish)
	h = p.pool(h)
	if mode == Train && dropout > 0 {
		h = p.dropout(h)
	}
	logits := p.linear(h, n.fcW, n.fcB, n.Space.Classes, n.Space.Head)
	if p.tape == nil {
		return logits, nil
	}
	return logits, &Backprop{t: p.tape, logits: logits}
}

// Backprop holds a training pass's tape.
type Backprop struct {
	t      *tape
	logits *tensor.Tensor
}

// Backward accumulates parameter gradients for dlogits into the Params'
// Grad buffers.
func (b *Backprop) Backward(dlogits *tensor.Tensor) { b.t.backward(b.logits, dlogits) }

// block runs one MBConv block with kernel k and expand ratio e.
func (p *pass) block(b *block, x *tensor.Tensor, k, e int) *tensor.Tensor {
	h := x
	hid := b.in
	if b.expand != nil {
		hid = hidden(b.in, e)
		w, g := prefix(b.expand, hid)
		h = p.convBNAct(b.expand, h, w, g, []int{hid, b.in, 1, 1}, 1, 0, 1, b.act)
	}
	h = p.depthwise(b, h, hid, k)
	if b.se {
		h = p.squeezeExcite(b, h, hid)
	}
	w, g := p.columns(b.project.w, b.out, b.maxHidden, hid)
	h = p.convBNAct(b.project, h, w, g, []int{b.out, hid, 1, 1}, 1, 0, 1, nn.Identity)
	if b.residual {
		h = p.add(h, x)
	}
	return h
}

// prefix views the first rows output channels of a conv weight: the
// elastic width keeps the most important channels, sorted first.
func prefix(c *convBN, rows int) (w, g []float32) {
	per := c.shape[1] * c.shape[2] * c.shape[3]
	return c.w.Data[:rows*per], c.w.Grad[:rows*per]
}
