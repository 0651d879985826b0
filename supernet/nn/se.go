package nn

import "github.com/ofac-dev/ofac/supernet/tensor"

// SEWeights are a squeeze-excite block's parameters as OFA stores them:
// W1 [Mid, C(,1,1)] and B1 [Mid] reduce, W2 [C, Mid(,1,1)] and B2 [C] expand.
// For gradients the same struct holds accumulation buffers; nil fields skip.
type SEWeights struct {
	W1 *tensor.Tensor
	B1 []float32
	W2 *tensor.Tensor
	B2 []float32
}

// SECache holds the forward values SEBackward needs.
type SECache struct {
	Pooled *tensor.Tensor // [N,C] plane means of x
	Z1     *tensor.Tensor // [N,Mid] reduce output before ReLU
	A1     *tensor.Tensor // [N,Mid] after ReLU
	Z2     *tensor.Tensor // [N,C] expand output before hard sigmoid
	Gate   *tensor.Tensor // [N,C] hsigmoid(Z2)
}

// SqueezeExcite computes y = x * hsigmoid(W2 relu(W1 pool(x) + B1) + B2),
// the gate broadcast over each plane. The 1x1 convolutions on a pooled [N,C]
// input are exactly Linear layers, so they reuse Linear's kernels.
func SqueezeExcite(ws *tensor.Arena, x *tensor.Tensor, p SEWeights) (*tensor.Tensor, *SECache) {
	n, c, h, w := x.Dims4()
	hw := h * w
	cc := &SECache{Pooled: GlobalAvgPool(ws, x)}
	cc.Z1 = Linear(ws, cc.Pooled, p.W1, p.B1)
	cc.A1 = ReLU.Forward(ws, cc.Z1)
	cc.Z2 = Linear(ws, cc.A1, p.W2, p.B2)
	cc.Gate = HardSigmoid.Forward(ws, cc.Z2)
	y := ws.RawLike(x) // every element is written
	tensor.Parallel(tensor.Workers(n), n, func(_, i int) {
		for ch := 0; ch < c; ch++ {
			q := i*c + ch
			gv := cc.Gate.Data[q]
			xs, ys := x.Data[q*hw:(q+1)*hw], y.Data[q*hw:(q+1)*hw:(q+1)*hw]
			for j, v := range xs {
				ys[j] = v * gv
			}
		}
	})
	return y, cc
}

// SqueezeExciteBackward accumulates dx and the parameter gradients in g.
// x reaches dy twice, through the multiply and through the pooled gate, and
// both contributions are added into dx.
func SqueezeExciteBackward(ws *tensor.Arena, dy, x *tensor.Tensor, p SEWeights, cc *SECache, dx *tensor.Tensor, g SEWeights) {
	n, c, h, w := x.Dims4()
	hw := h * w
	tensor.MustSameShape("squeeze-excite dy", dy.Shape, x.Shape)
	dgate := ws.Like(cc.Gate)
	tensor.Parallel(tensor.Workers(n), n, func(_, i int) {
		for ch := 0; ch < c; ch++ {
			q := i*c + ch
			xs, ds := x.Data[q*hw:(q+1)*hw], dy.Data[q*hw:(q+1)*hw:(q+1)*hw]
			var s float32
			for j, v := range xs {
				s += ds[j] * v
			}
			dgate.Data[q] = s
			if dx != nil {
				gv := cc.Gate.Data[q]
				out := dx.Data[q*hw : (q+1)*hw : (q+1)*hw]
				for j, d := range ds {
					out[j] += d * gv
				}
			}
		}
	})
	dz2 := ws.Like(cc.Z2)
	HardSigmoid.Backward(dgate, cc.Z2, dz2)
	da1 := ws.Like(cc.A1)
	LinearBackward(dz2, cc.A1, p.W2, da1, g.W2, g.B2)
	dz1 := ws.Like(cc.Z1)
	ReLU.Backward(da1, cc.Z1, dz1)
	if dx == nil && g.W1 == nil && g.B1 == nil {
		return
	}
	var dpool *tensor.Tensor
	if dx != nil {
		dpool = ws.Like(cc.Pooled)
	}
	LinearBackward(dz1, cc.Pooled, p.W1, dpool, g.W1, g.B1)
	if dx != nil {
		GlobalAvgPoolBackward(dpool, dx)
	}
}
