package nn

import "github.com/ofac-dev/ofac/supernet/tensor"

// GlobalAvgPool averages each plane of x [N,C,H,W] into y [N,C].
func GlobalAvgPool(ws *tensor.Arena, x *tensor.Tensor) *tensor.Tensor {
	n, c, h, w := x.Dims4()
	hw := h * w
	y := ws.Tensor(n, c)
	inv := 1 / float32(hw)
	for p := range y.Data {
		var s float32
		for _, v := range x.Data[p*hw : (p+1)*hw] {
			s += v
		}
		y.Data[p] = s * inv
	}
	return y
}

// GlobalAvgPoolBackward accumulates dx += dy/(H*W) broadcast over each plane.
func GlobalAvgPoolBackward(dy, dx *tensor.Tensor) {
	n, c, h, w := dx.Dims4()
	hw := h * w
	if dy.Len() != n*c {
		panic("nn: global pool dy has the wrong size")
	}
	inv := 1 / float32(hw)
	for p, d := range dy.Data {
		g := d * inv
		plane := dx.Data[p*hw : (p+1)*hw]
		for i := range plane {
			plane[i] += g
		}
	}
}
