package ir

import (
	"fmt"
	"math"
)

// This file holds the integer arithmetic of quantized graphs, shared by the
// quantization pass, the int8 interpreter (the bit-exact oracle) and code
// generators, so that they cannot drift apart. It follows TF Lite's int8
// scheme (gemmlowp's fixed-point primitives):
//
//   - a real rescaling factor M > 0 is stored as a Q31 multiplier in
//     [2^30, 2^31) and a power-of-two shift (QuantizeMultiplier), computed
//     once at compile time;
//   - at run time an int32 x is rescaled by MultiplyByQuantizedMultiplier:
//     an optional saturating left shift, SaturatingRoundingDoublingHighMul,
//     then RoundingDivideByPOT. No floating point is involved.
//
// Floating point appears only in the compile-time helpers (QuantizeMultiplier,
// IntegerParams, ActivationTable) and in the graph-boundary quantize op
// (QuantizeF32) and dequantize op.

// Requant is a real multiplier in fixed point: M ~= Multiplier * 2^(Shift-31).
// Shift > 0 is a left shift before the multiplication, Shift < 0 a rounding
// right shift after it.
type Requant struct {
	Multiplier int32
	Shift      int32
}

// Largest left and right shifts a Requant may use: a left shift beyond 30
// would push every nonzero int32 out of range, and a right shift beyond 31
// rounds every product to zero.
const (
	maxLeftShift  = 30
	maxRightShift = 31
)

// QuantizeMultiplier converts a real multiplier m >= 0 to fixed point, as TF
// Lite's QuantizeMultiplier does: m = q * 2^shift with q in [0.5, 1), and q is
// rounded to Q31. Multipliers too small to represent become zero (the rescaled
// value rounds to zero anyway); ones of 2^30 or more are an error, since no
// int32 survives them.
func QuantizeMultiplier(m float64) (Requant, error) {
	if math.IsNaN(m) || m < 0 || math.IsInf(m, 0) {
		return Requant{}, fmt.Errorf("multiplier %g must be finite and not negative", m)
	}
	if m == 0 {
		return Requant{}, nil
	}
	q, shift := math.Frexp(m) // m = q * 2^shift, q in [0.5, 1)
	// Scaling by 2^31 is exact, so only the rounding is inexact; it is the
	// same on every machine.
	qf := math.Round(q * (1 << 31))
	if qf == 1<<31 { // q rounded up to 1.0
		qf /= 2
		shift++
	}
	if shift < -maxRightShift {
		return Requant{}, nil
	}
	if shift > maxLeftShift {
		return Requant{}, fmt.Errorf("multiplier %g is too large for fixed point (at most 2^%d)", m, maxLeftShift)
	}
	return Requant{Multiplier: int32(qf), Shift: int32(shift)}, nil
}

// Real returns the multiplier r stands for.
func (r Requant) Real() float64 {
	return math.Ldexp(float64(r.Multiplier), int(r.Shift)-31)
}

// SaturatingRoundingDoublingHighMul returns round(a*b / 2^31) with ties
// rounded up (towards +inf), the high half of the doubled 64-bit product.
// The one product that overflows, MinInt32 * MinInt32, saturates to MaxInt32.
func SaturatingRoundingDoublingHighMul(a, b int32) int32 {
	if a == math.MinInt32 && b == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - 1<<30
	}
	// Division truncates towards zero, as C's does; with the nudge this
	// rounds half up for both signs.
	return int32((ab + nudge) / (1 << 31))
}

// RoundingDivideByPOT returns x / 2^exponent rounded to nearest, ties away
// from zero; exponent is in [0, 31].
func RoundingDivideByPOT(x int32, exponent int32) int32 {
	mask := int32(int64(1)<<exponent - 1)
	remainder := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	q := x >> exponent
	if remainder > threshold {
		q++
	}
	return q
}

// MultiplyByQuantizedMultiplier returns x * r.Real(), rounded. A left shift
// saturates to the int32 range (TF Lite leaves that overflow undefined; a
// well-calibrated graph never hits it, but the oracle must define it).
func MultiplyByQuantizedMultiplier(x int32, r Requant) int32 {
	left, right := int32(0), -r.Shift
	if r.Shift > 0 {
		left, right = r.Shift, 0
	}
	if left > 0 {
		x = saturate32(int64(x) << left)
	}
	return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, r.Multiplier), right)
}

func saturate32(x int64) int32 {
	return int32(min(max(x, math.MinInt32), math.MaxInt32))
}

// Requantize is the last step of every integer kernel: rescale the int32
// accumulator acc by r, add the output zero point and clamp to [lo, hi], a
// sub-range of int8. The sum is formed in 64 bits so that it cannot wrap.
func Requantize(acc int32, r Requant, zp, lo, hi int32) int8 {
	v := int64(MultiplyByQuantizedMultiplier(acc, r)) + int64(zp)
	return int8(min(max(v, int64(lo)), int64(hi)))
}

// QuantizeF32 is the quantize op on one element: round(x/scale) + zp, ties to
// even, saturated to int8. The division is float32, as the reference
// interpreter does it, so the two agree bit for bit.
func QuantizeF32(x, scale float32, zp int32) int8 {
	q := float32(math.RoundToEven(float64(x/scale))) + float32(zp)
	return int8(min(max(q, -128), 127))
}

// tableActs are the activations an i8 graph evaluates through a 256-entry
// lookup table (the table node's op, and the float function behind it).
var tableActs = map[Op]func(float64) float64{
	OpHSwish:   func(x float64) float64 { return x * relu6f(x+3) / 6 },
	OpHSigmoid: func(x float64) float64 { return relu6f(x+3) / 6 },
	OpSigmoid:  func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
}

func relu6f(x float64) float64 { return min(max(x, 0), 6) }

// TableFunc returns the real function a table op's lookup table samples
// (nil for other ops), so passes that weigh quantization choices compute
// the same function the tables are built from.
func TableFunc(op Op) func(float64) float64 { return tableActs[op] }

// IsTableOp reports whether op's int8 form reads a lookup table (hswish,
// hsigmoid, sigmoid): they take a second input, an i8 constant whose entry
// q+128 is the output code for input code q: i8[256] when input and result
// are quantized per tensor, else i8[C,256], one table per channel (axis 1).
func IsTableOp(op Op) bool { _, ok := tableActs[op]; return ok }

// ActivationTable computes the lookup table of a table op, in float64: entry
// i is the output code for input code i-128, rounded to nearest, ties to
// even. With per-tensor input and output quantizations it has 256 entries;
// when either is per channel (axis 1) it has channels x 256, table c for
// channel c.
func ActivationTable(op Op, in, out *Quant, channels int) ([]int8, error) {
	f, ok := tableActs[op]
	if !ok {
		return nil, fmt.Errorf("%s has no lookup-table form", op)
	}
	if in == nil || out == nil {
		return nil, fmt.Errorf("%s needs quantized input and output", op)
	}
	n := 1
	if !in.PerTensor() || !out.PerTensor() {
		for _, q := range []*Quant{in, out} {
			if !q.PerTensor() && (q.Axis != 1 || len(q.Scale) != channels) {
				return nil, fmt.Errorf("%s: per-channel quantization must run along axis 1 with %d channels", op, channels)
			}
		}
		n = channels
	}
	t := make([]int8, 256*n)
	for c := 0; c < n; c++ {
		sIn, zIn := in.ScaleAt(c)
		sOut, zOut := out.ScaleAt(c)
		for i := 0; i < 256; i++ {
			x := float64(sIn) * float64(int64(i-128)-int64(zIn))
			y := math.RoundToEven(f(x)/float64(sOut)) + float64(zOut)
			t[c*256+i] = int8(min(max(y, -128), 127))
		}
	}
	return t, nil
}

// ActRange is the output clamp, in output codes, that a fused relu or relu6
// (or none) becomes in an i8 result with per-tensor quantization q.
func ActRange(a Act, q *Quant) (lo, hi int32, err error) {
	lo, hi = -128, 127
	s, zp := float64(q.Scale[0]), q.ZeroPoint[0]
	switch a {
	case ActNone:
	case ActReLU:
		lo = max(lo, zp)
	case ActReLU6:
		lo = max(lo, zp)
		hi = min(hi, int32(max(min(math.RoundToEven(6/s)+float64(zp), 127), -128)))
	default:
		return 0, 0, fmt.Errorf("act=%s cannot be a clamp; an i8 graph gives it its own lookup-table node", a)
	}
	return lo, hi, nil
}

// IntParams are the compile-time constants of one integer node, derived from
// the quantization of its operands and result. Kernels then need only
// integer arithmetic:
//
//	conv2d, dense:  acc = bias[c] + sum (x - InZP[0]) * w   (weights have zp 0;
//	                InZP[c] for a depthwise conv2d's per-channel input)
//	                y = OutZPAt(c) + MBQM(acc, OutMul[c])
//	                (a dense with an i32 result outputs acc itself)
//	add:            a_i = MBQM((x_i - InZP[i]) << LeftShift, InMul[i])
//	                y = OutZP + MBQM(a_0 + a_1, OutMul[0])
//	mul:            y = OutZP + MBQM((x_0 - InZP[0]) * (x_1 - InZP[1]), OutMul[0])
//	globalavgpool:  y = OutZP + MBQM(sum over the plane of (x - InZP[0]), OutMul[0])
//	                (OutMul folds the 1/(H*W) of the mean into the rescale)
//	reshape, relu,
//	clip:           y = OutZP + MBQM(x - InZP[0], OutMul[0])
//	table ops:      y = table[x + 128], or table[c*256 + x + 128] in channel c
//	                when the table is per channel
//
// and every y is clamped to [Min, Max] (MBQM is MultiplyByQuantizedMultiplier).
//
// Activations are quantized per tensor except where a per-channel grid
// (axis 1) pays for its cost, a stem whose channels' ranges differ a
// hundredfold (passes.Quantize): a conv2d with act=none may produce one, a
// table op may read and produce one (per-channel tables), and a depthwise
// conv2d may read one: its InZP then has one zero point per channel, and
// the input scales fold into the per-channel OutMul. Every other reader
// needs per-tensor inputs.
type IntParams struct {
	InZP      []int32 // per input; a depthwise conv2d reading a per-channel input has one per channel
	InMul     []Requant
	LeftShift int32
	OutMul    []Requant // one per output channel for conv2d and dense, else one
	OutZP     int32
	OutZPs    []int32 // a conv2d's zero point per output channel when its result is per channel, else nil
	Min, Max  int32
}

// OutZPAt is the output zero point of channel c.
func (p *IntParams) OutZPAt(c int) int32 {
	if p.OutZPs != nil {
		return p.OutZPs[c]
	}
	return p.OutZP
}

// accumulatorParams checks a dense with an i32 result, which is its
// accumulator as it is: no rescale, no clamp, so the result's scale per output
// feature (axis 1) must be input scale x weight scale, its zero point 0.
func accumulatorParams(n *Node) (*IntParams, error) {
	x, w, out := n.Inputs[0], n.Inputs[1], n.Output
	if x.DType != I8 || w.DType != I8 || (len(n.Inputs) == 3 && n.Inputs[2].DType != I32) {
		return nil, fmt.Errorf("dense: want i8 input and weights and an i32 bias")
	}
	if !x.Quant.PerTensor() || w.Quant.Axis > 0 || out.Quant.Axis != 1 {
		return nil, fmt.Errorf("dense: want a per-tensor input, weights per tensor or per output feature, and an i32 result per output feature (axis 1)")
	}
	if n.Attrs.Act != ActNone {
		return nil, fmt.Errorf("dense: an i32 result cannot apply act=%s", n.Attrs.Act)
	}
	for c := 0; c < w.Shape[0]; c++ {
		sw, zw := w.Quant.ScaleAt(c)
		want := float32(float64(x.Quant.Scale[0]) * float64(sw))
		if zw != 0 {
			return nil, fmt.Errorf("dense: weight %s has zero point %d in feature %d, want 0 (symmetric)", w.Ref(), zw, c)
		}
		for _, v := range append([]*Value{out}, n.Inputs[2:]...) {
			s, z := v.Quant.ScaleAt(c)
			if z != 0 || math.Abs(float64(s-want)) > 1e-5*float64(want) {
				return nil, fmt.Errorf("dense: %s feature %d has scale %g zero point %d, want %g and 0 (input scale x weight scale)", v.Ref(), c, s, z, want)
			}
		}
	}
	return &IntParams{InZP: []int32{x.Quant.ZeroPoint[0]}}, nil
}

// AddLeftShift is the headroom add gives its operands before rescaling them
// to a common scale, as TF Lite does for int8: 20 bits keep the rounding of
// the rescaled operands far below one output step.
const AddLeftShift = 20

// IntegerParams derives a node's IntParams. It fails, naming what is wrong,
// for nodes the integer kernels cannot run: an op with no integer form, a
// float operand, per-channel activations where a kernel has no per-channel
// form, nonzero weight zero points, a fused activation other than
// relu/relu6, or a multiplier out of range.
func IntegerParams(n *Node) (*IntParams, error) {
	out := n.Output
	if out.DType == I32 && n.Op == OpDense {
		return accumulatorParams(n)
	}
	if out.DType != I8 {
		return nil, fmt.Errorf("%s: integer kernels produce i8 (or i32 from dense), result is %s", n.Op, out.DType)
	}
	for _, in := range n.Inputs {
		if in.DType == F32 {
			return nil, fmt.Errorf("%s: input %s is f32", n.Op, in.Ref())
		}
	}
	if err := checkChannelQuant(n); err != nil {
		return nil, err
	}
	if IsTableOp(n.Op) {
		return tableParams(n)
	}
	p := &IntParams{OutZP: out.Quant.ZeroPoint[0], Min: -128, Max: 127}
	sOut := float64(out.Quant.Scale[0])
	// inScale and inZP are input i's per-tensor parameters; a per-channel
	// input (a depthwise conv2d's) is read per channel below.
	inScale := func(i int) float64 { return float64(n.Inputs[i].Quant.Scale[0]) }
	inZP := func(i int) int32 { return n.Inputs[i].Quant.ZeroPoint[0] }
	one := func(m float64) error {
		r, err := QuantizeMultiplier(m)
		if err != nil {
			return fmt.Errorf("%s: output rescale: %w", n.Op, err)
		}
		p.OutMul = []Requant{r}
		return nil
	}
	var err error
	switch n.Op {
	case OpConv2D, OpDense:
		if len(n.Inputs) == 4 {
			return nil, fmt.Errorf("conv2d: an i8 conv2d cannot fuse a residual (the add needs its own rescaling)")
		}
		w := n.Inputs[1]
		if w.DType != I8 || (len(n.Inputs) == 3 && n.Inputs[2].DType != I32) {
			return nil, fmt.Errorf("%s: want i8 weights and an i32 bias", n.Op)
		}
		if w.Quant.Axis > 0 {
			return nil, fmt.Errorf("%s: weight %s is quantized along axis %d, want per tensor or per output channel (axis 0)", n.Op, w.Ref(), w.Quant.Axis)
		}
		channels := w.Shape[0]
		p.InZP = []int32{inZP(0)}
		if x := n.Inputs[0].Quant; !x.PerTensor() {
			p.InZP = append([]int32(nil), x.ZeroPoint...)
		}
		p.OutMul = make([]Requant, channels)
		if !out.Quant.PerTensor() {
			p.OutZPs = append([]int32(nil), out.Quant.ZeroPoint...)
		}
		for c := 0; c < channels; c++ {
			sw, zw := w.Quant.ScaleAt(c)
			if zw != 0 {
				return nil, fmt.Errorf("%s: weight %s has zero point %d in channel %d, want 0 (symmetric)", n.Op, w.Ref(), zw, c)
			}
			// A per-channel input is a depthwise conv2d's: output channel
			// c reads input channel c only.
			sIn, _ := n.Inputs[0].Quant.ScaleAt(c)
			so, _ := out.Quant.ScaleAt(c)
			if p.OutMul[c], err = QuantizeMultiplier(float64(sIn) * float64(sw) / float64(so)); err != nil {
				return nil, fmt.Errorf("%s: output channel %d rescale: %w", n.Op, c, err)
			}
			if len(n.Inputs) == 3 {
				// Bias codes are added to the accumulator as they are, so
				// their scale must be the accumulator's.
				b := n.Inputs[2]
				sb, zb := b.Quant.ScaleAt(c)
				want := float32(float64(sIn) * float64(sw))
				if zb != 0 || math.Abs(float64(sb-want)) > 1e-5*float64(want) {
					return nil, fmt.Errorf("%s: bias %s channel %d has scale %g zero point %d, want %g and 0 (input scale x weight scale)", n.Op, b.Ref(), c, sb, zb, want)
				}
			}
		}
		if p.Min, p.Max, err = ActRange(n.Attrs.Act, out.Quant); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Op, err)
		}
	case OpAdd:
		s0, s1 := inScale(0), inScale(1)
		twiceMax := 2 * max(s0, s1)
		p.InZP = []int32{inZP(0), inZP(1)}
		p.LeftShift = AddLeftShift
		p.InMul = make([]Requant, 2)
		for i, s := range []float64{s0, s1} {
			if p.InMul[i], err = QuantizeMultiplier(s / twiceMax); err != nil {
				return nil, fmt.Errorf("add: input %d rescale: %w", i, err)
			}
		}
		if err := one(twiceMax / (float64(int64(1)<<AddLeftShift) * sOut)); err != nil {
			return nil, err
		}
		if p.Min, p.Max, err = ActRange(n.Attrs.Act, out.Quant); err != nil {
			return nil, fmt.Errorf("add: %w", err)
		}
	case OpMul:
		p.InZP = []int32{inZP(0), inZP(1)}
		if err := one(inScale(0) * inScale(1) / sOut); err != nil {
			return nil, err
		}
	case OpGlobalAvgPool:
		hw := n.Inputs[0].Shape[2] * n.Inputs[0].Shape[3]
		p.InZP = []int32{inZP(0)}
		if err := one(inScale(0) / (sOut * float64(hw))); err != nil {
			return nil, err
		}
	case OpReshape, OpReLU, OpClip:
		p.InZP = []int32{inZP(0)}
		if err := one(inScale(0) / sOut); err != nil {
			return nil, err
		}
		switch n.Op {
		case OpReLU:
			p.Min, p.Max, _ = ActRange(ActReLU, out.Quant)
		case OpClip:
			lo := math.RoundToEven(float64(n.Attrs.Min)/sOut) + float64(p.OutZP)
			hi := math.RoundToEven(float64(n.Attrs.Max)/sOut) + float64(p.OutZP)
			p.Min = int32(min(max(lo, -128), 127))
			p.Max = int32(min(max(hi, -128), 127))
		}
	default:
		return nil, fmt.Errorf("%s has no integer kernel", n.Op)
	}
	return p, nil
}

// checkChannelQuant rejects per-channel activations where no integer kernel
// takes them: per-channel inputs and results must run along axis 1 (the
// channels of NCHW); a conv2d may produce one only with act=none (a fused
// relu would need a clamp per channel) and read one only when depthwise
// (output channel c reads input channel c alone); table ops may do both;
// other ops neither.
func checkChannelQuant(n *Node) error {
	x, out := n.Inputs[0], n.Output
	for _, v := range []*Value{x, out} {
		if !v.Quant.PerTensor() && (v.Quant.Axis != 1 || len(v.Shape) < 2) {
			return fmt.Errorf("%s: %s is quantized along axis %d; activations are per tensor or per channel (axis 1)", n.Op, v.Ref(), v.Quant.Axis)
		}
	}
	switch {
	case IsTableOp(n.Op):
		return nil
	case n.Op == OpConv2D:
		if !out.Quant.PerTensor() && n.Attrs.Act != ActNone {
			return fmt.Errorf("conv2d: a per-channel result %s cannot apply act=%s", out.Ref(), n.Attrs.Act)
		}
		if x.Quant.PerTensor() {
			return nil
		}
		if c := x.Shape[1]; n.Attrs.Groups != c || out.Shape[1] != c {
			return fmt.Errorf("conv2d: per-channel input %s needs a depthwise conv2d (groups = input = output channels)", x.Ref())
		}
		return nil
	}
	if !x.Quant.PerTensor() {
		return fmt.Errorf("%s: activation %s must be quantized per tensor", n.Op, x.Ref())
	}
	if !out.Quant.PerTensor() {
		return fmt.Errorf("%s: result must be quantized per tensor", n.Op)
	}
	return nil
}

// tableParams checks a table op: its table holds one 256-entry table per
// channel exactly when input or result is per channel.
func tableParams(n *Node) (*IntParams, error) {
	if len(n.Inputs) != 2 {
		return nil, fmt.Errorf("%s: an i8 %s needs its lookup table", n.Op, n.Op)
	}
	x, t := n.Inputs[0], n.Inputs[1]
	want := Shape{256}
	if !x.Quant.PerTensor() || !n.Output.Quant.PerTensor() {
		want = Shape{x.Shape[1], 256}
	}
	if t.DType != I8 || !t.Shape.Equal(want) {
		return nil, fmt.Errorf("%s: lookup table %s is %s%s, want i8%s (one table per channel when input or result is per channel)", n.Op, t.Ref(), t.DType, t.Shape, want)
	}
	return &IntParams{OutZP: n.Output.Quant.ZeroPoint[0], Min: -128, Max: 127}, nil
}
