package nn

import (
	"fmt"

	"github.com/ofac-dev/ofac/supernet/gemm"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// Linear computes y[N,Out] = x[N,In] W^T + b with W [Out, In] (PyTorch
// layout; a [Out,In,1,1] conv weight works too, so squeeze-excite reuses it).
// x may carry trailing unit dimensions such as [N,C,1,1].
func Linear(ws *tensor.Arena, x, w *tensor.Tensor, b []float32) *tensor.Tensor {
	n, in, out := linearDims(x, w)
	y := ws.Tensor(n, out)
	gemm.Sgemm(false, true, n, out, in, 1, x.Data, in, w.Data, in, 0, y.Data, out)
	if b != nil {
		if len(b) != out {
			panic(fmt.Sprintf("nn: linear bias has %d values for %d outputs", len(b), out))
		}
		for i := 0; i < n; i++ {
			row := y.Data[i*out : (i+1)*out]
			for j, v := range b {
				row[j] += v
			}
		}
	}
	return y
}

// LinearBackward accumulates dx += dy W, dw += dy^T x and db += column sums
// of dy. Any gradient may be nil. The batch reduction inside dw is one SGEMM
// call, whose summation order does not depend on threads.
func LinearBackward(dy, x, w *tensor.Tensor, dx, dw *tensor.Tensor, db []float32) {
	n, in, out := linearDims(x, w)
	if dy.Len() != n*out {
		panic(fmt.Sprintf("nn: linear dy has %d values, want %d", dy.Len(), n*out))
	}
	if dx != nil {
		if dx.Len() != x.Len() {
			panic("nn: linear dx has the wrong size")
		}
		gemm.Sgemm(false, false, n, in, out, 1, dy.Data, out, w.Data, in, 1, dx.Data, in)
	}
	if dw != nil {
		if dw.Len() != w.Len() {
			panic("nn: linear dw has the wrong size")
		}
		gemm.Sgemm(true, false, out, in, n, 1, dy.Data, out, x.Data, in, 1, dw.Data, in)
	}
	if db != nil {
		for i := 0; i < n; i++ {
			for j, v := range dy.Data[i*out : (i+1)*out] {
				db[j] += v
			}
		}
	}
}

func linearDims(x, w *tensor.Tensor) (n, in, out int) {
	n, in = x.Rows()
	out, win := w.Rows()
	if win != in {
		panic(fmt.Sprintf("nn: linear input %v does not match weight %v", x.Shape, w.Shape))
	}
	return n, in, out
}
