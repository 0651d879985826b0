package optim

import (
	"fmt"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// Param is one trainable tensor as the optimiser sees it: its values, the
// gradient accumulated for them this step, and whether weight decay applies.
// Data and Grad must stay the same slices for the optimiser's lifetime.
type Param struct {
	Name  string
	Data  []float32
	Grad  []float32
	Decay bool
}

// SGD is stochastic gradient descent with momentum, PyTorch's torch.optim.SGD
// with dampening 0:
//
//	g = grad + wd*p            (wd only if the param has Decay)
//	buf = momentum*buf + g     (buf starts at 0, so the first buf is g)
//	step = g + momentum*buf    (Nesterov) or buf
//	p -= lr * step
type SGD struct {
	Momentum    float32
	WeightDecay float32
	Nesterov    bool
	params      []*Param
	bufs        [][]float32
}

// NewSGD returns an optimiser over params in the given order, which is the
// order State uses.
func NewSGD(cfg Config, params []*Param) *SGD {
	o := &SGD{Momentum: float32(cfg.Momentum), WeightDecay: float32(cfg.WeightDecay), Nesterov: cfg.Nesterov, params: params}
	o.bufs = make([][]float32, len(params))
	for i, p := range params {
		if len(p.Data) != len(p.Grad) {
			panic(fmt.Sprintf("optim: param %q has %d values and %d gradients", p.Name, len(p.Data), len(p.Grad)))
		}
		o.bufs[i] = make([]float32, len(p.Data))
	}
	return o
}

// Params returns the registered parameters in state order.
func (o *SGD) Params() []*Param { return o.params }

// Step applies one update with learning rate lr. Gradients are left as they
// are; the caller zeroes them (ZeroGrad) before the next backward pass.
// Element-wise work is split in fixed blocks, so the result does not depend
// on GOMAXPROCS.
func (o *SGD) Step(lr float32) {
	mom, nest := o.Momentum, o.Nesterov
	for i, p := range o.params {
		wd := float32(0)
		if p.Decay {
			wd = o.WeightDecay
		}
		buf := o.bufs[i]
		tensor.ParallelRange(len(p.Data), func(lo, hi int) {
			d, g, b := p.Data[lo:hi], p.Grad[lo:hi:hi], buf[lo:hi:hi]
			for j := range d {
				gj := g[j] + wd*d[j]
				b[j] = mom*b[j] + gj
				if nest {
					gj += mom * b[j]
				} else {
					gj = b[j]
				}
				d[j] -= lr * gj
			}
		})
	}
}

// ZeroGrad clears every parameter's gradient.
func (o *SGD) ZeroGrad() {
	for _, p := range o.params {
		clear(p.Grad)
	}
}

// State returns the momentum buffers, one per parameter in registration
// order. The slices are the live buffers: a checkpoint writer copies them out.
func (o *SGD) State() [][]float32 { return o.bufs }

// SetState restores momentum buffers saved from State, copying them in. It
// fails without changing anything if the count or any length differs.
func (o *SGD) SetState(bufs [][]float32) error {
	if len(bufs) != len(o.bufs) {
		return fmt.Errorf("optim: state has %d buffers, optimiser has %d params", len(bufs), len(o.bufs))
	}
	for i, b := range bufs {
		if len(b) != len(o.bufs[i]) {
			return fmt.Errorf("optim: state buffer %d (%s) has %d values, want %d", i, o.params[i].Name, len(b), len(o.bufs[i]))
		}
	}
	for i, b := range bufs {
		copy(o.bufs[i], b)
	}
	return nil
}
