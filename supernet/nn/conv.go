package nn

import (
	"fmt"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// Conv2D describes a 2-D convolution. The weight is [Cout, Cin/Groups, KH, KW]
// (PyTorch layout) and is passed to every call, so one Conv2D value serves
// every elastic kernel size and width. Zero Stride and Groups mean 1.
type Conv2D struct {
	Stride int
	Pad    int
	Groups int
}

// convGeom is a convolution's sizes, resolved once per call.
type convGeom struct {
	n, cin, h, w     int
	cout, kh, kw     int
	oh, ow           int
	stride, pad, grp int
}

// OutSize is the output extent of a convolution along one axis.
func OutSize(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

func (c Conv2D) geom(xs, ws []int) convGeom {
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("nn: conv wants rank-4 input and weight, have %v and %v", xs, ws))
	}
	g := convGeom{n: xs[0], cin: xs[1], h: xs[2], w: xs[3], cout: ws[0], kh: ws[2], kw: ws[3],
		stride: max(c.Stride, 1), pad: c.Pad, grp: max(c.Groups, 1)}
	if g.cin%g.grp != 0 || g.cout%g.grp != 0 || ws[1] != g.cin/g.grp {
		panic(fmt.Sprintf("nn: conv input %v, weight %v and groups %d disagree", xs, ws, g.grp))
	}
	g.oh, g.ow = OutSize(g.h, g.kh, g.stride, g.pad), OutSize(g.w, g.kw, g.stride, g.pad)
	if g.oh < 1 || g.ow < 1 {
		panic(fmt.Sprintf("nn: conv of %v with weight %v has empty output", xs, ws))
	}
	return g
}

// OutShape is the output shape for input shape x and weight shape w.
func (c Conv2D) OutShape(x, w []int) []int {
	g := c.geom(x, w)
	return []int{g.n, g.cout, g.oh, g.ow}
}

// FLOPs counts multiply-adds as two operations, for one forward pass.
func (c Conv2D) FLOPs(x, w []int) float64 {
	g := c.geom(x, w)
	return 2 * float64(g.n) * float64(g.cout) * float64(g.cin/g.grp) * float64(g.kh*g.kw) * float64(g.oh*g.ow)
}

func (g convGeom) pointwise() bool {
	return g.grp == 1 && g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad == 0
}

func (g convGeom) depthwise() bool { return g.grp == g.cin && g.cout == g.cin && g.grp > 1 }

// Forward returns conv(x, w) + b as a new tensor from ws. b may be nil.
func (c Conv2D) Forward(ws *tensor.Arena, x, w *tensor.Tensor, b []float32) *tensor.Tensor {
	g := c.geom(x.Shape, w.Shape)
	if b != nil && len(b) != g.cout {
		panic(fmt.Sprintf("nn: conv bias has %d values for %d channels", len(b), g.cout))
	}
	// Every path writes all of y (TestConvForwardWritesEveryOutput), so it
	// need not be zeroed first.
	y := &tensor.Tensor{Shape: []int{g.n, g.cout, g.oh, g.ow}, Data: ws.AllocRaw(g.n * g.cout * g.oh * g.ow)}
	switch {
	case g.pointwise():
		pointwiseForward(g, x.Data, w.Data, b, y.Data)
	case g.depthwise():
		depthwiseForward(ws, g, x.Data, w.Data, b, y.Data)
	default:
		im2colForward(ws, g, x.Data, w.Data, b, y.Data)
	}
	return y
}

// Backward accumulates the gradients of conv(x, w) + b given dy = dL/dy:
// dx += dL/dx, dw += dL/dw, db += dL/db. Any of dx, dw, db may be nil.
func (c Conv2D) Backward(ws *tensor.Arena, dy, x, w *tensor.Tensor, dx, dw *tensor.Tensor, db []float32) {
	c.backward(ws, dy, x, w, dx, dw, db, false)
}

// BackwardSet is Backward except that it overwrites dx with dL/dx instead of
// adding to it, so dx may come uninitialised from AllocRaw when this conv is
// the first to write x's gradient; zeroing those buffers first was a tenth
// of a training step.
func (c Conv2D) BackwardSet(ws *tensor.Arena, dy, x, w *tensor.Tensor, dx, dw *tensor.Tensor, db []float32) {
	c.backward(ws, dy, x, w, dx, dw, db, true)
}

func (c Conv2D) backward(ws *tensor.Arena, dy, x, w *tensor.Tensor, dx, dw *tensor.Tensor, db []float32, setDX bool) {
	g := c.geom(x.Shape, w.Shape)
	tensor.MustSameShape("conv dy", dy.Shape, []int{g.n, g.cout, g.oh, g.ow})
	var dxd, dwd []float32
	if dx != nil {
		tensor.MustSameShape("conv dx", dx.Shape, x.Shape)
		dxd = dx.Data
	}
	if dw != nil {
		tensor.MustSameShape("conv dw", dw.Shape, w.Shape)
		dwd = dw.Data
	}
	if db != nil && len(db) != g.cout {
		panic(fmt.Sprintf("nn: conv db has %d values for %d channels", len(db), g.cout))
	}
	switch {
	case g.pointwise():
		pointwiseBackward(ws, g, dy.Data, x.Data, w.Data, dxd, dwd, db, setDX)
	case g.depthwise():
		depthwiseBackward(ws, g, dy.Data, x.Data, w.Data, dxd, dwd, db, setDX)
	default:
		if setDX {
			clear(dxd) // the full convolution only accumulates; it runs on the stem, which has no dx
		}
		im2colBackward(ws, g, dy.Data, x.Data, w.Data, dxd, dwd, db)
	}
}

// addBias adds b[c] to each of the planes of one image's output.
func addBias(y []float32, b []float32, plane int) {
	for c, v := range b {
		p := y[c*plane : (c+1)*plane]
		for i := range p {
			p[i] += v
		}
	}
}

// sumPlanes adds each plane's sum to db[c], summing in a fixed order.
func sumPlanes(db []float32, dy []float32, plane int) {
	for c := range db {
		var s float32
		for _, v := range dy[c*plane : (c+1)*plane] {
			s += v
		}
		db[c] += s
	}
}
