package nn

import (
	"math"
	"testing"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

func TestActivationValues(t *testing.T) {
	cases := []struct {
		a       Act
		in, out float32
	}{
		{ReLU, -1, 0}, {ReLU, 2, 2},
		{HardSigmoid, -4, 0}, {HardSigmoid, 0, 0.5}, {HardSigmoid, 1.5, 0.75}, {HardSigmoid, 4, 1},
		{HardSwish, -4, 0}, {HardSwish, 1, 1 * 4.0 / 6}, {HardSwish, -1, -1 * 2.0 / 6}, {HardSwish, 5, 5},
		{Identity, -3, -3},
	}
	for _, c := range cases {
		if got := c.a.Apply(c.in); math.Abs(float64(got-c.out)) > 1e-6 {
			t.Errorf("%v(%g) = %g, want %g", c.a, c.in, got, c.out)
		}
	}
	// PyTorch's choices at the kinks.
	kinks := []struct {
		a        Act
		in, grad float32
	}{
		{ReLU, 0, 0}, {HardSwish, -3, -0.5}, {HardSwish, 3, 1.5}, {HardSigmoid, -3, 0}, {HardSigmoid, 3, 0},
	}
	for _, c := range kinks {
		if got := c.a.Grad(c.in); got != c.grad {
			t.Errorf("%v'(%g) = %g, want %g", c.a, c.in, got, c.grad)
		}
	}
}

func TestActivationGradients(t *testing.T) {
	for _, a := range []Act{Identity, ReLU, HardSwish, HardSigmoid} {
		rng := newRNG(uint64(a) + 10)
		x := tensor.New(2, 3, 4, 4)
		for i := range x.Data {
			// Spread over [-5, 5] but keep clear of the kinks at 0 and +-3,
			// where a central difference straddles two slopes.
			for {
				v := float32(10*rng.Float64() - 5)
				if math.Abs(float64(v)) > 0.05 && math.Abs(math.Abs(float64(v))-3) > 0.05 {
					x.Data[i] = v
					break
				}
			}
		}
		r := randT(rng, x.Shape...)
		f := func() float64 { return dot(a.Forward(nil, x).Data, r.Data) }
		dx := tensor.New(x.Shape...)
		a.Backward(r, x, dx)
		gradCheck(t, f, []gparam{{a.String(), x.Data, dx.Data}}, 1e-2, 2e-3)
	}
}
