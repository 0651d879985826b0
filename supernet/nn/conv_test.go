package nn

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

type convCase struct {
	n, cin, h, w, cout, k, stride, pad, groups int
	bias                                       bool
}

func (c convCase) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_o%d_k%d_s%d_p%d_g%d_b%v", c.n, c.cin, c.h, c.w, c.cout, c.k, c.stride, c.pad, c.groups, c.bias)
}

// convCases covers each path: pointwise, depthwise (kernels 3/5/7, strides
// 1 and 2, spatial sizes down to 2x2, odd sizes), and the im2col path (stem,
// grouped, depth multiplier, 1x1 stride 2, no padding).
var convCases = []convCase{
	{2, 5, 4, 3, 6, 1, 1, 0, 1, true},  // pointwise
	{3, 4, 2, 2, 2, 1, 1, 0, 1, false}, // pointwise, tiny plane
	{2, 4, 6, 6, 4, 3, 1, 1, 4, true},  // depthwise k3 s1
	{2, 3, 7, 7, 3, 3, 2, 1, 3, false}, // depthwise k3 s2 odd size
	{2, 3, 6, 6, 3, 5, 1, 2, 3, false}, // depthwise k5 s1
	{2, 3, 8, 8, 3, 5, 2, 2, 3, true},  // depthwise k5 s2
	{2, 2, 7, 7, 2, 7, 1, 3, 2, false}, // depthwise k7 s1
	{2, 2, 9, 9, 2, 7, 2, 3, 2, true},  // depthwise k7 s2
	{2, 3, 2, 2, 3, 7, 1, 3, 3, false}, // depthwise k7 on 2x2
	{2, 2, 5, 5, 2, 4, 1, 1, 2, false}, // depthwise generic kernel
	{2, 1, 7, 7, 4, 3, 2, 1, 1, true},  // stem k3 s2
	{2, 3, 5, 5, 4, 3, 1, 1, 1, false}, // dense k3 s1
	{2, 4, 5, 5, 6, 3, 1, 1, 2, true},  // grouped
	{2, 2, 5, 5, 4, 3, 2, 1, 2, false}, // depth multiplier 2
	{2, 3, 6, 6, 4, 1, 2, 0, 1, false}, // 1x1 stride 2
	{1, 2, 6, 5, 3, 3, 1, 0, 1, true},  // no padding
}

func (c convCase) setup(seed uint64) (Conv2D, *tensor.Tensor, *tensor.Tensor, []float32) {
	rng := newRNG(seed)
	x := randT(rng, c.n, c.cin, c.h, c.w)
	w := randT(rng, c.cout, c.cin/c.groups, c.k, c.k)
	var b []float32
	if c.bias {
		b = randT(rng, c.cout).Data
	}
	return Conv2D{Stride: c.stride, Pad: c.pad, Groups: c.groups}, x, w, b
}

// refConv is the textbook seven-loop convolution, the oracle for every path.
func refConv(cv Conv2D, x, w *tensor.Tensor, b []float32) *tensor.Tensor {
	g := cv.geom(x.Shape, w.Shape)
	y := tensor.New(g.n, g.cout, g.oh, g.ow)
	cig, cog := g.cin/g.grp, g.cout/g.grp
	for n := 0; n < g.n; n++ {
		for co := 0; co < g.cout; co++ {
			gr := co / cog
			for oy := 0; oy < g.oh; oy++ {
				for ox := 0; ox < g.ow; ox++ {
					var s float64
					if b != nil {
						s = float64(b[co])
					}
					for ci := 0; ci < cig; ci++ {
						for i := 0; i < g.kh; i++ {
							for j := 0; j < g.kw; j++ {
								iy, ix := oy*g.stride-g.pad+i, ox*g.stride-g.pad+j
								if iy < 0 || iy >= g.h || ix < 0 || ix >= g.w {
									continue
								}
								xv := x.Data[((n*g.cin+gr*cig+ci)*g.h+iy)*g.w+ix]
								wv := w.Data[((co*cig+ci)*g.kh+i)*g.kw+j]
								s += float64(xv) * float64(wv)
							}
						}
					}
					y.Data[((n*g.cout+co)*g.oh+oy)*g.ow+ox] = float32(s)
				}
			}
		}
	}
	return y
}

func TestConvForwardMatchesReference(t *testing.T) {
	for i, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			cv, x, w, b := c.setup(uint64(i))
			got, want := cv.Forward(nil, x, w, b), refConv(cv, x, w, b)
			if !tensor.SameShape(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			if d := tensor.MaxAbsDiff(got.Data, want.Data); d > 1e-4 {
				t.Errorf("max abs diff %g", d)
			}
		})
	}
}

func TestConvGradients(t *testing.T) {
	for i, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			cv, x, w, b := c.setup(uint64(100 + i))
			r := randT(newRNG(uint64(200+i)), cv.OutShape(x.Shape, w.Shape)...)
			f := func() float64 { return dot(cv.Forward(nil, x, w, b).Data, r.Data) }
			dx, dw := tensor.New(x.Shape...), tensor.New(w.Shape...)
			// Seed the buffers to check that Backward adds rather than writes.
			tensor.Fill(dx.Data, 0.5)
			tensor.Fill(dw.Data, -0.25)
			params := []gparam{{"x", x.Data, dx.Data}, {"w", w.Data, dw.Data}}
			var db []float32
			if b != nil {
				db = make([]float32, len(b))
				tensor.Fill(db, 1)
				params = append(params, gparam{"b", b, db})
			}
			cv.Backward(tensor.NewArena(64), r, x, w, dx, dw, db)
			for j := range dx.Data {
				dx.Data[j] -= 0.5
			}
			for j := range dw.Data {
				dw.Data[j] += 0.25
			}
			for j := range db {
				db[j]--
			}
			gradCheck(t, f, params, 1e-2, 2e-3)
		})
	}
}

// TestConvBackwardPartialGradients checks that nil buffers skip work without
// changing the gradients that are asked for.
func TestConvBackwardPartialGradients(t *testing.T) {
	for i, c := range convCases {
		cv, x, w, b := c.setup(uint64(300 + i))
		dy := randT(newRNG(uint64(i)), cv.OutShape(x.Shape, w.Shape)...)
		dx, dw := tensor.New(x.Shape...), tensor.New(w.Shape...)
		cv.Backward(nil, dy, x, w, dx, dw, make([]float32, c.cout))
		dx2, dw2 := tensor.New(x.Shape...), tensor.New(w.Shape...)
		cv.Backward(nil, dy, x, w, dx2, nil, nil)
		cv.Backward(nil, dy, x, w, nil, dw2, nil)
		_ = b
		if tensor.MaxAbsDiff(dx.Data, dx2.Data) != 0 || tensor.MaxAbsDiff(dw.Data, dw2.Data) != 0 {
			t.Errorf("%v: gradients change when others are skipped", c)
		}
	}
}

// TestConvDeterministicAcrossThreads runs supernet-like shapes on 1, 2 and 3
// threads and demands bit-identical outputs and gradients.
func TestConvDeterministicAcrossThreads(t *testing.T) {
	cases := []convCase{
		{16, 16, 14, 14, 24, 1, 1, 0, 1, true},
		{16, 24, 14, 14, 24, 7, 2, 3, 24, false},
		{16, 24, 7, 7, 24, 5, 1, 2, 24, true},
		{16, 1, 28, 28, 8, 3, 2, 1, 1, false},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, c := range cases {
		cv, x, w, b := c.setup(uint64(400 + i))
		dy := randT(newRNG(uint64(i)), cv.OutShape(x.Shape, w.Shape)...)
		var ref [][]float32
		for _, procs := range []int{1, 2, 3} {
			runtime.GOMAXPROCS(procs)
			ws := tensor.NewArena(0)
			y := cv.Forward(ws, x, w, b)
			dx, dw, db := ws.Like(x), ws.Like(w), ws.Alloc(c.cout)
			cv.Backward(ws, dy, x, w, dx, dw, db)
			got := [][]float32{y.Data, dx.Data, dw.Data, db}
			if ref == nil {
				ref = got
				continue
			}
			for k := range got {
				for j := range got[k] {
					if got[k][j] != ref[k][j] {
						t.Fatalf("%v: output %d differs at %d with GOMAXPROCS=%d", c, k, j, procs)
					}
				}
			}
		}
	}
}

// Forward hands out its output uninitialised, so every kernel path must write
// every element: run each on an arena full of NaN and compare with a run on
// fresh, zeroed memory.
func TestConvForwardWritesEveryOutput(t *testing.T) {
	for _, k := range append([]*dwKernels{nil}, dwPaths()...) {
		withDW(k, func() {
			for i, c := range convCases {
				cv, x, w, b := c.setup(uint64(i))
				for _, bias := range [][]float32{nil, b} {
					want := cv.Forward(nil, x, w, bias)
					n := 4*len(want.Data) + 1<<16
					ws := tensor.NewArena(n)
					tensor.Fill(ws.AllocRaw(n), float32(math.NaN()))
					ws.Reset()
					got := cv.Forward(ws, x, w, bias)
					if d := tensor.MaxAbsDiff(got.Data, want.Data); !(d == 0) {
						t.Errorf("%v (depthwise %v, bias %v): max abs diff %g from a zeroed output", c, k != nil, bias != nil, d)
					}
				}
			}
		})
	}
}

// BackwardSet must write every element of dx, on every kernel path: its dx
// starts as NaN here and must end equal to Backward's on a zeroed dx.
func TestConvBackwardSetOverwritesDX(t *testing.T) {
	for _, k := range append([]*dwKernels{nil}, dwPaths()...) {
		withDW(k, func() {
			for i, c := range convCases {
				cv, x, w, _ := c.setup(uint64(i))
				dy := randT(newRNG(uint64(i)+100), cv.OutShape(x.Shape, w.Shape)...)
				want := tensor.New(x.Shape...)
				cv.Backward(nil, dy, x, w, want, nil, nil)
				got := tensor.New(x.Shape...)
				tensor.Fill(got.Data, float32(math.NaN()))
				cv.BackwardSet(nil, dy, x, w, got, nil, nil)
				if d := tensor.MaxAbsDiff(got.Data, want.Data); !(d == 0) {
					t.Errorf("%v (depthwise %v): max abs diff %g from Backward on a zeroed dx", c, k != nil, d)
				}
			}
		})
	}
}
