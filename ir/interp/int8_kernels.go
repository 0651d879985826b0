package interp

// The integer kernels of the int8 interpreter. This file must stay free of
// floating point (a test checks its source): everything a kernel needs beyond
// its operands' codes is an integer in ir.IntParams, derived at preparation
// time. A C or HLS backend implements exactly these loops.

import (
	"fmt"

	"github.com/ofac-dev/ofac/ir"
)

// evalInt8 computes one node's int8 result into out from the codes of its
// inputs (activations and integer constants).
func evalInt8(n *ir.Node, p *ir.IntParams, codes map[*ir.Value][]int8, out []int8) error {
	x := codes[n.Inputs[0]]
	switch n.Op {
	case ir.OpConv2D:
		convI8(n, p, x, codes[n.Inputs[1]], biasOf(n), out)
	case ir.OpDense:
		denseI8(n, p, x, codes[n.Inputs[1]], biasOf(n), out)
	case ir.OpAdd:
		addI8(n, p, x, codes[n.Inputs[1]], out)
	case ir.OpMul:
		mulI8(n, p, x, codes[n.Inputs[1]], out)
	case ir.OpGlobalAvgPool:
		poolI8(n, p, x, out)
	case ir.OpReshape, ir.OpReLU, ir.OpClip:
		// relu and clip are the rescale's output clamp (p.Min, p.Max).
		for i, v := range x {
			out[i] = ir.Requantize(int32(v)-p.InZP[0], p.OutMul[0], p.OutZP, p.Min, p.Max)
		}
	case ir.OpHSwish, ir.OpHSigmoid, ir.OpSigmoid:
		tableI8(n, x, codes[n.Inputs[1]], out)
	default:
		return fmt.Errorf("the int8 interpreter has no kernel for %s", n.Op)
	}
	return nil
}

// tableI8 looks each code up in its channel's table: one 256-entry table
// for the whole tensor, or one per channel (axis 1) laid out one after the
// other.
func tableI8(n *ir.Node, x, table, out []int8) {
	if len(table) == 256 {
		for i, v := range x {
			out[i] = table[int(v)+128]
		}
		return
	}
	s := n.Inputs[0].Shape
	c := s[1]
	inner := len(x) / (s[0] * c)
	for i, v := range x {
		out[i] = table[(i/inner)%c*256+int(v)+128]
	}
}

func biasOf(n *ir.Node) []int32 {
	if len(n.Inputs) < 3 {
		return nil
	}
	return n.Inputs[2].Int32s()
}

// convI8 is conv2d over int8 codes with an int32 accumulator per output
// element: acc = bias[oc] + sum (x - zp_x) * w. Subtracting the input zero
// point first makes padding (real zero, code zp_x) contribute nothing, so
// padded taps are skipped as in the float kernel.
func convI8(n *ir.Node, p *ir.IntParams, x, w []int8, bias []int32, out []int8) {
	xs, ys := n.Inputs[0].Shape, n.Output.Shape
	batch, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, oh, ow := ys[1], ys[2], ys[3]
	a := n.Attrs
	kh, kw, s, pad, g := a.Kernel[0], a.Kernel[1], a.Stride, a.Pad, a.Groups
	cinG, coutG := cin/g, cout/g
	xo := offsetCodes(x, p.InZP[0])
	if len(p.InZP) > 1 { // a depthwise conv2d's per-channel input
		xo = offsetChannels(x, p.InZP, h*wd)
	}
	acc := make([]int32, oh*ow)
	for b := 0; b < batch; b++ {
		for oc := 0; oc < cout; oc++ {
			var b0 int32
			if bias != nil {
				b0 = bias[oc]
			}
			for i := range acc {
				acc[i] = b0
			}
			grp := oc / coutG
			for icg := 0; icg < cinG; icg++ {
				ic := grp*cinG + icg
				in := xo[(b*cin+ic)*h*wd : (b*cin+ic+1)*h*wd]
				wk := w[(oc*cinG+icg)*kh*kw : (oc*cinG+icg+1)*kh*kw]
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						wv := int32(wk[ky*kw+kx])
						x0 := max(0, ceilDiv(pad-kx, s))
						x1 := min(ow, ceilDiv(wd+pad-kx, s))
						for oy := 0; oy < oh; oy++ {
							iy := oy*s + ky - pad
							if iy < 0 || iy >= h || x0 >= x1 {
								continue
							}
							row := in[iy*wd:]
							orow := acc[oy*ow : (oy+1)*ow]
							ix := x0*s + kx - pad
							for ox := x0; ox < x1; ox++ {
								orow[ox] += wv * row[ix]
								ix += s
							}
						}
					}
				}
			}
			plane := out[(b*cout+oc)*oh*ow : (b*cout+oc+1)*oh*ow]
			r, zp := p.OutMul[oc], p.OutZPAt(oc)
			for i, v := range acc {
				plane[i] = ir.Requantize(v, r, zp, p.Min, p.Max)
			}
		}
	}
}

func offsetCodes(x []int8, zp int32) []int32 {
	out := make([]int32, len(x))
	for i, v := range x {
		out[i] = int32(v) - zp
	}
	return out
}

// offsetCodes with one zero point per channel of plane elements.
func offsetChannels(x []int8, zps []int32, plane int) []int32 {
	out := make([]int32, len(x))
	for i, v := range x {
		out[i] = int32(v) - zps[(i/plane)%len(zps)]
	}
	return out
}

func denseI8(n *ir.Node, p *ir.IntParams, x, w []int8, bias []int32, out []int8) {
	denseAcc(n, p, x, w, bias, func(i, j int, acc int32) {
		out[i] = ir.Requantize(acc, p.OutMul[j], p.OutZP, p.Min, p.Max)
	})
}

// denseI32 is dense with an i32 result: the accumulators as they are.
func denseI32(n *ir.Node, p *ir.IntParams, x, w []int8, bias []int32, out []int32) {
	denseAcc(n, p, x, w, bias, func(i, _ int, acc int32) { out[i] = acc })
}

// denseAcc hands each output element i (feature j) its accumulator
// bias[j] + sum (x - zp_x) * w.
func denseAcc(n *ir.Node, p *ir.IntParams, x, w []int8, bias []int32, emit func(i, j int, acc int32)) {
	batch, k := n.Inputs[0].Shape[0], n.Inputs[0].Shape[1]
	m := n.Inputs[1].Shape[0]
	xo := offsetCodes(x, p.InZP[0])
	for b := 0; b < batch; b++ {
		xr := xo[b*k : (b+1)*k]
		for j := 0; j < m; j++ {
			var acc int32
			if bias != nil {
				acc = bias[j]
			}
			for i, wv := range w[j*k : (j+1)*k] {
				acc += xr[i] * int32(wv)
			}
			emit(b*m+j, j, acc)
		}
	}
}

// addI8 is TF Lite's int8 add: both operands are shifted left by
// p.LeftShift for headroom, rescaled to a common scale (twice the larger
// input scale), summed, and the sum rescaled to the output.
func addI8(n *ir.Node, p *ir.IntParams, a, b, out []int8) {
	broadcastI8(n, a, b, out, func(x, y int8) int8 {
		sx := ir.MultiplyByQuantizedMultiplier((int32(x)-p.InZP[0])<<p.LeftShift, p.InMul[0])
		sy := ir.MultiplyByQuantizedMultiplier((int32(y)-p.InZP[1])<<p.LeftShift, p.InMul[1])
		return ir.Requantize(sx+sy, p.OutMul[0], p.OutZP, p.Min, p.Max)
	})
}

func mulI8(n *ir.Node, p *ir.IntParams, a, b, out []int8) {
	broadcastI8(n, a, b, out, func(x, y int8) int8 {
		return ir.Requantize((int32(x)-p.InZP[0])*(int32(y)-p.InZP[1]), p.OutMul[0], p.OutZP, p.Min, p.Max)
	})
}

// broadcastI8 applies f elementwise, repeating size-1 axes of either operand.
func broadcastI8(n *ir.Node, a, b, out []int8, f func(x, y int8) int8) {
	as, bs, os := n.Inputs[0].Shape, n.Inputs[1].Shape, n.Output.Shape
	if as.Equal(bs) {
		for i := range out {
			out[i] = f(a[i], b[i])
		}
		return
	}
	astr, bstr := strides(as), strides(bs)
	idx := make([]int, len(os))
	for i := range out {
		ai, bi := 0, 0
		for d := range os {
			if as[d] != 1 {
				ai += idx[d] * astr[d]
			}
			if bs[d] != 1 {
				bi += idx[d] * bstr[d]
			}
		}
		out[i] = f(a[ai], b[bi])
		for d := len(os) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < os[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// poolI8 sums each plane of x - zp in int32; the output multiplier carries
// the division by H*W, so the mean is rounded once.
func poolI8(n *ir.Node, p *ir.IntParams, x, out []int8) {
	s := n.Inputs[0].Shape
	hw := s[2] * s[3]
	for i := range out {
		var sum int32
		for _, v := range x[i*hw : (i+1)*hw] {
			sum += int32(v) - p.InZP[0]
		}
		out[i] = ir.Requantize(sum, p.OutMul[0], p.OutZP, p.Min, p.Max)
	}
}
