package nn

import (
	"sync"

	"github.com/ofac-dev/ofac/supernet/gemm"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// Batch-fused 1x1 convolution for small planes. With HW of 49 or less, one
// SGEMM per image has too few columns to fill a register tile and pays the
// packing and call overhead N times, so the batch is gathered into one
// matrix Xg[Cin, N*HW] (column n*HW+p holds pixel p of image n) and the
// layer runs as one GEMM per product:
//
//	forward:  Yg = W x Xg, scattered back to [N, Cout, HW]
//	backward: dXg = W^T x dYg (scattered and added into dx),
//	          dW += dYg x Xg^T (one GEMM with beta 1 straight into dw)
//
// gemm's results do not depend on the thread count, and the gathers fix
// each column's place, so neither do these.

// pointwiseFuseMaxHW is the largest plane the fused path takes. Measured at
// batch 64 on Zen 5 (BenchmarkPointwiseFused): fused is 2-7x faster on 2x2
// and 4x4 planes; on 7x7 it is 1.2-1.8x faster forward but even or slower
// backward, so backward fuses only up to pointwiseFuseMaxHWBwd.
var (
	pointwiseFuseMaxHW    = 49
	pointwiseFuseMaxHWBwd = 16
)

func pointwiseFused(g convGeom, backward bool) bool {
	lim := pointwiseFuseMaxHW
	if backward {
		lim = min(lim, pointwiseFuseMaxHWBwd)
	}
	return g.h*g.w <= lim && g.n > 1
}

// pwPool holds forward scratch: pointwiseForward has no arena to draw from.
var pwPool sync.Pool

// gatherPlanes writes src [N, C, hw] as dst [C, N*hw].
func gatherPlanes(dst, src []float32, n, c, hw int) {
	tensor.Parallel(tensor.Workers(n), n, func(_, i int) {
		for ch := 0; ch < c; ch++ {
			copyRow(dst[(ch*n+i)*hw:], src[(i*c+ch)*hw:(i*c+ch+1)*hw])
		}
	})
}

// scatterPlanes writes (add: adds) src [C, N*hw] into dst [N, C, hw].
func scatterPlanes(dst, src []float32, n, c, hw int, add bool) {
	tensor.Parallel(tensor.Workers(n), n, func(_, i int) {
		for ch := 0; ch < c; ch++ {
			d := dst[(i*c+ch)*hw : (i*c+ch+1)*hw]
			s := src[(ch*n+i)*hw:][:hw]
			if !add {
				copyRow(d, s)
				continue
			}
			for j := range d {
				d[j] += s[j]
			}
		}
	})
}

func pointwiseForwardFused(g convGeom, x, w, b, y []float32) {
	cols := g.n * g.h * g.w
	need := (g.cin + g.cout) * cols
	var buf []float32
	if p, ok := pwPool.Get().(*[]float32); ok && cap(*p) >= need {
		buf = (*p)[:need]
	} else {
		buf = make([]float32, need)
	}
	xg, yg := buf[:g.cin*cols], buf[g.cin*cols:]
	gatherPlanes(xg, x, g.n, g.cin, g.h*g.w)
	gemm.Sgemm(false, false, g.cout, cols, g.cin, 1, w, g.cin, xg, cols, 0, yg, cols)
	if b != nil {
		addBias(yg, b, cols)
	}
	scatterPlanes(y, yg, g.n, g.cout, g.h*g.w, false)
	pwPool.Put(&buf)
}

func pointwiseBackwardFused(ws *tensor.Arena, g convGeom, dy, x, w, dx, dw, db []float32, setDX bool) {
	hw := g.h * g.w
	cols := g.n * hw
	dyg := ws.AllocRaw(g.cout * cols)
	gatherPlanes(dyg, dy, g.n, g.cout, hw)
	if dw != nil {
		xg := ws.AllocRaw(g.cin * cols)
		gatherPlanes(xg, x, g.n, g.cin, hw)
		gemm.Sgemm(false, true, g.cout, g.cin, cols, 1, dyg, cols, xg, cols, 1, dw, g.cin)
	}
	if dx != nil {
		dxg := ws.AllocRaw(g.cin * cols)
		gemm.Sgemm(true, false, g.cin, cols, g.cout, 1, w, g.cin, dyg, cols, 0, dxg, cols)
		scatterPlanes(dx, dxg, g.n, g.cin, hw, !setDX)
	}
	if db != nil {
		sumPlanes(db, dyg, cols)
	}
}
