package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// gparam pairs a tensor's values with the analytic gradient backward
// produced for it.
type gparam struct {
	name string
	val  []float32
	grad []float32
}

// gradErrors compares every analytic gradient with a central difference of
// f, which must recompute the forward pass from the current values. Values
// are perturbed in float32; f sums in float64 so the loss itself adds little
// noise. It returns one message per element where
// |analytic - numeric| > tol * (1 + max(|analytic|, |numeric|)).
func gradErrors(f func() float64, params []gparam, eps float32, tol float64) []string {
	var errs []string
	for _, p := range params {
		if len(p.val) != len(p.grad) {
			errs = append(errs, fmt.Sprintf("%s: %d values, %d gradients", p.name, len(p.val), len(p.grad)))
			continue
		}
		for i := range p.val {
			v := p.val[i]
			hi, lo := v+eps, v-eps
			p.val[i] = hi
			fp := f()
			p.val[i] = lo
			fm := f()
			p.val[i] = v
			num := (fp - fm) / (float64(hi) - float64(lo))
			an := float64(p.grad[i])
			if d := math.Abs(an - num); d > tol*(1+math.Max(math.Abs(an), math.Abs(num))) || math.IsNaN(d) {
				errs = append(errs, fmt.Sprintf("%s[%d]: analytic %.6g numeric %.6g", p.name, i, an, num))
			}
		}
	}
	return errs
}

func gradCheck(t *testing.T, f func() float64, params []gparam, eps float32, tol float64) {
	t.Helper()
	errs := gradErrors(f, params, eps, tol)
	for i, e := range errs {
		if i == 10 {
			t.Errorf("... and %d more", len(errs)-10)
			break
		}
		t.Error(e)
	}
}

// dot is the projection loss sum(y*r): its gradient with respect to y is r,
// so backward is driven with dy = r.
func dot(y, r []float32) float64 {
	var s float64
	for i, v := range y {
		s += float64(v) * float64(r[i])
	}
	return s
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func randT(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	tensor.RandNormal(t.Data, 1, rng)
	return t
}

// TestGradCheckCatchesWrongGradient proves the checker is not vacuous: a
// gradient off by 2% in a single element must be reported.
func TestGradCheckCatchesWrongGradient(t *testing.T) {
	rng := newRNG(1)
	x, w := randT(rng, 2, 3, 6, 6), randT(rng, 3, 1, 3, 3)
	c := Conv2D{Stride: 1, Pad: 1, Groups: 3}
	r := randT(rng, c.OutShape(x.Shape, w.Shape)...)
	f := func() float64 { return dot(c.Forward(nil, x, w, nil).Data, r.Data) }
	dx, dw := tensor.New(x.Shape...), tensor.New(w.Shape...)
	c.Backward(nil, r, x, w, dx, dw, nil)
	params := []gparam{{"x", x.Data, dx.Data}, {"w", w.Data, dw.Data}}
	if errs := gradErrors(f, params, 1e-2, 2e-3); len(errs) != 0 {
		t.Fatalf("correct gradient rejected: %v", errs)
	}
	dw.Data[4] *= 1.02
	if errs := gradErrors(f, params, 1e-2, 2e-3); len(errs) != 1 {
		t.Fatalf("want exactly one error for a corrupted gradient, got %v", errs)
	}
}
