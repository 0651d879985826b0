package nn

import (
	"github.com/ofac-dev/ofac/supernet/gemm"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// The general convolution (the stem, grouped convs, anything the fast paths
// do not cover) unfolds each image and group into a column matrix
// col[Cin_g*KH*KW, OH*OW] and multiplies by the group's weight rows. It is the
// slow path: the supernet runs it only for the stem, where Cin is 1.

// im2col writes the column matrix of channels [c0, c0+cg) of one image x.
func im2col(g convGeom, x []float32, c0, cg int, col []float32) {
	ohw := g.oh * g.ow
	for ci := 0; ci < cg; ci++ {
		plane := x[(c0+ci)*g.h*g.w : (c0+ci+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[((ci*g.kh+i)*g.kw+j)*ohw:][:ohw]
				for oy := 0; oy < g.oh; oy++ {
					iy := oy*g.stride - g.pad + i
					out := row[oy*g.ow : (oy+1)*g.ow]
					if iy < 0 || iy >= g.h {
						clear(out)
						continue
					}
					src := plane[iy*g.w : (iy+1)*g.w]
					for ox := range out {
						ix := ox*g.stride - g.pad + j
						if ix < 0 || ix >= g.w {
							out[ox] = 0
						} else {
							out[ox] = src[ix]
						}
					}
				}
			}
		}
	}
}

// col2im adds the column matrix back onto channels [c0, c0+cg) of dx.
func col2im(g convGeom, col []float32, c0, cg int, dx []float32) {
	ohw := g.oh * g.ow
	for ci := 0; ci < cg; ci++ {
		plane := dx[(c0+ci)*g.h*g.w : (c0+ci+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[((ci*g.kh+i)*g.kw+j)*ohw:][:ohw]
				for oy := 0; oy < g.oh; oy++ {
					iy := oy*g.stride - g.pad + i
					if iy < 0 || iy >= g.h {
						continue
					}
					dst := plane[iy*g.w : (iy+1)*g.w]
					for ox, v := range row[oy*g.ow : (oy+1)*g.ow] {
						ix := ox*g.stride - g.pad + j
						if ix >= 0 && ix < g.w {
							dst[ix] += v
						}
					}
				}
			}
		}
	}
}

func im2colForward(ws *tensor.Arena, g convGeom, x, w, b, y []float32) {
	cig, cog := g.cin/g.grp, g.cout/g.grp
	kk, ohw := cig*g.kh*g.kw, g.oh*g.ow
	xs, ys := g.cin*g.h*g.w, g.cout*ohw
	workers := tensor.Workers(g.n)
	cols := ws.AllocRaw(workers * kk * ohw)
	tensor.Parallel(workers, g.n, func(wk, i int) {
		col := cols[wk*kk*ohw : (wk+1)*kk*ohw]
		xi, yi := x[i*xs:(i+1)*xs], y[i*ys:(i+1)*ys]
		for gr := 0; gr < g.grp; gr++ {
			im2col(g, xi, gr*cig, cig, col)
			gemm.Sgemm(false, false, cog, ohw, kk, 1, w[gr*cog*kk:], kk, col, ohw, 0, yi[gr*cog*ohw:], ohw)
		}
		if b != nil {
			addBias(yi, b, ohw)
		}
	})
}

func im2colBackward(ws *tensor.Arena, g convGeom, dy, x, w, dx, dw, db []float32) {
	cig, cog := g.cin/g.grp, g.cout/g.grp
	kk, ohw := cig*g.kh*g.kw, g.oh*g.ow
	xs, ys := g.cin*g.h*g.w, g.cout*ohw
	chunks := batchChunks(g.n)
	workers := tensor.Workers(chunks)
	cols := ws.AllocRaw(2 * workers * kk * ohw)
	var pw, pb partials
	if dw != nil {
		pw = newPartials(ws, chunks, len(dw))
	}
	if db != nil {
		pb = newPartials(ws, chunks, len(db))
	}
	tensor.Parallel(workers, chunks, func(wk, c int) {
		col := cols[2*wk*kk*ohw : (2*wk+1)*kk*ohw]
		dcol := cols[(2*wk+1)*kk*ohw : (2*wk+2)*kk*ohw]
		cw, cb := pw.get(c), pb.get(c)
		lo, hi := tensor.Split(g.n, chunks, c)
		for i := lo; i < hi; i++ {
			xi, dyi := x[i*xs:(i+1)*xs], dy[i*ys:(i+1)*ys]
			for gr := 0; gr < g.grp; gr++ {
				dyg := dyi[gr*cog*ohw:]
				if cw != nil {
					im2col(g, xi, gr*cig, cig, col)
					gemm.Sgemm(false, true, cog, kk, ohw, 1, dyg, ohw, col, ohw, 1, cw[gr*cog*kk:], kk)
				}
				if dx != nil {
					gemm.Sgemm(true, false, kk, ohw, cog, 1, w[gr*cog*kk:], kk, dyg, ohw, 0, dcol, ohw)
					col2im(g, dcol, gr*cig, cig, dx[i*xs:(i+1)*xs])
				}
			}
			if cb != nil {
				sumPlanes(cb, dyi, ohw)
			}
		}
	})
	pw.reduceInto(dw)
	pb.reduceInto(db)
}
