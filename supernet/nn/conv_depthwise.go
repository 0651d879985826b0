package nn

import "github.com/ofac-dev/ofac/supernet/tensor"

// Depthwise convolution (Groups == Cin == Cout) has too little arithmetic per
// byte for GEMM, so it runs as direct loops over zero-padded planes: copying a
// plane into a padded scratch removes every bounds test from the inner loops,
// and the row kernels in dwrows.go keep a kernel row's weights in registers.
//
// This file holds the portable path (used where no SIMD kernels exist, and
// tested against the SIMD path everywhere): see depthwise_flat.go for the
// dispatch and the flat-plane SIMD path.
//
// Forward runs images in parallel. Backward runs channels in parallel: each
// channel's weight gradient then sums over the batch in image order on one
// goroutine, which is deterministic without per-chunk partials.

// dwScratch is one worker's padded planes.
type dwScratch struct {
	hp, wp int
	xp     []float32 // padded input plane; the border stays zero
	dxp    []float32 // padded input-gradient plane (scatter path)
	acc    []float32 // one channel's weight gradient
	flip   []float32 // one channel's kernel rotated 180 degrees (gather path)
	dyp    []float32 // dy plane padded by kh-1-pad (gather path); border stays zero
	qh, qw int       // that padding
}

// gatherDX reports whether dx can be computed as a stride-1 correlation of
// padded dy with the rotated kernel. That form accumulates in registers and
// writes each dx element once, where the scatter form does a read-modify-write
// per tap; it needs stride 1 and pad <= k-1 (always true for same padding).
func (g convGeom) gatherDX() bool {
	return g.stride == 1 && g.pad <= g.kh-1 && g.pad <= g.kw-1
}

func newDWScratch(ws *tensor.Arena, g convGeom, workers int, backward bool) []dwScratch {
	hp, wp := g.h+2*g.pad, g.w+2*g.pad
	qh, qw := g.kh-1-g.pad, g.kw-1-g.pad
	dyh, dyw := g.oh+2*qh, g.ow+2*qw
	per := hp * wp
	if backward {
		per = 2*hp*wp + 2*g.kh*g.kw
		if g.gatherDX() {
			per += dyh * dyw
		}
	}
	buf := ws.Alloc(workers * per) // zeroed: the padding borders must be 0
	s := make([]dwScratch, workers)
	for i := range s {
		b := buf[i*per : (i+1)*per]
		s[i] = dwScratch{hp: hp, wp: wp, xp: b[:hp*wp]}
		if backward {
			kk := g.kh * g.kw
			s[i].dxp = b[hp*wp : 2*hp*wp]
			s[i].acc = b[2*hp*wp : 2*hp*wp+kk]
			s[i].flip = b[2*hp*wp+kk : 2*hp*wp+2*kk]
			if g.gatherDX() {
				s[i].dyp = b[2*hp*wp+2*kk:]
				s[i].qh, s[i].qw = qh, qw
			}
		}
	}
	return s
}

// dxGather adds into dx plane (h x w) the stride-1 input gradient of one
// plane: dx[y][x] += sum_ij flip[i][j] * dyp[y+i][x+j].
func (s *dwScratch) dxGather(g convGeom, dyPlane, dxPlane []float32) {
	dyw := g.ow + 2*s.qw
	for y := 0; y < g.oh; y++ {
		copy(s.dyp[(y+s.qh)*dyw+s.qw:][:g.ow], dyPlane[y*g.ow:(y+1)*g.ow])
	}
	for y := 0; y < g.h; y++ {
		out := dxPlane[y*g.w : (y+1)*g.w]
		for r := 0; r < g.kh; r++ {
			dwForwardRow(out, s.dyp[(y+r)*dyw:], s.flip[r*g.kw:(r+1)*g.kw], 1)
		}
	}
}

// pad copies plane (h x w) into the interior of s.xp.
func (s *dwScratch) pad(g convGeom, plane []float32) {
	for y := 0; y < g.h; y++ {
		copy(s.xp[(y+g.pad)*s.wp+g.pad:][:g.w], plane[y*g.w:(y+1)*g.w])
	}
}

func depthwiseForwardRows(ws *tensor.Arena, g convGeom, x, w, b, y []float32) {
	hw, ohw, kk := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	workers := tensor.Workers(g.n)
	scr := newDWScratch(ws, g, workers, false)
	tensor.Parallel(workers, g.n, func(wk, i int) {
		s := &scr[wk]
		for c := 0; c < g.cin; c++ {
			p := i*g.cin + c
			s.pad(g, x[p*hw:(p+1)*hw])
			out := y[p*ohw : (p+1)*ohw]
			if b != nil {
				tensor.Fill(out, b[c])
			} else {
				clear(out) // the rows below add into it
			}
			k := w[c*kk : (c+1)*kk]
			for oy := 0; oy < g.oh; oy++ {
				yr := out[oy*g.ow : (oy+1)*g.ow]
				for r := 0; r < g.kh; r++ {
					dwForwardRow(yr, s.xp[(oy*g.stride+r)*s.wp:], k[r*g.kw:(r+1)*g.kw], g.stride)
				}
			}
		}
	})
}

func depthwiseBackwardRows(ws *tensor.Arena, g convGeom, dy, x, w, dx, dw, db []float32) {
	hw, ohw, kk := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	workers := tensor.Workers(g.cin)
	scr := newDWScratch(ws, g, workers, true)
	tensor.Parallel(workers, g.cin, func(wk, c int) {
		s := &scr[wk]
		k := w[c*kk : (c+1)*kk]
		for j, v := range k {
			s.flip[kk-1-j] = v
		}
		clear(s.acc)
		var bsum float32
		for i := 0; i < g.n; i++ {
			p := i*g.cin + c
			dyp := dy[p*ohw : (p+1)*ohw]
			if dw != nil {
				s.pad(g, x[p*hw:(p+1)*hw])
				for oy := 0; oy < g.oh; oy++ {
					dr := dyp[oy*g.ow : (oy+1)*g.ow]
					for r := 0; r < g.kh; r++ {
						dwWeightRow(s.acc[r*g.kw:(r+1)*g.kw], dr, s.xp[(oy*g.stride+r)*s.wp:], g.stride)
					}
				}
			}
			if dx != nil && s.dyp != nil {
				s.dxGather(g, dyp, dx[p*hw:(p+1)*hw])
			} else if dx != nil {
				clear(s.dxp)
				for oy := 0; oy < g.oh; oy++ {
					dr := dyp[oy*g.ow : (oy+1)*g.ow]
					for r := 0; r < g.kh; r++ {
						dwInputRow(s.dxp[(oy*g.stride+r)*s.wp:], dr, k[r*g.kw:(r+1)*g.kw], g.stride)
					}
				}
				plane := dx[p*hw : (p+1)*hw]
				for y := 0; y < g.h; y++ {
					src := s.dxp[(y+g.pad)*s.wp+g.pad:][:g.w]
					dst := plane[y*g.w : (y+1)*g.w]
					for j := range dst {
						dst[j] += src[j]
					}
				}
			}
			if db != nil {
				for _, v := range dyp {
					bsum += v
				}
			}
		}
		if dw != nil {
			dst := dw[c*kk : (c+1)*kk]
			for j := range dst {
				dst[j] += s.acc[j]
			}
		}
		if db != nil {
			db[c] += bsum
		}
	})
}
