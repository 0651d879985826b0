package data

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestResizeIdentity(t *testing.T) {
	src := make([]float32, 7*5)
	for i := range src {
		src[i] = float32(i)*0.37 - 3
	}
	dst := make([]float32, len(src))
	Resize(dst, 7, 5, src, 7, 5)
	for i := range src {
		if math.Float32bits(dst[i]) != math.Float32bits(src[i]) {
			t.Fatalf("dst[%d] = %v, want %v exactly", i, dst[i], src[i])
		}
	}
}

func TestResizeConstant(t *testing.T) {
	const k = 0.3
	for _, sz := range [][4]int{{28, 28, 20, 20}, {28, 28, 32, 32}, {3, 5, 11, 2}, {1, 1, 4, 4}, {4, 4, 1, 1}} {
		src := make([]float32, sz[0]*sz[1])
		for i := range src {
			src[i] = k
		}
		dst := make([]float32, sz[2]*sz[3])
		Resize(dst, sz[2], sz[3], src, sz[0], sz[1])
		for i, v := range dst {
			if v != k {
				t.Fatalf("%v: dst[%d] = %v, want %v exactly", sz, i, v, float32(k))
			}
		}
	}
}

// TestResizeKnown checks values that PyTorch's F.interpolate(x, size,
// mode="bilinear", align_corners=False) gives.
func TestResizeKnown(t *testing.T) {
	check := func(name string, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("%s: got %v, want %v", name, got, want)
			}
		}
	}
	up := make([]float32, 16)
	Resize(up, 4, 4, []float32{1, 2, 3, 4}, 2, 2)
	check("2x2 to 4x4", up, []float32{
		1, 1.25, 1.75, 2,
		1.5, 1.75, 2.25, 2.5,
		2.5, 2.75, 3.25, 3.5,
		3, 3.25, 3.75, 4,
	})
	down := make([]float32, 2)
	Resize(down, 1, 2, []float32{1, 2, 3, 4}, 1, 4)
	check("1x4 to 1x2", down, []float32{1.5, 3.5})
	odd := make([]float32, 2)
	// 3 -> 2: src = (o+0.5)*1.5-0.5 = 0.25, 1.75.
	Resize(odd, 2, 1, []float32{0, 10, 20}, 3, 1)
	check("3x1 to 2x1", odd, []float32{2.5, 17.5})
}

// refResize is the textbook align_corners=false bilinear, in float64 and
// in the weighted-sum form PyTorch uses.
func refResize(src []float32, sh, sw, dh, dw int) []float64 {
	coord := func(o, in, out int) (int, int, float64) {
		s := (float64(o)+0.5)*float64(in)/float64(out) - 0.5
		s = math.Max(s, 0)
		i0 := min(int(math.Floor(s)), in-1)
		return i0, min(i0+1, in-1), s - float64(i0)
	}
	out := make([]float64, dh*dw)
	for y := range dh {
		y0, y1, ly := coord(y, sh, dh)
		for x := range dw {
			x0, x1, lx := coord(x, sw, dw)
			at := func(r, c int) float64 { return float64(src[r*sw+c]) }
			out[y*dw+x] = (1-ly)*((1-lx)*at(y0, x0)+lx*at(y0, x1)) + ly*((1-lx)*at(y1, x0)+lx*at(y1, x1))
		}
	}
	return out
}

func TestResizeMatchesReference(t *testing.T) {
	g := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		sh, sw, dh, dw := 1+g.IntN(40), 1+g.IntN(40), 1+g.IntN(40), 1+g.IntN(40)
		src := make([]float32, sh*sw)
		for i := range src {
			src[i] = float32(g.IntN(256))
		}
		dst := make([]float32, dh*dw)
		Resize(dst, dh, dw, src, sh, sw)
		want := refResize(src, sh, sw, dh, dw)
		for i := range dst {
			if math.Abs(float64(dst[i])-want[i]) > 1e-3 {
				t.Fatalf("%dx%d->%dx%d: dst[%d] = %v, want %v", sh, sw, dh, dw, i, dst[i], want[i])
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	for p := range 256 {
		want := (float64(p)/255 - Mean) / Std
		if got := normLUT[p]; math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("normLUT[%d] = %v, want %v", p, got, want)
		}
	}
}
