package interp

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/ofac-dev/ofac/ir"
)

// eval computes one node into out, which is zeroed and sized for the result.
func eval(n *ir.Node, args [][]float32, out []float32) error {
	switch n.Op {
	case ir.OpConv2D:
		conv2D(n, args, out)
		if len(args) == 4 { // fused residual, before the activation
			for i, r := range args[3] {
				out[i] += r
			}
		}
		activate(n.Attrs.Act, out)
	case ir.OpDense:
		dense(n, args, out)
		activate(n.Attrs.Act, out)
	case ir.OpBatchNorm:
		batchNorm(n, args, out)
	case ir.OpReLU:
		mapInto(out, args[0], relu)
	case ir.OpClip:
		lo, hi := n.Attrs.Min, n.Attrs.Max
		mapInto(out, args[0], func(x float32) float32 { return min(max(x, lo), hi) })
	case ir.OpHSwish:
		mapInto(out, args[0], hswish)
	case ir.OpHSigmoid:
		mapInto(out, args[0], hsigmoid)
	case ir.OpSigmoid:
		mapInto(out, args[0], sigmoid)
	case ir.OpAdd:
		broadcast(n, args, out, func(a, b float32) float32 { return a + b })
		activate(n.Attrs.Act, out)
	case ir.OpMul:
		broadcast(n, args, out, func(a, b float32) float32 { return a * b })
	case ir.OpGlobalAvgPool:
		globalAvgPool(n, args[0], out)
	case ir.OpReshape, ir.OpQuantize, ir.OpDequantize:
		// Values are held as reals, so these only move data; rounding onto
		// an integer grid happens after every node with an integer result.
		copy(out, args[0])
	case ir.OpSoftmax:
		softmax(n, args[0], out)
	default:
		return fmt.Errorf("the interpreter has no kernel for %s", n.Op)
	}
	return nil
}

func relu(x float32) float32     { return max(x, 0) }
func relu6(x float32) float32    { return min(max(x, 0), 6) }
func hsigmoid(x float32) float32 { return relu6(x+3) / 6 }
func hswish(x float32) float32   { return x * hsigmoid(x) }
func sigmoid(x float32) float32  { return float32(1 / (1 + math.Exp(-float64(x)))) }

// ActFunc returns the scalar function of a fused activation (nil for none),
// so passes and backends can share the interpreter's definitions.
func ActFunc(a ir.Act) func(float32) float32 {
	switch a {
	case ir.ActReLU:
		return relu
	case ir.ActReLU6:
		return relu6
	case ir.ActHSwish:
		return hswish
	case ir.ActHSigmoid:
		return hsigmoid
	case ir.ActSigmoid:
		return sigmoid
	}
	return nil
}

func activate(a ir.Act, d []float32) {
	if f := ActFunc(a); f != nil {
		mapInto(d, d, f)
	}
}

func mapInto(out, in []float32, f func(float32) float32) {
	for i, x := range in {
		out[i] = f(x)
	}
}

// conv2D is a direct convolution. The innermost loop runs along an output
// row with the valid column range computed once, so it has no bounds tests
// and walks memory contiguously for stride 1.
func conv2D(n *ir.Node, args [][]float32, out []float32) {
	x, w := args[0], args[1]
	xs, ys := n.Inputs[0].Shape, n.Output.Shape
	batch, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, oh, ow := ys[1], ys[2], ys[3]
	a := n.Attrs
	kh, kw, s, p, g := a.Kernel[0], a.Kernel[1], a.Stride, a.Pad, a.Groups
	cinG, coutG := cin/g, cout/g
	var bias []float32
	if len(args) >= 3 {
		bias = args[2]
	}
	// Accumulate in float64: the oracle should add as little rounding of its
	// own as possible, so that a rewrite's error is what a test measures.
	// Output channels are independent, so they are shared among the cores;
	// each channel's sum runs in the same order whatever the split.
	macs := int64(len(out)) * int64(cinG*kh*kw)
	workers := 1
	if macs > 1<<18 {
		workers = min(runtime.GOMAXPROCS(0), cout)
	}
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		lo, hi := wk*cout/workers, (wk+1)*cout/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			convChannels(x, w, bias, out, lo, hi, batch, cin, h, wd, cout, oh, ow, kh, kw, s, p, cinG, coutG)
		}()
	}
	wg.Wait()
}

// convChannels computes output channels [lo, hi) of a convolution.
func convChannels(x, w, bias, out []float32, lo, hi, batch, cin, h, wd, cout, oh, ow, kh, kw, s, p, cinG, coutG int) {
	acc := make([]float64, oh*ow)
	for b := 0; b < batch; b++ {
		for oc := lo; oc < hi; oc++ {
			for i := range acc {
				acc[i] = 0
				if bias != nil {
					acc[i] = float64(bias[oc])
				}
			}
			grp := oc / coutG
			for icg := 0; icg < cinG; icg++ {
				ic := grp*cinG + icg
				in := x[(b*cin+ic)*h*wd : (b*cin+ic+1)*h*wd]
				wk := w[(oc*cinG+icg)*kh*kw : (oc*cinG+icg+1)*kh*kw]
				if kh == 1 && kw == 1 && s == 1 && p == 0 {
					// Pointwise: the whole plane is one contiguous run.
					wv := float64(wk[0])
					for i, v := range in {
						acc[i] += wv * float64(v)
					}
					continue
				}
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						wv := float64(wk[ky*kw+kx])
						// Output columns whose input column ox*s+kx-p is inside the image.
						x0 := max(0, ceilDiv(p-kx, s))
						x1 := min(ow, ceilDiv(wd+p-kx, s))
						for oy := 0; oy < oh; oy++ {
							iy := oy*s + ky - p
							if iy < 0 || iy >= h || x0 >= x1 {
								continue
							}
							row := in[iy*wd:]
							orow := acc[oy*ow : (oy+1)*ow]
							ix := x0*s + kx - p
							for ox := x0; ox < x1; ox++ {
								orow[ox] += wv * float64(row[ix])
								ix += s
							}
						}
					}
				}
			}
			plane := out[(b*cout+oc)*oh*ow : (b*cout+oc+1)*oh*ow]
			for i, v := range acc {
				plane[i] = float32(v)
			}
		}
	}
}

// ceilDiv rounds a/b up for any sign of a and positive b.
func ceilDiv(a, b int) int {
	if a <= 0 {
		return -(-a / b)
	}
	return (a + b - 1) / b
}

func dense(n *ir.Node, args [][]float32, out []float32) {
	x, w := args[0], args[1]
	batch, k := n.Inputs[0].Shape[0], n.Inputs[0].Shape[1]
	m := n.Inputs[1].Shape[0]
	for b := 0; b < batch; b++ {
		xr := x[b*k : (b+1)*k]
		for j := 0; j < m; j++ {
			wr := w[j*k : (j+1)*k]
			var s float64
			for i, xv := range xr {
				s += float64(xv) * float64(wr[i])
			}
			if len(args) == 3 {
				s += float64(args[2][j])
			}
			out[b*m+j] = float32(s)
		}
	}
}

func batchNorm(n *ir.Node, args [][]float32, out []float32) {
	x, gamma, beta, mean, variance := args[0], args[1], args[2], args[3], args[4]
	shape := n.Inputs[0].Shape
	c := shape[1]
	inner := 1
	for _, d := range shape[2:] {
		inner *= d
	}
	for i := range x {
		ch := (i / inner) % c
		inv := float32(1 / math.Sqrt(float64(variance[ch]+n.Attrs.Eps)))
		out[i] = (x[i]-mean[ch])*inv*gamma[ch] + beta[ch]
	}
}

// broadcast applies f elementwise, repeating size-1 axes of either operand.
func broadcast(n *ir.Node, args [][]float32, out []float32, f func(a, b float32) float32) {
	as, bs, os := n.Inputs[0].Shape, n.Inputs[1].Shape, n.Output.Shape
	if as.Equal(bs) {
		for i := range out {
			out[i] = f(args[0][i], args[1][i])
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
		out[i] = f(args[0][ai], args[1][bi])
		for d := len(os) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < os[d] {
				break
			}
			idx[d] = 0
		}
	}
}

func strides(s ir.Shape) []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

func globalAvgPool(n *ir.Node, x, out []float32) {
	s := n.Inputs[0].Shape
	hw := s[2] * s[3]
	for i := range out {
		var sum float32
		for _, v := range x[i*hw : (i+1)*hw] {
			sum += v
		}
		out[i] = sum / float32(hw)
	}
}

func softmax(n *ir.Node, x, out []float32) {
	s := n.Inputs[0].Shape
	axis := n.Attrs.Axis
	if axis < 0 {
		axis += len(s)
	}
	st := strides(s)
	inner, size := st[axis], s[axis]
	outer := len(x) / (inner * size)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*inner*size + in
			mx := float32(math.Inf(-1))
			for k := 0; k < size; k++ {
				mx = max(mx, x[base+k*inner])
			}
			var sum float64
			for k := 0; k < size; k++ {
				e := math.Exp(float64(x[base+k*inner] - mx))
				out[base+k*inner] = float32(e)
				sum += e
			}
			for k := 0; k < size; k++ {
				out[base+k*inner] = float32(float64(out[base+k*inner]) / sum)
			}
		}
	}
}
