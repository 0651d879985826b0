package ofa

import (
	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// depthwise runs the block's depthwise conv -> BN -> activation on hid
// channels with a k x k kernel derived from the stored largest kernel.
func (p *pass) depthwise(b *block, x *tensor.Tensor, hid, k int) *tensor.Tensor {
	big := b.dw.shape[2]
	w, g := prefix(b.dw, hid)
	if k != big {
		w, g = p.transformKernel(b, w, g, hid, big, k)
	}
	return p.convBNAct(b.dw, x, w, g, []int{hid, 1, k, k}, b.stride, k/2, hid, b.act)
}

// transformKernel derives k x k kernels from the stored big x big ones, the
// reference's elastic kernel: the centre 5x5, flattened, times the 25x25
// transform gives the 5x5 kernel; the centre 3x3 of that times the 9x9
// transform gives the 3x3 kernel (y = x T^T, as PyTorch's F.linear). On the
// tape it records the backward through both transforms, which runs after the
// convolution's backward has filled the returned gradient.
func (p *pass) transformKernel(b *block, w7, g7 []float32, hid, big, k int) ([]float32, []float32) {
	w5 := p.ws.AllocRaw(hid * 25)
	c5 := p.ws.AllocRaw(hid * 25)
	centre(c5, w7, hid, big, 5)
	linearRows(w5, c5, b.t5.Data, hid, 25)
	w, c3 := w5, []float32(nil)
	if k == 3 {
		c3 = p.ws.AllocRaw(hid * 9)
		centre(c3, w5, hid, 5, 3)
		w = p.ws.AllocRaw(hid * 9)
		linearRows(w, c3, b.t3.Data, hid, 9)
	}
	if p.tape == nil {
		return w, nil
	}
	g := p.ws.Alloc(hid * k * k)
	p.tape.push(func() {
		g5 := g
		if k == 3 {
			g5 = p.ws.Alloc(hid * 25)
			dc3 := p.ws.Alloc(hid * 9)
			linearRowsBackward(g, c3, b.t3.Data, dc3, b.t3.Grad, hid, 9)
			addCentre(g5, dc3, hid, 5, 3)
		}
		dc5 := p.ws.Alloc(hid * 25)
		linearRowsBackward(g5, c5, b.t5.Data, dc5, b.t5.Grad, hid, 25)
		addCentre(g7, dc5, hid, big, 5)
	})
	return w, g
}

// centre copies the centre s x s window of each of n big x big kernels.
func centre(dst, src []float32, n, big, s int) {
	off := (big - s) / 2
	for c := 0; c < n; c++ {
		for y := 0; y < s; y++ {
			row := src[c*big*big+(y+off)*big+off:]
			copy(dst[c*s*s+y*s:c*s*s+(y+1)*s], row[:s])
		}
	}
}

// addCentre adds each s x s kernel of src into the centre of dst's kernels.
func addCentre(dst, src []float32, n, big, s int) {
	off := (big - s) / 2
	for c := 0; c < n; c++ {
		for y := 0; y < s; y++ {
			row := dst[c*big*big+(y+off)*big+off:]
			for x := 0; x < s; x++ {
				row[x] += src[c*s*s+y*s+x]
			}
		}
	}
}

// linearRows computes y[r] = T x[r] for each of n rows of width m.
func linearRows(y, x, t []float32, n, m int) {
	tensor.ParallelRange(n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*m : (r+1)*m]
			for i := 0; i < m; i++ {
				ti := t[i*m : (i+1)*m]
				var s float32
				for j, v := range xr {
					s += ti[j] * v
				}
				y[r*m+i] = s
			}
		}
	})
}

// linearRowsBackward accumulates dx[r] += T^T dy[r] and dT += sum_r dy[r] x[r]^T
// (in row order, so the sum does not depend on threads).
func linearRowsBackward(dy, x, t, dx, dt []float32, n, m int) {
	tensor.ParallelRange(n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dyr, dxr := dy[r*m:(r+1)*m], dx[r*m:(r+1)*m]
			for i, d := range dyr {
				if d == 0 {
					continue
				}
				ti := t[i*m : (i+1)*m]
				for j := range dxr {
					dxr[j] += d * ti[j]
				}
			}
		}
	})
	for r := 0; r < n; r++ {
		dyr, xr := dy[r*m:(r+1)*m], x[r*m:(r+1)*m]
		for i, d := range dyr {
			row := dt[i*m : (i+1)*m]
			for j, v := range xr {
				row[j] += d * v
			}
		}
	}
}

// Stats holds batch-norm statistics recomputed for one subnet: the average
// of per-batch means and (biased) variances, as the reference recalibrates
// after extraction. An Eval pass given Stats uses them instead of the
// supernet's running statistics.
type Stats struct {
	sums map[*nn.BatchNorm2d]*bnSum
}

type bnSum struct {
	mean, variance []float64
	n              int
	final          [2][]float32
}

// NewStats returns empty statistics to fill with Calibrate passes.
func NewStats() *Stats { return &Stats{sums: map[*nn.BatchNorm2d]*bnSum{}} }

func (s *Stats) accumulate(bn *nn.BatchNorm2d, sv nn.BNSaved) {
	e, ok := s.sums[bn]
	if !ok {
		e = &bnSum{mean: make([]float64, len(sv.Mean)), variance: make([]float64, len(sv.Mean))}
		s.sums[bn] = e
	}
	for c, m := range sv.Mean {
		inv := float64(sv.InvStd[c])
		e.mean[c] += float64(m)
		e.variance[c] += 1/(inv*inv) - float64(bn.Eps)
	}
	e.n++
	e.final = [2][]float32{}
}

// lookup returns the averaged statistics of bn's first ch channels; a BN the
// calibration never saw falls back to its running statistics.
func (s *Stats) lookup(bn *nn.BatchNorm2d, ch int) ([]float32, []float32) {
	e, ok := s.sums[bn]
	if !ok || len(e.mean) != ch {
		return bn.RunningMean[:ch], bn.RunningVar[:ch]
	}
	if e.final[0] == nil {
		e.final = [2][]float32{make([]float32, ch), make([]float32, ch)}
		for c := 0; c < ch; c++ {
			e.final[0][c] = float32(e.mean[c] / float64(e.n))
			e.final[1][c] = float32(max(e.variance[c]/float64(e.n), 0))
		}
	}
	return e.final[0], e.final[1]
}
