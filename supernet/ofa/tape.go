package ofa

import "github.com/ofac-dev/ofac/supernet/tensor"

// tape records, during a training forward pass, one closure per op that
// back-propagates through it. Backward runs them in reverse. Gradients of
// activations are allocated lazily from the step's arena; gradients of
// parameters go straight into the optim.Param buffers, so the gradients of
// several subnets sampled in one step add up there.
type tape struct {
	ws    *tensor.Arena
	grads map[*tensor.Tensor]*tensor.Tensor
	ops   []func()
}

func newTape(ws *tensor.Arena) *tape {
	return &tape{ws: ws, grads: map[*tensor.Tensor]*tensor.Tensor{}}
}

// grad returns the gradient buffer of an activation, creating it zeroed.
func (t *tape) grad(x *tensor.Tensor) *tensor.Tensor {
	g, ok := t.grads[x]
	if !ok {
		g = t.ws.Like(x)
		t.grads[x] = g
	}
	return g
}

// fresh returns an uninitialised gradient buffer for x, for the one op that
// writes all of x's gradient (x has no other reader). It must be the only
// writer: a later grad(x) would add to it.
func (t *tape) fresh(x *tensor.Tensor) *tensor.Tensor {
	if _, ok := t.grads[x]; ok {
		panic("ofa: fresh gradient asked for an activation that already has one")
	}
	g := t.ws.RawLike(x)
	t.grads[x] = g
	return g
}

// claim returns x's gradient buffer and whether the caller is its first
// writer. A first writer gets the buffer uninitialised and must overwrite all
// of it; later writers add to it.
func (t *tape) claim(x *tensor.Tensor) (g *tensor.Tensor, first bool) {
	if g, ok := t.grads[x]; ok {
		return g, false
	}
	return t.fresh(x), true
}

func (t *tape) push(f func()) { t.ops = append(t.ops, f) }

// backward seeds dLoss/dOut and runs the recorded ops in reverse.
func (t *tape) backward(out, dout *tensor.Tensor) {
	t.grads[out] = dout
	for i := len(t.ops) - 1; i >= 0; i-- {
		t.ops[i]()
	}
}
