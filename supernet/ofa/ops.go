package ofa

import (
	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/optim"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// convBNAct runs conv (no bias) -> batch norm -> activation with the given
// weight view w and its gradient view g.
func (p *pass) convBNAct(c *convBN, x *tensor.Tensor, w, g []float32, wshape []int, stride, pad, groups int, act nn.Act) *tensor.Tensor {
	wt := tensor.FromSlice(w, wshape...)
	conv := nn.Conv2D{Stride: stride, Pad: pad, Groups: groups}
	z := conv.Forward(p.ws, x, wt, nil)
	if t := p.tape; t != nil {
		isInput := len(t.ops) == 0 // the stem reads the image, which needs no gradient
		t.push(func() {
			dw := tensor.FromSlice(g, wshape...)
			if isInput {
				conv.Backward(p.ws, t.grad(z), x, wt, nil, dw, nil)
				return
			}
			// Backward runs in reverse, so the op that ran last forward writes
			// x's gradient first: overwriting saves zeroing the buffer.
			if dx, first := t.claim(x); first {
				conv.BackwardSet(p.ws, t.grad(z), x, wt, dx, dw, nil)
			} else {
				conv.Backward(p.ws, t.grad(z), x, wt, dx, dw, nil)
			}
		})
	}
	return p.batchNormAct(c, z, act)
}

// batchNormAct normalises z over its first C channels of c's parameters,
// then applies act. With batch statistics the two run as one fused pass
// (and one fused backward in training).
func (p *pass) batchNormAct(c *convBN, z *tensor.Tensor, act nn.Act) *tensor.Tensor {
	ch := z.Shape[1]
	gamma, beta := c.gamma.Data[:ch], c.beta.Data[:ch]
	bn := c.bn
	switch p.mode {
	case Train:
		y, sv := nn.BatchNormActTrain(p.ws, z, gamma, beta, bn.RunningMean[:ch], bn.RunningVar[:ch], bn.Momentum, bn.Eps, act)
		t := p.tape
		t.push(func() {
			// z's only reader is this batch norm, so its gradient is written
			// here, not accumulated: no zeroed buffer needed.
			nn.BatchNormActBackward(p.ws, act, t.grad(y), z, gamma, beta, sv, t.fresh(z), c.gamma.Grad[:ch], c.beta.Grad[:ch])
		})
		return y
	case Teacher:
		y, _ := nn.BatchNormActTrain(p.ws, z, gamma, beta, nil, nil, 0, bn.Eps, act)
		return y
	case Calibrate:
		y, sv := nn.BatchNormActTrain(p.ws, z, gamma, beta, nil, nil, 0, bn.Eps, act)
		p.stats.accumulate(bn, sv)
		return y
	}
	mean, variance := bn.RunningMean[:ch], bn.RunningVar[:ch]
	if p.stats != nil {
		mean, variance = p.stats.lookup(bn, ch)
	}
	return p.activate(act, nn.BatchNormEval(p.ws, z, gamma, beta, mean, variance, bn.Eps))
}

func (p *pass) activate(act nn.Act, x *tensor.Tensor) *tensor.Tensor {
	if act == nn.Identity {
		return x
	}
	y := act.Forward(p.ws, x)
	if t := p.tape; t != nil {
		t.push(func() { act.Backward(t.grad(y), x, t.grad(x)) })
	}
	return y
}

func (p *pass) add(a, b *tensor.Tensor) *tensor.Tensor {
	y := nn.Add(p.ws, a, b)
	if t := p.tape; t != nil {
		t.push(func() { nn.AddBackward(t.grad(y), t.grad(a), t.grad(b)) })
	}
	return y
}

func (p *pass) pool(x *tensor.Tensor) *tensor.Tensor {
	y := nn.GlobalAvgPool(p.ws, x)
	if t := p.tape; t != nil {
		t.push(func() { nn.GlobalAvgPoolBackward(t.grad(y), t.grad(x)) })
	}
	return y
}

func (p *pass) dropout(x *tensor.Tensor) *tensor.Tensor {
	y, mask := nn.Dropout(p.ws, x, p.drop, p.rng)
	if t := p.tape; t != nil {
		t.push(func() { nn.DropoutBackward(t.grad(y), mask, t.grad(x)) })
	}
	return y
}

func (p *pass) linear(x *tensor.Tensor, w, b *optim.Param, out, in int) *tensor.Tensor {
	wt := tensor.FromSlice(w.Data, out, in)
	y := nn.Linear(p.ws, x, wt, b.Data)
	if t := p.tape; t != nil {
		t.push(func() {
			nn.LinearBackward(t.grad(y), x, wt, t.grad(x), tensor.FromSlice(w.Grad, out, in), b.Grad)
		})
	}
	return y
}

// columns returns the first cols columns of a [rows, maxCols] parameter as
// a dense [rows, cols] weight and gradient. When the slice is not the whole
// matrix the weight is gathered into scratch, and a scatter of the scratch
// gradient is recorded on the tape now, so that it runs after the backward of
// whichever op uses the view.
func (p *pass) columns(w *optim.Param, rows, maxCols, cols int) ([]float32, []float32) {
	return p.sub(w, maxCols, rows, cols)
}

// sub views the top-left rows x c block of a parameter stored row-major with
// C columns.
func (p *pass) sub(w *optim.Param, C, rows, c int) ([]float32, []float32) {
	if c == C {
		return w.Data[:rows*C], w.Grad[:rows*C]
	}
	data := p.ws.AllocRaw(rows * c)
	for i := 0; i < rows; i++ {
		copy(data[i*c:(i+1)*c], w.Data[i*C:i*C+c])
	}
	if p.tape == nil {
		return data, nil
	}
	grad := p.ws.Alloc(rows * c)
	p.tape.push(func() {
		for i := 0; i < rows; i++ {
			dst := w.Grad[i*C : i*C+c]
			for j, v := range grad[i*c : (i+1)*c] {
				dst[j] += v
			}
		}
	})
	return data, grad
}

// squeezeExcite runs the block's SE on hid channels with the matching
// bottleneck width.
func (p *pass) squeezeExcite(b *block, x *tensor.Tensor, hid int) *tensor.Tensor {
	mid := seMid(hid)
	w1, g1 := p.sub(b.seW1, b.maxHidden, mid, hid)
	w2, g2 := p.sub(b.seW2, b.seMaxMid, hid, mid)
	weights := nn.SEWeights{
		W1: tensor.FromSlice(w1, mid, hid), B1: b.seB1.Data[:mid],
		W2: tensor.FromSlice(w2, hid, mid), B2: b.seB2.Data[:hid],
	}
	y, cache := nn.SqueezeExcite(p.ws, x, weights)
	if t := p.tape; t != nil {
		grads := nn.SEWeights{
			W1: tensor.FromSlice(g1, mid, hid), B1: b.seB1.Grad[:mid],
			W2: tensor.FromSlice(g2, hid, mid), B2: b.seB2.Grad[:hid],
		}
		t.push(func() {
			nn.SqueezeExciteBackward(p.ws, t.grad(y), x, weights, cache, t.grad(x), grads)
		})
	}
	return y
}
