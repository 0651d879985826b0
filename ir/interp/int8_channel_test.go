package interp_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/ofac-dev/ofac/ir"
)

// perChannel draws a per-channel (axis 1) quantization whose channels span
// ranges a hundredfold apart, as a stem's do.
func perChannel(rng *rand.Rand, c int) *ir.Quant {
	q := &ir.Quant{Axis: 1}
	for i := 0; i < c; i++ {
		s := math.Ldexp(0.5+rng.Float64(), -3-rng.IntN(7))
		q.Scale = append(q.Scale, float32(s))
		q.ZeroPoint = append(q.ZeroPoint, int32(rng.IntN(200)-100))
	}
	return q
}

// TestInt8PerChannelStem checks the kernels of a stem quantized per channel
// against the fake-quantizing float interpreter, one op at a time: a conv2d
// with a per-channel result, a table activation with one table per channel,
// and a depthwise conv2d reading a per-channel input.
func TestInt8PerChannelStem(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	total, differ := 0, 0
	for trial := 0; trial < 40; trial++ {
		c, h, w := 1+rng.IntN(6), 4+rng.IntN(6), 4+rng.IntN(6)
		k, s := 3, 1+rng.IntN(2)
		chQ := perChannel(rng, c)
		// conv2d: per-tensor input, per-channel result.
		{
			inQ := randQuant(rng)
			wq := &ir.Quant{Axis: 0, ZeroPoint: make([]int32, c)}
			bq := &ir.Quant{Axis: 0, ZeroPoint: make([]int32, c)}
			outQ := &ir.Quant{Axis: 1}
			for o := 0; o < c; o++ {
				sw := float32(math.Ldexp(0.7+0.3*rng.Float64(), -6))
				wq.Scale = append(wq.Scale, sw)
				bq.Scale = append(bq.Scale, float32(float64(inQ.Scale[0])*float64(sw)))
				// Each channel's range holds about two standard deviations
				// of its accumulator, over a different span per channel.
				spread := float64(inQ.Scale[0]) * float64(sw) * 3 * 74 * 73 * 3
				q := fitQuant(rng, -spread*(0.5+0.5*rng.Float64()), spread)
				outQ.Scale = append(outQ.Scale, q.Scale[0])
				outQ.ZeroPoint = append(outQ.ZeroPoint, q.ZeroPoint[0])
			}
			g := build(t, func(b *ir.Builder) *ir.Value {
				x := b.Input("x", ir.I8, ir.Shape{1, 1, h, w}, inQ)
				wv := b.Const("w", ir.I8, ir.Shape{c, 1, k, k}, wq, randInt8s(rng, c*k*k))
				bv := b.Const("b", ir.I32, ir.Shape{c}, bq, randInt32s(rng, c, 10000))
				return b.Op(ir.OpConv2D, ir.Attrs{Kernel: [2]int{k, k}, Stride: s, Pad: 1, Groups: 1}, outQ, x, wv, bv)
			})
			differ += compareInt8(t, "conv, per-channel result, trial "+strconv.Itoa(trial), g, randCodes(rng, ir.Shape{1, 1, h, w}))
			total += g.Outputs[0].Shape.NumElements()
		}

		// hswish with one table per channel, per-channel input and result.
		{
			// Each channel's result grid fits h-swish over its input's.
			outQ := &ir.Quant{Axis: 1}
			hswish := ir.TableFunc(ir.OpHSwish)
			for ch := 0; ch < c; ch++ {
				lo, hi := math.Inf(1), math.Inf(-1)
				for code := -128; code < 128; code++ {
					y := hswish(float64(chQ.Scale[ch]) * float64(code-int(chQ.ZeroPoint[ch])))
					lo, hi = min(lo, y), max(hi, y)
				}
				q := fitQuant(rng, lo, hi)
				outQ.Scale = append(outQ.Scale, q.Scale[0])
				outQ.ZeroPoint = append(outQ.ZeroPoint, q.ZeroPoint[0])
			}
			table, err := ir.ActivationTable(ir.OpHSwish, chQ, outQ, c)
			if err != nil {
				t.Fatal(err)
			}
			g := build(t, func(b *ir.Builder) *ir.Value {
				x := b.Input("x", ir.I8, ir.Shape{1, c, h, w}, chQ)
				tv := b.Const("t", ir.I8, ir.Shape{c, 256}, &ir.Quant{Scale: outQ.Scale, ZeroPoint: outQ.ZeroPoint, Axis: 0}, table)
				return b.Op(ir.OpHSwish, ir.Attrs{}, outQ, x, tv)
			})
			// A table holds the correctly rounded result of the real input:
			// the two interpreters agree exactly.
			if d := compareInt8(t, "per-channel table, trial "+strconv.Itoa(trial), g, randCodes(rng, ir.Shape{1, c, h, w})); d != 0 {
				t.Errorf("trial %d: %d table results differ from the float reference", trial, d)
			}
		}

		// depthwise conv2d reading a per-channel input.
		{
			wq := &ir.Quant{Axis: 0, ZeroPoint: make([]int32, c)}
			bq := &ir.Quant{Axis: 0, ZeroPoint: make([]int32, c)}
			var spread float64
			for o := 0; o < c; o++ {
				sw := float32(math.Ldexp(0.7+0.3*rng.Float64(), -6) / float64(chQ.Scale[o]))
				wq.Scale = append(wq.Scale, sw)
				bq.Scale = append(bq.Scale, float32(float64(chQ.Scale[o])*float64(sw)))
				spread = max(spread, float64(chQ.Scale[o])*float64(sw)*2*74*73*3)
			}
			outQ := fitQuant(rng, -spread, spread)
			g := build(t, func(b *ir.Builder) *ir.Value {
				x := b.Input("x", ir.I8, ir.Shape{1, c, h, w}, chQ)
				wv := b.Const("w", ir.I8, ir.Shape{c, 1, k, k}, wq, randInt8s(rng, c*k*k))
				bv := b.Const("b", ir.I32, ir.Shape{c}, bq, randInt32s(rng, c, 10000))
				return b.Op(ir.OpConv2D, ir.Attrs{Kernel: [2]int{k, k}, Stride: s, Pad: 1, Groups: c}, outQ, x, wv, bv)
			})
			differ += compareInt8(t, "depthwise, per-channel input, trial "+strconv.Itoa(trial), g, randCodes(rng, ir.Shape{1, c, h, w}))
			total += g.Outputs[0].Shape.NumElements()
		}
	}
	t.Logf("%d of %d convolution codes differ by one from the float reference", differ, total)
	if differ*20 > total {
		t.Errorf("%d of %d codes differ: fixed-point rounding should rarely differ", differ, total)
	}
}

func build(t *testing.T, body func(b *ir.Builder) *ir.Value) *ir.Graph {
	t.Helper()
	b := ir.NewBuilder("g")
	b.Output(body(b))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func randInt8s(rng *rand.Rand, n int) []int8 {
	d := make([]int8, n)
	for i := range d {
		d[i] = int8(rng.IntN(255) - 127)
	}
	return d
}

func randInt32s(rng *rand.Rand, n, spread int) []int32 {
	d := make([]int32, n)
	for i := range d {
		d[i] = int32(rng.IntN(2*spread+1) - spread)
	}
	return d
}
