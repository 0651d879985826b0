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

func (t *tape) push(f func()) { t.ops = append(t.ops, f) }

// backward seeds dLoss/dOut and runs the recorded ops in reverse.
func (t *tape) backward(out, dout *tensor.Tensor) {
	t.grads[out] = dout
	for i := len(t.ops) - 1; i >= 0; i-- {
		t.ops[i]()
	}
}
