package irtest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ofac-dev/ofac/ir"
)

// RandomGraph builds a valid graph of a few to a few dozen nodes that
// exercises every op, dtype and quantization form, with random names,
// attributes and float values (to test shortest-float printing). Constants
// carry data.
func RandomGraph(rng *rand.Rand) *ir.Graph {
	r := randomGraph{rng: rng, b: ir.NewBuilder(r0name(rng, "g"))}
	c, h := 1+rng.IntN(6), 3+rng.IntN(10)
	x := r.b.Input(r0name(rng, "x"), ir.F32, ir.Shape{1 + rng.IntN(2), c, h, h}, nil)
	outs := []*ir.Value{}
	steps := 1 + rng.IntN(16)
	for i := 0; i < steps; i++ {
		x = r.step(x)
		if rng.IntN(8) == 0 {
			outs = append(outs, x)
		}
	}
	if len(x.Shape) == 4 && rng.IntN(2) == 0 {
		x = r.head(x)
	}
	if x.DType != ir.F32 && rng.IntN(2) == 0 {
		x = r.b.Unary(ir.OpDequantize, x)
	}
	outs = append(outs, x)
	r.b.Output(outs...)
	g, err := r.b.Graph()
	if err != nil {
		panic(fmt.Sprintf("irtest: generated an invalid graph: %v", err))
	}
	return g
}

type randomGraph struct {
	rng    *rand.Rand
	b      *ir.Builder
	consts int
}

func r0name(rng *rand.Rand, prefix string) string {
	names := []string{prefix, prefix + "_1", prefix + ".a", "Net", "x9", "data_in"}
	return names[rng.IntN(len(names))]
}

// randFloat returns values with long and short decimal forms.
func (r *randomGraph) randFloat() float32 {
	switch r.rng.IntN(3) {
	case 0:
		return float32(r.rng.IntN(13) - 6)
	case 1:
		return float32(r.rng.NormFloat64())
	}
	return float32(math.Ldexp(r.rng.Float64(), r.rng.IntN(40)-30))
}

func (r *randomGraph) quant(perChannel int) *ir.Quant {
	n, axis := 1, -1
	if perChannel > 0 {
		n, axis = perChannel, 0
	}
	q := &ir.Quant{Axis: axis}
	for i := 0; i < n; i++ {
		q.Scale = append(q.Scale, float32(math.Ldexp(0.5+r.rng.Float64(), -r.rng.IntN(10))))
		q.ZeroPoint = append(q.ZeroPoint, int32(r.rng.IntN(255)-128))
	}
	return q
}

func (r *randomGraph) constName() string {
	r.consts++
	return fmt.Sprintf("c%d", r.consts)
}

func (r *randomGraph) f32(shape ir.Shape) *ir.Value {
	d := make([]float32, shape.NumElements())
	for i := range d {
		d[i] = float32(r.rng.NormFloat64())
	}
	return r.b.ConstF32(r.constName(), shape, d)
}

func (r *randomGraph) act() ir.Act { return ir.Act(r.rng.IntN(6)) }

// step appends one random op that accepts x and returns its result.
func (r *randomGraph) step(x *ir.Value) *ir.Value {
	b, rng := r.b, r.rng
	if len(x.Shape) != 4 {
		return x
	}
	c := x.Shape[1]
	if x.DType == ir.I8 {
		switch rng.IntN(3) {
		case 0:
			return b.Unary(ir.OpDequantize, x)
		case 1:
			return b.Op(ir.OpReLU, ir.Attrs{}, r.quant(0), x)
		}
		return r.conv(x, true)
	}
	switch rng.IntN(12) {
	case 0, 1:
		return r.conv(x, false)
	case 2:
		s := ir.Shape{c}
		v := make([]float32, c)
		for i := range v {
			v[i] = 0.5 + rng.Float32()
		}
		return b.Op(ir.OpBatchNorm, ir.Attrs{Eps: float32(math.Ldexp(1, -rng.IntN(20)))}, nil, x, r.f32(s), r.f32(s), r.f32(s), b.ConstF32(r.constName(), s, v))
	case 3:
		lo := r.randFloat()
		return b.Op(ir.OpClip, ir.Attrs{Min: lo, Max: lo + float32(rng.IntN(7))}, nil, x)
	case 4:
		ops := []ir.Op{ir.OpReLU, ir.OpHSwish, ir.OpHSigmoid, ir.OpSigmoid}
		return b.Unary(ops[rng.IntN(len(ops))], x)
	case 5:
		return b.Op(ir.OpAdd, ir.Attrs{Act: r.act()}, nil, x, x)
	case 6:
		return b.Op(ir.OpMul, ir.Attrs{}, nil, x, b.Unary(ir.OpGlobalAvgPool, x))
	case 7:
		return b.Op(ir.OpQuantize, ir.Attrs{}, r.quant(0), x)
	case 8:
		return b.Op(ir.OpMul, ir.Attrs{}, nil, x, r.f32(ir.Shape{1, c, 1, 1}))
	case 9:
		return b.Op(ir.OpSoftmax, ir.Attrs{Axis: rng.IntN(8) - 4}, nil, x)
	}
	return b.Op(ir.OpAdd, ir.Attrs{}, nil, x, r.f32(ir.Shape{1, 1, x.Shape[2], x.Shape[3]}))
}

func (r *randomGraph) conv(x *ir.Value, quantized bool) *ir.Value {
	b, rng := r.b, r.rng
	c, h := x.Shape[1], x.Shape[2]
	k := 1 + 2*rng.IntN(min(3, (h+1)/2))
	groups, out := 1, 1+rng.IntN(8)
	if rng.IntN(2) == 0 {
		groups, out = c, c
	}
	a := ir.Attrs{Kernel: [2]int{k, k}, Stride: 1 + rng.IntN(2), Pad: rng.IntN(k/2 + 1), Groups: groups, Act: r.act()}
	if h+2*a.Pad < k {
		a.Pad = k / 2
	}
	wshape := ir.Shape{out, c / groups, k, k}
	if !quantized {
		in := []*ir.Value{x, r.f32(wshape)}
		if rng.IntN(2) == 0 {
			in = append(in, r.f32(ir.Shape{out}))
		}
		return b.Op(ir.OpConv2D, a, nil, in...)
	}
	wq := r.quant(out)
	for i := range wq.ZeroPoint {
		wq.ZeroPoint[i] = 0
	}
	wd := make([]int8, wshape.NumElements())
	for i := range wd {
		wd[i] = int8(rng.IntN(255) - 127)
	}
	w := b.Const(r.constName(), ir.I8, wshape, wq, wd)
	bias := make([]int32, out)
	for i := range bias {
		bias[i] = int32(rng.IntN(2001) - 1000)
	}
	bq := &ir.Quant{Axis: 0, Scale: append([]float32(nil), wq.Scale...), ZeroPoint: make([]int32, out)}
	bv := b.Const(r.constName(), ir.I32, ir.Shape{out}, bq, bias)
	return b.Op(ir.OpConv2D, a, r.quant(0), x, w, bv)
}

// head flattens to a vector and ends in dense (and sometimes softmax).
func (r *randomGraph) head(x *ir.Value) *ir.Value {
	b := r.b
	if x.DType != ir.F32 {
		x = b.Unary(ir.OpDequantize, x)
	}
	x = b.Unary(ir.OpGlobalAvgPool, x)
	n, c := x.Shape[0], x.Shape[1]
	x = b.Op(ir.OpReshape, ir.Attrs{Shape: ir.Shape{n, c}}, nil, x)
	m := 1 + r.rng.IntN(10)
	x = b.Dense(x, r.f32(ir.Shape{m, c}), r.f32(ir.Shape{m}), r.act())
	if r.rng.IntN(2) == 0 {
		x = b.Op(ir.OpSoftmax, ir.Attrs{Axis: -1}, nil, x)
	}
	return x
}
