// Package irtest builds graphs for tests and fixtures: a small
// MobileNetV3-style network with deterministic random weights, and random
// valid graphs that exercise every op and type of the IR.
package irtest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ofac-dev/ofac/ir"
)

// Block describes one inverted-residual (MBConv) block.
type Block struct {
	Out, Expand, Kernel, Stride int
	Act                         ir.Op // ir.OpReLU or ir.OpHSwish
	SE                          bool
}

// TinyMobileNetV3 is the fixture architecture: a stem, the fixed first
// block, ten elastic-style blocks over five stages with mixed kernels and
// expand ratios, and the head, for 1x28x28 inputs and 10 classes.
var TinyMobileNetV3 = []Block{
	{Out: 8, Expand: 1, Kernel: 3, Stride: 1, Act: ir.OpReLU},
	{Out: 12, Expand: 3, Kernel: 3, Stride: 1, Act: ir.OpReLU},
	{Out: 12, Expand: 4, Kernel: 5, Stride: 1, Act: ir.OpReLU},
	{Out: 16, Expand: 6, Kernel: 7, Stride: 2, Act: ir.OpReLU, SE: true},
	{Out: 16, Expand: 3, Kernel: 3, Stride: 1, Act: ir.OpReLU, SE: true},
	{Out: 24, Expand: 4, Kernel: 5, Stride: 2, Act: ir.OpHSwish},
	{Out: 24, Expand: 6, Kernel: 3, Stride: 1, Act: ir.OpHSwish},
	{Out: 32, Expand: 3, Kernel: 7, Stride: 1, Act: ir.OpHSwish, SE: true},
	{Out: 32, Expand: 4, Kernel: 3, Stride: 1, Act: ir.OpHSwish, SE: true},
	{Out: 48, Expand: 6, Kernel: 5, Stride: 2, Act: ir.OpHSwish, SE: true},
	{Out: 48, Expand: 3, Kernel: 3, Stride: 1, Act: ir.OpHSwish, SE: true},
}

// MobileNetV3 builds a MobileNetV3-style float graph with unfused
// conv -> batchnorm -> activation chains (as extraction from the supernet
// produces them) and weights drawn from seed.
func MobileNetV3(name string, blocks []Block, stem, head, classes, res int, seed uint64) (*ir.Graph, error) {
	w := weights{b: ir.NewBuilder(name), rng: rand.New(rand.NewPCG(seed, 0x0fac))}
	b := w.b
	x := b.Input("image", ir.F32, ir.Shape{1, 1, res, res}, nil)
	x = w.convBN("stem", x, stem, 3, 2, 1, ir.OpHSwish)
	c := stem
	for i, blk := range blocks {
		p := fmt.Sprintf("b%d", i)
		in := x
		hidden := c * blk.Expand
		if blk.Expand != 1 {
			x = w.convBN(p+".expand", x, hidden, 1, 1, 1, blk.Act)
		}
		x = w.convBN(p+".dw", x, hidden, blk.Kernel, blk.Stride, hidden, blk.Act)
		if blk.SE {
			x = w.se(p+".se", x, hidden)
		}
		x = w.convBN(p+".project", x, blk.Out, 1, 1, 1, 0)
		if blk.Stride == 1 && blk.Out == c {
			x = b.Op(ir.OpAdd, ir.Attrs{}, nil, x, in)
		}
		c = blk.Out
	}
	x = w.convBN("head", x, head, 1, 1, 1, ir.OpHSwish)
	x = b.Unary(ir.OpGlobalAvgPool, x)
	x = b.Op(ir.OpReshape, ir.Attrs{Shape: ir.Shape{1, head}}, nil, x)
	fc := b.ConstF32("classifier.w", ir.Shape{classes, head}, w.normal(classes*head, math.Sqrt(1/float64(head))))
	fcb := b.ConstF32("classifier.b", ir.Shape{classes}, w.normal(classes, 0.1))
	logits := b.NamedOp("logits", ir.OpDense, ir.Attrs{}, nil, x, fc, fcb)
	b.Output(logits)
	return b.Graph()
}

type weights struct {
	b   *ir.Builder
	rng *rand.Rand
}

func (w *weights) normal(n int, std float64) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(w.rng.NormFloat64() * std)
	}
	return d
}

func (w *weights) convBN(name string, x *ir.Value, out, k, stride, groups int, act ir.Op) *ir.Value {
	cin := x.Shape[1]
	fan := cin / groups * k * k
	wt := w.b.ConstF32(name+".w", ir.Shape{out, cin / groups, k, k}, w.normal(out*fan, math.Sqrt(2/float64(fan))))
	y := w.b.Conv2D(x, wt, nil, k, stride, k/2, groups, ir.ActNone)
	gamma, beta, mean, variance := make([]float32, out), make([]float32, out), make([]float32, out), make([]float32, out)
	for i := 0; i < out; i++ {
		gamma[i] = float32(1 + 0.1*w.rng.NormFloat64())
		beta[i] = float32(0.1 * w.rng.NormFloat64())
		mean[i] = float32(0.1 * w.rng.NormFloat64())
		variance[i] = float32(1 + 0.2*math.Abs(w.rng.NormFloat64()))
	}
	s := ir.Shape{out}
	y = w.b.Op(ir.OpBatchNorm, ir.Attrs{Eps: 1e-5}, nil, y,
		w.b.ConstF32(name+".bn.gamma", s, gamma), w.b.ConstF32(name+".bn.beta", s, beta),
		w.b.ConstF32(name+".bn.mean", s, mean), w.b.ConstF32(name+".bn.var", s, variance))
	if act != 0 {
		y = w.b.Unary(act, y)
	}
	return y
}

// se is squeeze-excite: pool, reduce, relu, expand, hsigmoid, scale.
func (w *weights) se(name string, x *ir.Value, c int) *ir.Value {
	mid := max(c/4, 8)
	p := w.b.Unary(ir.OpGlobalAvgPool, x)
	r := w.b.ConstF32(name+".reduce.w", ir.Shape{mid, c, 1, 1}, w.normal(mid*c, math.Sqrt(2/float64(c))))
	rb := w.b.ConstF32(name+".reduce.b", ir.Shape{mid}, w.normal(mid, 0.1))
	s := w.b.Conv2D(p, r, rb, 1, 1, 0, 1, ir.ActNone)
	s = w.b.Unary(ir.OpReLU, s)
	e := w.b.ConstF32(name+".expand.w", ir.Shape{c, mid, 1, 1}, w.normal(c*mid, math.Sqrt(1/float64(mid))))
	eb := w.b.ConstF32(name+".expand.b", ir.Shape{c}, w.normal(c, 0.1))
	s = w.b.Conv2D(s, e, eb, 1, 1, 0, 1, ir.ActNone)
	s = w.b.Unary(ir.OpHSigmoid, s)
	return w.b.Op(ir.OpMul, ir.Attrs{}, nil, x, s)
}

// Fixture is the model shipped in ir/testdata/mbv3_tiny.ofac.
func Fixture() (*ir.Graph, error) {
	return MobileNetV3("mbv3_tiny", TinyMobileNetV3, 8, 96, 10, 28, 1)
}
