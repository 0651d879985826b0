package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// refGemm is the float64-accumulating reference for Sgemm.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

// magGemm is sum_p |a||b|*|alpha| + |beta*c|, the scale that bounds the
// rounding error of any summation order.
func magGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	abs := func(x []float32) []float32 {
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = float32(math.Abs(float64(v)))
		}
		return y
	}
	return refGemm(transA, transB, m, n, k, float32(math.Abs(float64(alpha))), abs(a), lda, abs(b), ldb, float32(math.Abs(float64(beta))), abs(c), ldc)
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	lda, ldb, ldc  int
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g lda=%d ldb=%d ldc=%d",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.lda, tc.ldb, tc.ldc)
}

// operands builds A, B and C for tc; C is filled with NaN when beta == 0 to
// check that it is never read.
func (tc gemmCase) operands(r *rand.Rand) (a, b, c []float32) {
	ra, ca := tc.m, tc.k
	if tc.transA {
		ra, ca = ca, ra
	}
	rb, cb := tc.k, tc.n
	if tc.transB {
		rb, cb = cb, rb
	}
	a = randSlice(r, max(0, (ra-1)*tc.lda+ca))
	b = randSlice(r, max(0, (rb-1)*tc.ldb+cb))
	c = randSlice(r, max(0, (tc.m-1)*tc.ldc+tc.n))
	if tc.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	return a, b, c
}

func randCase(r *rand.Rand, maxDim int) gemmCase {
	tc := gemmCase{
		transA: r.IntN(2) == 1, transB: r.IntN(2) == 1,
		m: 1 + r.IntN(maxDim), n: 1 + r.IntN(maxDim), k: 1 + r.IntN(maxDim),
	}
	alphas := []float32{1, -1, 0.5, 2.25, 0}
	betas := []float32{0, 1, -0.75, 3}
	tc.alpha = alphas[r.IntN(len(alphas))]
	tc.beta = betas[r.IntN(len(betas))]
	pad := func() int {
		if r.IntN(2) == 0 {
			return 0
		}
		return 1 + r.IntN(5)
	}
	tc.lda = tc.k + pad()
	if tc.transA {
		tc.lda = tc.m + pad()
	}
	tc.ldb = tc.n + pad()
	if tc.transB {
		tc.ldb = tc.k + pad()
	}
	tc.ldc = tc.n + pad()
	return tc
}

// check runs ks on tc and compares with the reference, including that C's
// padding between rows is untouched.
func check(t *testing.T, ks *kernelSet, threads int, tc gemmCase, r *rand.Rand) {
	t.Helper()
	a, b, c := tc.operands(r)
	want := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, tc.lda, b, tc.ldb, tc.beta, c, tc.ldc)
	mag := magGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, tc.lda, b, tc.ldb, tc.beta, c, tc.ldc)
	orig := append([]float32(nil), c...)
	sgemm(ks, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, tc.lda, b, tc.ldb, tc.beta, c, tc.ldc)
	// float32 rounding error of a k-term sum is at most about k*eps*sum|terms|.
	eps := float64(tc.k+2) * 0x1p-23 * 2
	for i := range tc.m {
		for j := range tc.ldc {
			idx := i*tc.ldc + j
			if idx >= len(c) {
				break
			}
			got := float64(c[idx])
			if j >= tc.n {
				if math.Float32bits(c[idx]) != math.Float32bits(orig[idx]) {
					t.Fatalf("%s %v: padding C[%d,%d] changed", ks.name, tc, i, j)
				}
				continue
			}
			w := want[i*tc.n+j]
			if tol := eps*mag[i*tc.n+j] + 1e-30; math.Abs(got-w) > tol || math.IsNaN(got) {
				t.Fatalf("%s threads=%d %v: C[%d,%d] = %g, want %g (tol %g)", ks.name, threads, tc, i, j, got, w, tol)
			}
		}
	}
}

func TestSgemmRandom(t *testing.T) {
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for range 1500 {
				check(t, ks, 1+r.IntN(3), randCase(r, 70), r)
			}
		})
	}
}

// TestSgemmBlocks crosses the MC, KC and NC block edges of every kernel set.
func TestSgemmBlocks(t *testing.T) {
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			dims := [][3]int{
				{ks.mc + 1, ks.nr + 3, ks.kc + 1},
				{2*ks.mc + ks.mr - 1, ks.nc + 2*ks.nr + 1, 2*ks.kc + 7},
				{ks.mr, ks.nc, ks.kc},
				{3, ks.nc + 5, 3*ks.kc - 1},
			}
			for _, d := range dims {
				for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
					tc := randCase(r, 1)
					tc.transA, tc.transB = tr[0], tr[1]
					tc.m, tc.n, tc.k = d[0], d[1], d[2]
					tc.lda, tc.ldb, tc.ldc = tc.k+1, tc.n+2, tc.n+3
					if tc.transA {
						tc.lda = tc.m + 1
					}
					if tc.transB {
						tc.ldb = tc.k + 2
					}
					tc.alpha = 1.5
					check(t, ks, 2, tc, r)
				}
			}
		})
	}
}

func TestSgemmDegenerate(t *testing.T) {
	nan := float32(math.NaN())
	for _, ks := range kernelSets() {
		// m or n zero: nothing is touched, even nil slices are fine.
		sgemm(ks, 2, false, false, 0, 5, 3, 1, nil, 3, nil, 5, 0, nil, 5)
		sgemm(ks, 2, false, false, 5, 0, 3, 1, nil, 3, nil, 0, 0, nil, 1)
		// k zero: C = beta*C; beta 0 clears NaN.
		c := []float32{nan, 2, nan, 4}
		sgemm(ks, 2, false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
		for _, v := range c {
			if v != 0 {
				t.Fatalf("%s: k=0 beta=0 gave %v", ks.name, c)
			}
		}
		c = []float32{1, 2, 3, 4}
		sgemm(ks, 2, false, false, 2, 2, 0, 1, nil, 1, nil, 2, 2, c, 2)
		if c[3] != 8 {
			t.Fatalf("%s: k=0 beta=2 gave %v", ks.name, c)
		}
		// alpha zero: A and B are not used (not even NaN in them).
		a := []float32{nan, nan}
		c = []float32{1, 2}
		sgemm(ks, 2, false, false, 1, 2, 1, 0, a, 1, a, 2, 1, c, 2)
		if c[0] != 1 || c[1] != 2 {
			t.Fatalf("%s: alpha=0 beta=1 gave %v", ks.name, c)
		}
	}
}

func TestSgemmPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	a := make([]float32, 6)
	mustPanic("short A", func() { Sgemm(false, false, 2, 2, 3, 1, a[:5], 3, a, 2, 0, a, 2) })
	mustPanic("short C", func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, a, 2, 0, a[:3], 2) })
	mustPanic("small lda", func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) })
	mustPanic("negative", func() { Sgemm(false, false, -1, 2, 3, 1, a, 3, a, 2, 0, a, 2) })
}

// TestSgemmThreadIndependence checks bit-identical results for 1..8 threads,
// on shapes big enough that every thread count really splits the work.
func TestSgemmThreadIndependence(t *testing.T) {
	defer func(v int) { minFlopsPerThread = v }(minFlopsPerThread)
	minFlopsPerThread = 1
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			shapes := []gemmCase{
				{m: 97, n: 301, k: 300, alpha: 1.25, beta: 0.5},
				{m: 24, n: 14 * 14 * 4, k: 72, alpha: 1, beta: 0, transB: true},
				{m: 40, n: 7*7*4 + 3, k: 240, alpha: 1, beta: 0},
				{m: 333, n: 45, k: 530, alpha: -1, beta: 1, transA: true},
				{m: 2*ks.mc + 5, n: ks.nc + 17, k: ks.kc + 3, alpha: 1, beta: 0},
			}
			for _, tc := range shapes {
				tc.lda, tc.ldb, tc.ldc = tc.k, tc.n, tc.n
				if tc.transA {
					tc.lda = tc.m
				}
				if tc.transB {
					tc.ldb = tc.k
				}
				a, b, c0 := tc.operands(r)
				var first []float32
				for threads := 1; threads <= 8; threads++ {
					c := append([]float32(nil), c0...)
					sgemm(ks, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, tc.lda, b, tc.ldb, tc.beta, c, tc.ldc)
					if first == nil {
						first = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
							t.Fatalf("%v: threads=%d differs from 1 thread at %d: %g vs %g", tc, threads, i, c[i], first[i])
						}
					}
				}
			}
		})
	}
}

// TestKernelSets makes sure the wide paths are really exercised here.
func TestKernelSets(t *testing.T) {
	var names []string
	for _, ks := range kernelSets() {
		names = append(names, ks.name)
	}
	t.Logf("GOARCH=%s kernel sets %v, default %s", runtime.GOARCH, names, defaultKernels.name)
}

type benchShape struct {
	name    string
	m, n, k int
}

// Conv shapes are pointwise convolutions in NCHW with batch 64: C_out x C_in
// times C_in x (H*W*batch).
var benchShapes = []benchShape{
	{"256", 256, 256, 256},
	{"1024", 1024, 1024, 1024},
	{"conv_24x12544x72", 24, 14 * 14 * 64, 72},
	{"conv_144x3136x24", 144, 7 * 7 * 64, 24},
	{"conv_40x3136x240", 40, 7 * 7 * 64, 240},
	{"conv_960x64x160", 960, 64, 160},
}

func benchGemm(b *testing.B, run func(m, n, k int, a, bm, c []float32)) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 8))
			a, bm, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			run(s.m, s.n, s.k, a, bm, c) // warm up buffers
			b.ResetTimer()
			for b.Loop() {
				run(s.m, s.n, s.k, a, bm, c)
			}
			b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemm is the public entry point with GOMAXPROCS threads.
func BenchmarkSgemm(b *testing.B) {
	benchGemm(b, func(m, n, k int, a, bm, c []float32) {
		Sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
	})
}

// BenchmarkSgemmST is single-threaded whatever GOMAXPROCS is: the figure to
// compare with single-threaded OpenBLAS.
func BenchmarkSgemmST(b *testing.B) {
	benchGemm(b, func(m, n, k int, a, bm, c []float32) {
		sgemm(defaultKernels, 1, false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
	})
}

// BenchmarkSgemmKernels runs every kernel set single-threaded.
func BenchmarkSgemmKernels(b *testing.B) {
	for _, ks := range kernelSets() {
		b.Run(ks.name, func(b *testing.B) {
			benchGemm(b, func(m, n, k int, a, bm, c []float32) {
				sgemm(ks, 1, false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
			})
		})
	}
}
