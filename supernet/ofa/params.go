package ofa

import (
	"math"
	"math/rand/v2"

	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/optim"
)

// convBN is a convolution without bias followed by batch norm, the unit every
// layer of the supernet but the classifier and squeeze-excite is made of. All
// tensors are stored at their largest size.
type convBN struct {
	w     *optim.Param
	shape []int // [out, in/groups, k, k] at the largest size
	gamma *optim.Param
	beta  *optim.Param
	bn    *nn.BatchNorm2d
}

// block is one elastic MBConv block: expand 1x1, depthwise kxk, optional
// squeeze-excite, project 1x1, and a residual when shapes allow.
type block struct {
	stage, index int
	in, out      int
	stride       int
	act          nn.Act
	maxHidden    int
	expand       *convBN // nil for the fixed first block (expand ratio 1)
	dw           *convBN // kernel stored at the largest size
	// t5 and t3 are the kernel transforms (25x25, 9x9) that derive 5x5 and
	// 3x3 kernels from the centre of the larger one; identity at start.
	t5, t3   *optim.Param
	se       bool
	seMaxMid int
	seW1     *optim.Param // [maxMid, maxHidden]
	seB1     *optim.Param
	seW2     *optim.Param // [maxHidden, maxMid]
	seB2     *optim.Param
	project  *convBN
	residual bool
}

// builder registers parameters in a fixed order (the checkpoint order).
type builder struct {
	params []*optim.Param
	rng    *rand.Rand
}

func (b *builder) param(name string, n int, decay bool) *optim.Param {
	p := &optim.Param{Name: name, Data: make([]float32, n), Grad: make([]float32, n), Decay: decay}
	b.params = append(b.params, p)
	return p
}

// convBN registers a conv weight with Kaiming-normal (fan-out) init, as the
// reference initialises its convolutions, and a BN with gamma 1, beta 0.
func (b *builder) convBN(name string, out, in, k int, groups int) *convBN {
	c := &convBN{shape: []int{out, in / groups, k, k}}
	c.w = b.param(name+".w", out*(in/groups)*k*k, true)
	std := math.Sqrt(2 / float64(out/groups*k*k))
	for i := range c.w.Data {
		c.w.Data[i] = float32(b.rng.NormFloat64() * std)
	}
	c.gamma = b.param(name+".bn.gamma", out, false)
	for i := range c.gamma.Data {
		c.gamma.Data[i] = 1
	}
	c.beta = b.param(name+".bn.beta", out, false)
	c.bn = nn.NewBatchNorm2d(out)
	return c
}

func (b *builder) identity(name string, n int) *optim.Param {
	p := b.param(name, n*n, false)
	for i := 0; i < n; i++ {
		p.Data[i*n+i] = 1
	}
	return p
}

func (b *builder) linear(name string, out, in int, bias bool) (*optim.Param, *optim.Param) {
	w := b.param(name+".w", out*in, true)
	std := 1 / math.Sqrt(float64(in))
	for i := range w.Data {
		w.Data[i] = float32(b.rng.NormFloat64() * std)
	}
	var bp *optim.Param
	if bias {
		bp = b.param(name+".b", out, false)
	}
	return w, bp
}

// makeDivisible rounds v to the nearest multiple of 8 not below 90% of v, the
// reference's rule for channel counts.
func makeDivisible(v float64) int {
	const d = 8
	n := max(d, int(v+d/2)/d*d)
	if float64(n) < 0.9*v {
		n += d
	}
	return n
}

// hidden is a block's expanded width for expand ratio e.
func hidden(in, e int) int { return makeDivisible(float64(in * e)) }

// seMid is the squeeze-excite bottleneck for a hidden width.
func seMid(h int) int { return makeDivisible(float64(h) / 4) }
