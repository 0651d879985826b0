package nn

import (
	"github.com/ofac-dev/ofac/supernet/gemm"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// The 1x1 stride-1 convolution is a plain matrix product per image:
// Y_n[Cout, HW] = W[Cout, Cin] x X_n[Cin, HW], with NCHW data already in the
// right layout, so no copies are needed. Images run in parallel, each as one
// SGEMM call, so the result of every image is independent of the thread count.

func pointwiseForward(g convGeom, x, w, b, y []float32) {
	if pointwiseFused(g, false) {
		pointwiseForwardFused(g, x, w, b, y)
		return
	}
	hw := g.h * g.w
	xs, ys := g.cin*hw, g.cout*hw
	tensor.Parallel(tensor.Workers(g.n), g.n, func(_, i int) {
		yi := y[i*ys : (i+1)*ys]
		gemm.Sgemm(false, false, g.cout, hw, g.cin, 1, w, g.cin, x[i*xs:(i+1)*xs], hw, 0, yi, hw)
		if b != nil {
			addBias(yi, b, hw)
		}
	})
}

// pointwiseBackward computes, per image, dX_n += W^T dY_n directly (dX_n =
// W^T dY_n with setDX), and dW += dY_n X_n^T into the partial of the image's
// chunk (see partials.go).
func pointwiseBackward(ws *tensor.Arena, g convGeom, dy, x, w, dx, dw, db []float32, setDX bool) {
	if pointwiseFused(g, true) {
		pointwiseBackwardFused(ws, g, dy, x, w, dx, dw, db, setDX)
		return
	}
	var betaDX float32 = 1
	if setDX {
		betaDX = 0
	}
	hw := g.h * g.w
	xs, ys := g.cin*hw, g.cout*hw
	chunks := batchChunks(g.n)
	var pw, pb partials
	if dw != nil {
		pw = newPartials(ws, chunks, len(dw))
	}
	if db != nil {
		pb = newPartials(ws, chunks, len(db))
	}
	tensor.Parallel(tensor.Workers(chunks), chunks, func(_, c int) {
		lo, hi := tensor.Split(g.n, chunks, c)
		cw, cb := pw.get(c), pb.get(c)
		for i := lo; i < hi; i++ {
			dyi, xi := dy[i*ys:(i+1)*ys], x[i*xs:(i+1)*xs]
			if dx != nil {
				gemm.Sgemm(true, false, g.cin, hw, g.cout, 1, w, g.cin, dyi, hw, betaDX, dx[i*xs:(i+1)*xs], hw)
			}
			if cw != nil {
				gemm.Sgemm(false, true, g.cout, g.cin, hw, 1, dyi, hw, xi, hw, 1, cw, g.cin)
			}
			if cb != nil {
				sumPlanes(cb, dyi, hw)
			}
		}
	})
	pw.reduceInto(dw)
	pb.reduceInto(db)
}
