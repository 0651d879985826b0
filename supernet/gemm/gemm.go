// Package gemm is the single-precision matrix multiply under the training
// engine. The API is BLAS-like and row-major.
//
// The implementation follows the GotoBLAS/BLIS scheme: op(B) is packed into
// KC x NC panels and op(A) into MC x KC blocks laid out in the exact order a
// register-tile micro-kernel reads them, so the kernel streams contiguous
// memory from cache. On amd64 the micro-kernels are generated assembly (see
// internal/asmgen) chosen at run time: AVX-512 (14x32 tiles) or AVX2+FMA
// (6x16 tiles). Elsewhere, or with the purego build tag, a pure-Go kernel runs.
package gemm

import (
	"fmt"
	"runtime"
	"sync"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(X) is X or its transpose. op(A) is m x k, op(B) is k x n, C is m x n.
// lda, ldb and ldc are the row strides of A, B and C as stored.
//
// Results do not depend on the number of threads: work is split over rows and
// columns of C, never over k, so every element sums in the same order.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(defaultKernels, runtime.GOMAXPROCS(0), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// kernelSet is one micro-kernel family plus the block sizes tuned for it.
type kernelSet struct {
	name   string
	mr, nr int // register tile: up to mr rows, exactly nr columns
	// mc, kc, nc are the cache blocks. mc is a multiple of mr and nc of nr so
	// that every task and block starts on a tile boundary of the whole C: the
	// tiles (and so the arithmetic of each element) are then the same for any
	// thread count. kc is fixed per kernel set for the same reason.
	mc, kc, nc int
	// tile computes C[0:r, 0:nr] = alpha*acc + beta*C (C unread if beta == 0)
	// where acc[i][j] = sum_p a[p*r+i]*b[p*ldb+j] for p in [0, kc), 1 <= r <= mr.
	// ldb is nr for a packed B panel, or B's own stride when B is read in place.
	tile func(r, kc int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
}

// minFlopsPerThread keeps small products on one goroutine: below it the cost
// of starting goroutines and packing twice outweighs the parallel speed-up.
// A variable so the determinism test can force every split.
var minFlopsPerThread = 1 << 20

func sgemm(ks *kernelSet, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	checkMatrix("C", c, m, n, ldc)
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if transA {
		checkMatrix("A", a, k, m, lda)
	} else {
		checkMatrix("A", a, m, k, lda)
	}
	if transB {
		checkMatrix("B", b, n, k, ldb)
	} else {
		checkMatrix("B", b, k, n, ldb)
	}

	p := &problem{ks: ks, transA: transA, transB: transB, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}

	// Split C into a pm x pn grid of tile-aligned parts, one per goroutine.
	mt := (m + ks.mr - 1) / ks.mr // row tiles
	nt := (n + ks.nr - 1) / ks.nr // column tiles
	if f := 2 * m * n * k / minFlopsPerThread; f < threads {
		threads = max(f, 1)
	}
	threads = min(threads, mt*nt)
	pm, pn := grid(threads, mt, nt, ks.mr, ks.nr)
	if pm*pn == 1 {
		p.run(0, m, 0, n)
		return
	}
	var wg sync.WaitGroup
	for bi := range pm {
		i0, i1 := split(mt, pm, bi, ks.mr, m)
		for bj := range pn {
			j0, j1 := split(nt, pn, bj, ks.nr, n)
			if i0 == i1 || j0 == j1 {
				continue
			}
			wg.Go(func() { p.run(i0, i1, j0, j1) })
		}
	}
	wg.Wait()
}

// grid picks pm*pn <= threads parts that minimise the largest part's area;
// ties go to fewer row parts because splitting columns shares the (usually
// smaller) packed A rather than packed B.
func grid(threads, mt, nt, mr, nr int) (pm, pn int) {
	best := -1
	for cm := 1; cm <= threads; cm++ {
		cn := threads / cm
		if cm > mt || cn > nt {
			continue
		}
		area := ((mt + cm - 1) / cm) * mr * ((nt + cn - 1) / cn) * nr
		if best < 0 || area < best {
			best, pm, pn = area, cm, cn
		}
	}
	if best < 0 {
		return 1, 1
	}
	return pm, pn
}

// split returns the element range of part i when tiles tiles of size ts are
// shared among parts parts; the last range is clipped to total.
func split(tiles, parts, i, ts, total int) (lo, hi int) {
	lo = min(tiles*i/parts*ts, total)
	hi = min(tiles*(i+1)/parts*ts, total)
	return lo, hi
}

func checkMatrix(name string, x []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("gemm: ld%s=%d < max(1, %d columns)", name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("gemm: len(%s)=%d < %d needed for %dx%d with stride %d", name, len(x), need, rows, cols, ld))
	}
}

// scaleC sets C = beta*C; beta == 0 writes zeros so NaNs in C do not survive.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// directBMaxRows is how many row tiles of C at most read B unpacked.
var directBMaxRows = 4

type problem struct {
	ks             *kernelSet
	transA, transB bool
	k              int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

type buffers struct{ a, b, tmp []float32 }

var bufPool sync.Pool

// run computes the block C[i0:i1, j0:j1] on the calling goroutine.
func (p *problem) run(i0, i1, j0, j1 int) {
	ks := p.ks
	mr, nr := ks.mr, ks.nr
	bf, _ := bufPool.Get().(*buffers)
	if bf == nil {
		bf = new(buffers)
	}
	kcMax := min(ks.kc, p.k)
	if n := min(ks.mc, i1-i0) * kcMax; len(bf.a) < n {
		bf.a = make([]float32, n)
	}
	ncMax := min(ks.nc, (j1-j0+nr-1)/nr*nr)
	if n := ncMax * kcMax; len(bf.b) < n {
		bf.b = make([]float32, n)
	}
	if n := mr * nr; len(bf.tmp) < n {
		bf.tmp = make([]float32, n)
	}
	ap, bp, tmp := bf.a, bf.b, bf.tmp[:mr*nr]

	// With few rows of C each packed B element would be used by only a tile
	// or two, so copying B costs about as much as the FMAs it feeds (conv
	// shapes: 24 x 12544 x 72). A non-transposed B already has each k step's
	// nr values contiguous; the kernel then reads it in place with stride ldb.
	direct := !p.transB && i1-i0 <= directBMaxRows*mr

	for jc := j0; jc < j1; jc += ks.nc {
		nc := min(ks.nc, j1-jc)
		for pc := 0; pc < p.k; pc += ks.kc {
			kc := min(ks.kc, p.k-pc)
			// Later k blocks add onto the partial sums already in C.
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			if !direct {
				packB(p.transB, p.b, p.ldb, pc, kc, jc, nc, nr, bp)
			}
			for ic := i0; ic < i1; ic += ks.mc {
				mc := min(ks.mc, i1-ic)
				packA(p.transA, p.a, p.lda, ic, mc, pc, kc, mr, ap)
				for jr := 0; jr < nc; jr += nr {
					cols := min(nr, nc-jr)
					var bpan []float32
					ldb := nr
					switch {
					case !direct:
						bpan = bp[jr*kc : (jr+nr)*kc]
					case cols == nr:
						bpan, ldb = p.b[pc*p.ldb+jc+jr:], p.ldb
					default:
						// The right edge of an in-place B would make the
						// kernel read past row ends: pack just this panel.
						bpan = bp[:nr*kc]
						packB(false, p.b, p.ldb, pc, kc, jc+jr, cols, nr, bpan)
					}
					for ir := 0; ir < mc; ir += mr {
						r := min(mr, mc-ir)
						apan := ap[ir*kc : (ir+r)*kc]
						off := (ic+ir)*p.ldc + jc + jr
						if cols == nr {
							ks.tile(r, kc, apan, bpan, ldb, p.c[off:], p.ldc, p.alpha, beta)
							continue
						}
						// Right edge: the kernel always writes nr columns, so
						// let it write a scratch tile and copy the valid part.
						ks.tile(r, kc, apan, bpan, ldb, tmp, nr, 1, 0)
						for i := range r {
							row := p.c[off+i*p.ldc : off+i*p.ldc+cols]
							t := tmp[i*nr : i*nr+cols]
							if beta == 0 {
								for j := range row {
									row[j] = p.alpha * t[j]
								}
							} else {
								for j := range row {
									row[j] = p.alpha*t[j] + beta*row[j]
								}
							}
						}
					}
				}
			}
		}
	}
	bufPool.Put(bf)
}

// packA copies op(A)[i0:i0+mc, p0:p0+kc] into dst as row panels of mr rows
// (the last may be shorter, r rows): panel ir holds, for each p, its r values
// of column p, i.e. dst[ir*kc + p*r + i] = op(A)[i0+ir+i, p0+p].
func packA(trans bool, a []float32, lda, i0, mc, p0, kc, mr int, dst []float32) {
	for ir := 0; ir < mc; ir += mr {
		r := min(mr, mc-ir)
		d := dst[ir*kc : (ir+r)*kc]
		if trans {
			// op(A)[i, p] = a[p*lda+i]: each p is a contiguous run of r.
			for p := range kc {
				s := (p0+p)*lda + i0 + ir
				copy(d[p*r:p*r+r], a[s:s+r])
			}
			continue
		}
		// op(A)[i, p] = a[i*lda+p]: a transpose. Four rows at a time keep
		// the writes dense (four adjacent values per p) and let the compiler
		// drop bounds checks on the reads, which matters when A is packed
		// for only a couple of column panels (960 x 64 x 160).
		i := 0
		for ; i+4 <= r; i += 4 {
			s := (i0+ir+i)*lda + p0
			s0 := a[s : s+kc]
			s1 := a[s+lda : s+lda+kc][:len(s0)]
			s2 := a[s+2*lda : s+2*lda+kc][:len(s0)]
			s3 := a[s+3*lda : s+3*lda+kc][:len(s0)]
			for p := range s0 {
				dd := d[p*r+i : p*r+i+4 : p*r+i+4]
				dd[0], dd[1], dd[2], dd[3] = s0[p], s1[p], s2[p], s3[p]
			}
		}
		for ; i < r; i++ {
			s := (i0+ir+i)*lda + p0
			for p, v := range a[s : s+kc] {
				d[p*r+i] = v
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into dst as column panels of nr
// columns, zero-padded on the right: dst[jr*kc + p*nr + j] = op(B)[p0+p, j0+jr+j].
func packB(trans bool, b []float32, ldb, p0, kc, j0, nc, nr int, dst []float32) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		d := dst[jr*kc : (jr+nr)*kc]
		if !trans {
			for p := range kc {
				s := (p0+p)*ldb + j0 + jr
				row := d[p*nr : p*nr+nr]
				copy(row, b[s:s+cols])
				clear(row[cols:])
			}
			continue
		}
		// op(B)[p, j] = b[j*ldb+p]: gather each stored row into a column.
		for j := range cols {
			s := (j0+jr+j)*ldb + p0
			src := b[s : s+kc]
			for p, v := range src {
				d[p*nr+j] = v
			}
		}
		if cols < nr {
			for p := range kc {
				clear(d[p*nr+cols : p*nr+nr])
			}
		}
	}
}
