package nn

import (
	"fmt"
	"math"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// Act is an element-wise activation. A value rather than a type per function
// lets the supernet pick one per block from its configuration.
type Act int

const (
	Identity    Act = iota
	ReLU            // max(x, 0)
	HardSwish       // x * relu6(x+3)/6, PyTorch's hardswish
	HardSigmoid     // relu6(x+3)/6, PyTorch's hardsigmoid
)

func (a Act) String() string {
	switch a {
	case Identity:
		return "identity"
	case ReLU:
		return "relu"
	case HardSwish:
		return "hswish"
	case HardSigmoid:
		return "hsigmoid"
	}
	return fmt.Sprintf("Act(%d)", int(a))
}

// Apply is the activation of one value.
func (a Act) Apply(v float32) float32 {
	switch a {
	case ReLU:
		return max(v, 0)
	case HardSwish:
		return v * min(max(v+3, 0), 6) / 6
	case HardSigmoid:
		return min(max(v+3, 0), 6) / 6
	}
	return v
}

// Grad is the derivative at v, choosing the same one-sided values as PyTorch
// at the kinks so gradients match its reference exactly.
func (a Act) Grad(v float32) float32 {
	switch a {
	case ReLU:
		if v > 0 {
			return 1
		}
		return 0
	case HardSwish:
		switch {
		case v < -3:
			return 0
		case v <= 3:
			return v/3 + 0.5
		}
		return 1
	case HardSigmoid:
		if v > -3 && v < 3 {
			return 1.0 / 6
		}
		return 0
	}
	return 1
}

// Forward returns a(x) as a new tensor from ws.
func (a Act) Forward(ws *tensor.Arena, x *tensor.Tensor) *tensor.Tensor {
	y := ws.RawLike(x) // every element is written
	a.apply(y.Data, x.Data)
	return y
}

// apply writes y = a(x); y may alias x.
func (a Act) apply(y, x []float32) {
	tensor.ParallelRange(len(x), func(lo, hi int) {
		ys, xs := y[lo:hi], x[lo:hi:hi]
		switch a {
		case ReLU:
			for i, v := range xs {
				ys[i] = max(v, 0)
			}
		case HardSwish:
			for i, v := range xs {
				ys[i] = v * min(max(v+3, 0), 6) / 6
			}
		default:
			for i, v := range xs {
				ys[i] = a.Apply(v)
			}
		}
	})
}

// Backward accumulates dx += dy * a'(x), where x is the forward input.
func (a Act) Backward(dy, x, dx *tensor.Tensor) {
	tensor.MustSameShape("activation dy", dy.Shape, x.Shape)
	tensor.MustSameShape("activation dx", dx.Shape, x.Shape)
	tensor.ParallelRange(len(x.Data), func(lo, hi int) {
		xs, ds, out := x.Data[lo:hi], dy.Data[lo:hi:hi], dx.Data[lo:hi:hi]
		// One loop per activation: a switch per element costs more than the
		// arithmetic (this was 20% of a training step).
		switch a {
		case ReLU:
			for i, v := range xs {
				if v > 0 {
					out[i] += ds[i]
				}
			}
		case HardSwish:
			for i, v := range xs {
				if v > 3 {
					out[i] += ds[i]
				} else if v >= -3 {
					out[i] += ds[i] * (v/3 + 0.5)
				}
			}
		default:
			for i, v := range xs {
				out[i] += ds[i] * a.Grad(v)
			}
		}
	})
}

// backwardAffine writes g = dy * a'(x*scale + shift): the gradient through a
// of the values batch norm fed it, recomputed from its input x. The cases are
// chosen by masks, not branches: the signs of activations are random, and
// mispredicted branches made this loop slower than the arithmetic.
func (a Act) backwardAffine(g, dy, x []float32, scale, shift float32) {
	dy, g = dy[:len(x)], g[:len(x)]
	switch a {
	case ReLU:
		for i, v := range x {
			g[i] = keepIf(v*scale+shift > 0, dy[i])
		}
	case HardSwish:
		for i, v := range x {
			u := v*scale + shift
			d := dy[i] * (u/3 + 0.5)
			if u > 3 {
				d = dy[i]
			}
			g[i] = keepIf(u >= -3, d)
		}
	default:
		for i, v := range x {
			g[i] = dy[i] * a.Grad(v*scale+shift)
		}
	}
}

// keepIf returns v when keep holds and +0 otherwise, without a branch.
func keepIf(keep bool, v float32) float32 {
	var m uint32
	if keep {
		m = ^uint32(0)
	}
	return math.Float32frombits(math.Float32bits(v) & m)
}
