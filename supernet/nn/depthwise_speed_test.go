package nn

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// withDW runs f with the depthwise layers on kernel family k (nil: the
// portable row path).
func withDW(k *dwKernels, f func()) {
	old := dwFlat
	dwFlat = k
	defer func() { dwFlat = old }()
	f()
}

// dwPaths are the flat kernel families to test against the row path: the
// portable flat kernels plus every SIMD family this CPU runs.
func dwPaths() []*dwKernels { return append([]*dwKernels{dwGoKernels}, dwKernelSets()...) }

type dwResult struct{ y, dx, dw, db []float32 }

func runDW(c convCase, seed uint64, wantDX, wantDW bool) dwResult {
	cv, x, w, b := c.setup(seed)
	dy := randT(newRNG(seed+1), cv.OutShape(x.Shape, w.Shape)...)
	ws := tensor.NewArena(0)
	r := dwResult{y: cv.Forward(ws, x, w, b).Data}
	var dx, dw *tensor.Tensor
	if wantDX {
		dx = tensor.New(x.Shape...)
		tensor.Fill(dx.Data, 0.5) // Backward must add
	}
	if wantDW {
		dw = tensor.New(w.Shape...)
		tensor.Fill(dw.Data, -0.25)
	}
	r.db = make([]float32, c.cout)
	cv.Backward(ws, dy, x, w, dx, dw, r.db)
	if dx != nil {
		r.dx = dx.Data
	}
	if dw != nil {
		r.dw = dw.Data
	}
	return r
}

func maxAbs(a []float32) float32 {
	var m float32
	for _, v := range a {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return m
}

func closeTo(got, want []float32) bool {
	if len(got) != len(want) {
		return false
	}
	return tensor.MaxAbsDiff(got, want) <= 2e-5*max(1, maxAbs(want))
}

// dwShapeCases are depthwise convs with k in {3,5,7}, stride 1 and 2, same
// padding plus unpadded and over-padded variants, on planes 2..32.
func dwShapeCases() []convCase {
	var cs []convCase
	for _, k := range []int{3, 5, 7} {
		for _, s := range []int{1, 2} {
			for hw := 2; hw <= 32; hw++ {
				cs = append(cs, convCase{3, 5, hw, hw, 5, k, s, k / 2, 5, hw%3 == 0})
			}
			cs = append(cs,
				convCase{2, 3, 9, 11, 3, k, s, 0, 3, false},
				convCase{2, 3, 6, 5, 3, k, s, k - 1, 3, true},
				convCase{2, 3, 4, 7, 3, k, s, k, 3, false}, // pad > k-1
			)
		}
	}
	// Stride 3, a generic kernel size, and a case with several plane groups.
	cs = append(cs,
		convCase{2, 3, 11, 10, 3, 5, 3, 2, 3, true},
		convCase{2, 3, 8, 8, 3, 4, 2, 1, 3, false},
		convCase{2, 2, 5, 5, 2, 1, 2, 0, 2, false},
		convCase{20, 20, 32, 32, 20, 7, 1, 3, 20, true},
	)
	return cs
}

// TestDepthwiseFlatMatchesRows runs every flat kernel family against the
// portable row path: forward, dx, dw and db.
func TestDepthwiseFlatMatchesRows(t *testing.T) {
	cases := dwShapeCases()
	for i, c := range cases {
		var ref dwResult
		withDW(nil, func() { ref = runDW(c, uint64(i), true, true) })
		for _, k := range dwPaths() {
			var got dwResult
			withDW(k, func() { got = runDW(c, uint64(i), true, true) })
			for _, o := range []struct {
				name      string
				got, want []float32
			}{{"y", got.y, ref.y}, {"dx", got.dx, ref.dx}, {"dw", got.dw, ref.dw}, {"db", got.db, ref.db}} {
				if !closeTo(o.got, o.want) {
					t.Errorf("%s %v: %s differs from the row path by %g (scale %g)", k.name, c, o.name,
						tensor.MaxAbsDiff(o.got, o.want), maxAbs(o.want))
				}
			}
		}
	}
}

// TestDepthwiseFlatPartialGradients checks that skipping dx or dw leaves the
// other gradient bit-identical on every kernel family.
func TestDepthwiseFlatPartialGradients(t *testing.T) {
	for i, c := range []convCase{{3, 4, 7, 7, 4, 5, 2, 2, 4, true}, {3, 4, 6, 6, 4, 3, 1, 1, 4, false}} {
		for _, k := range dwPaths() {
			withDW(k, func() {
				all := runDW(c, uint64(i), true, true)
				dxOnly := runDW(c, uint64(i), true, false)
				dwOnly := runDW(c, uint64(i), false, true)
				if tensor.MaxAbsDiff(all.dx, dxOnly.dx) != 0 || tensor.MaxAbsDiff(all.dw, dwOnly.dw) != 0 {
					t.Errorf("%s %v: gradients change when others are skipped", k.name, c)
				}
			})
		}
	}
}

// TestDepthwiseFlatDeterministicAcrossThreads demands bit-identical results
// on 1, 2 and 3 threads from every kernel family.
func TestDepthwiseFlatDeterministicAcrossThreads(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cases := []convCase{
		{9, 24, 14, 14, 24, 7, 2, 3, 24, true},
		{9, 24, 7, 7, 24, 5, 1, 2, 24, false},
		{9, 24, 4, 4, 24, 3, 1, 1, 24, true},
		{20, 20, 32, 32, 20, 7, 1, 3, 20, true}, // several plane groups
	}
	for _, k := range dwPaths() {
		withDW(k, func() {
			for i, c := range cases {
				var ref dwResult
				for _, procs := range []int{1, 2, 3} {
					runtime.GOMAXPROCS(procs)
					got := runDW(c, uint64(i), true, true)
					if procs == 1 {
						ref = got
						continue
					}
					for _, o := range [][2][]float32{{got.y, ref.y}, {got.dx, ref.dx}, {got.dw, ref.dw}, {got.db, ref.db}} {
						if tensor.MaxAbsDiff(o[0], o[1]) != 0 {
							t.Fatalf("%s %v: results differ with GOMAXPROCS=%d", k.name, c, procs)
						}
					}
				}
			}
		})
	}
}

// dwBenchConvs are the supernet's depthwise shapes: MobileNetV3 blocks at
// 28x28 input, batch 64.
var dwBenchConvs = []struct {
	name string
	c    convCase
}{
	{"dw96_k7s2_14x14", convCase{64, 96, 14, 14, 96, 7, 2, 3, 96, false}},
	{"dw240_k5s1_7x7", convCase{64, 240, 7, 7, 240, 5, 1, 2, 240, false}},
	{"dw144_k3s1_14x14", convCase{64, 144, 14, 14, 144, 3, 1, 1, 144, false}},
	{"dw240_k7s2_7x7", convCase{64, 240, 7, 7, 240, 7, 2, 3, 240, false}},
	{"dw480_k5s1_4x4", convCase{64, 480, 4, 4, 480, 5, 1, 2, 480, false}},
	{"dw576_k3s1_2x2", convCase{64, 576, 2, 2, 576, 3, 1, 1, 576, false}},
	{"dw48_k3s1_28x28", convCase{64, 48, 28, 28, 48, 3, 1, 1, 48, false}},
}

// BenchmarkDepthwise compares the row path with the flat kernel families,
// forward and backward (dx and dw; twice the forward's FLOPs).
func BenchmarkDepthwise(b *testing.B) {
	paths := append([]*dwKernels{nil}, dwPaths()...)
	for _, bc := range dwBenchConvs {
		for _, k := range paths {
			name := "rows"
			if k != nil {
				name = k.name
			}
			cv, x, w, _ := bc.c.setup(1)
			dy := randT(newRNG(2), cv.OutShape(x.Shape, w.Shape)...)
			dx, dw := tensor.New(x.Shape...), tensor.New(w.Shape...)
			flops := cv.FLOPs(x.Shape, w.Shape)
			b.Run(fmt.Sprintf("fwd/%s/%s", bc.name, name), func(b *testing.B) {
				withDW(k, func() {
					ws := tensor.NewArena(0)
					cv.Forward(ws, x, w, nil)
					ws.Reset()
					b.ReportAllocs()
					b.ResetTimer()
					start := time.Now()
					for range b.N {
						cv.Forward(ws, x, w, nil)
						ws.Reset()
					}
					reportGFLOPs(b, flops, start)
				})
			})
			b.Run(fmt.Sprintf("bwd/%s/%s", bc.name, name), func(b *testing.B) {
				withDW(k, func() {
					ws := tensor.NewArena(0)
					cv.Backward(ws, dy, x, w, dx, dw, nil)
					ws.Reset()
					b.ReportAllocs()
					b.ResetTimer()
					start := time.Now()
					for range b.N {
						cv.Backward(ws, dy, x, w, dx, dw, nil)
						ws.Reset()
					}
					reportGFLOPs(b, 2*flops, start)
				})
			})
		}
	}
}
