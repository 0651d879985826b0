package passes

import (
	"fmt"
	"math"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
)

// biasSamples is how many calibration samples bias correction averages
// rounding errors over (each over every position of a plane); the pass
// costs one run of the quantized graph per sample.
const biasSamples = 128

// correctBiases removes, from every conv2d and dense of a quantized graph,
// the mean error that rounding its input onto the int8 grid adds to its
// result. Rounding is not unbiased where a tensor's values crowd into a few
// steps: a stem channel that never leaves h-swish's negative lobe,
// [-0.375, 0], lands on about four codes, and the depthwise convolution
// reading it, with a batch norm folded into its weights, turns the bias of
// those codes into a shift of its output (MODELS.md, ps9's int8). Runs of
// the reference interpreter's fake quantization on calibration samples
// record each input's rounding errors (interp.Interpreter.RoundingErrors);
// the layer's weights applied to their mean, tap by tap over the positions
// each tap reads, are subtracted from its int32 bias. That is empirical bias
// correction (Nagel et al., ICCV 2019), done at the reader of each rounded
// tensor so that no error is corrected twice. Layers without a bias are
// left as they are.
func correctBiases(g *ir.Graph, samples [][]Sample) error {
	it, err := interp.New(g)
	if err != nil {
		return err
	}
	var layers []*ir.Node
	for _, n := range g.Nodes {
		if (n.Op == ir.OpConv2D || n.Op == ir.OpDense) && len(n.Inputs) == 3 && n.Inputs[0].Kind == ir.NodeValue {
			layers = append(layers, n)
		}
	}
	// tapMeans[li][(ic*kh+ky)*kw+kx] sums, over samples, the mean over
	// layers[li]'s output positions of the rounding error that its tap
	// (ky, kx) of input channel ic reads (for dense, entry i: feature i).
	tapMeans := make([][]float64, len(layers))
	used := samples[:min(len(samples), biasSamples)]
	for si, s := range used {
		ins := make([]interp.Tensor, len(s))
		for i, t := range s {
			ins[i] = interp.Tensor{Shape: t.Shape, Data: t.Data}
		}
		errs, err := it.RoundingErrors(ins...)
		if err != nil {
			return fmt.Errorf("bias correction, sample %d: %w", si, err)
		}
		for li, n := range layers {
			e, ok := errs[n.Inputs[0]]
			if !ok {
				continue
			}
			tapMeans[li] = addTapMeans(n, e.Data, tapMeans[li])
		}
	}
	for li, n := range layers {
		if tapMeans[li] == nil {
			continue
		}
		w, b := n.Inputs[1], n.Inputs[2]
		codes := w.Int8s()
		cout := w.Shape[0]
		per := len(codes) / cout // weights of one output channel
		groups := 1
		if n.Op == ir.OpConv2D {
			groups = n.Attrs.Groups
		}
		fixed := append([]int32(nil), b.Int32s()...)
		for o := 0; o < cout; o++ {
			// Weight k of channel o reads input channel
			// group*cinG + k/(kh*kw) through tap k%(kh*kw): entry
			// group*per + k of the layer's tap means.
			means := tapMeans[li][(o/(cout/groups))*per:]
			sw, _ := w.Quant.ScaleAt(o)
			var shift float64
			for k, q := range codes[o*per : (o+1)*per] {
				shift += float64(sw) * float64(q) * means[k]
			}
			shift /= float64(len(used))
			sb, _ := b.Quant.ScaleAt(o)
			v := float64(fixed[o]) - math.RoundToEven(shift/float64(sb))
			fixed[o] = int32(min(max(v, math.MinInt32), math.MaxInt32))
		}
		b.Data = fixed
	}
	return nil
}

// addTapMeans adds to sums (allocated when nil), for each input channel and
// tap of layer n, the mean over n's output positions of the input element
// that tap reads in e, one sample's rounding errors; taps that read padding
// add nothing, since padding is exactly zero.
func addTapMeans(n *ir.Node, e []float32, sums []float64) []float64 {
	xs := n.Inputs[0].Shape
	if n.Op == ir.OpDense {
		if sums == nil {
			sums = make([]float64, xs[1])
		}
		for b := 0; b < xs[0]; b++ {
			for i := 0; i < xs[1]; i++ {
				sums[i] += float64(e[b*xs[1]+i]) / float64(xs[0])
			}
		}
		return sums
	}
	ys, a := n.Output.Shape, n.Attrs
	kh, kw, stride, pad := a.Kernel[0], a.Kernel[1], a.Stride, a.Pad
	c, h, wd, oh, ow := xs[1], xs[2], xs[3], ys[2], ys[3]
	if sums == nil {
		sums = make([]float64, c*kh*kw)
	}
	scale := 1 / float64(xs[0]*oh*ow)
	for b := 0; b < xs[0]; b++ {
		for ic := 0; ic < c; ic++ {
			plane := e[(b*c+ic)*h*wd : (b*c+ic+1)*h*wd]
			for ky := 0; ky < kh; ky++ {
				for kx := 0; kx < kw; kx++ {
					var sum float64
					for oy := 0; oy < oh; oy++ {
						iy := oy*stride + ky - pad
						if iy < 0 || iy >= h {
							continue
						}
						for ox := 0; ox < ow; ox++ {
							if ix := ox*stride + kx - pad; ix >= 0 && ix < wd {
								sum += float64(plane[iy*wd+ix])
							}
						}
					}
					sums[(ic*kh+ky)*kw+kx] += sum * scale
				}
			}
		}
	}
	return sums
}
