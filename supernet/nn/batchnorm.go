package nn

import (
	"fmt"
	"math"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// BNSaved is what training-mode batch norm keeps for its backward pass: the
// per-channel batch mean and 1/sqrt(var+eps). x itself is recomputed into
// x-hat in backward rather than stored, which saves a full activation copy.
type BNSaved struct {
	Mean, InvStd []float32
}

// BatchNormTrain normalises x [N,C,H,W] with its batch statistics, then scales
// by gamma and shifts by beta. If runMean and runVar are not nil they are
// updated in place with PyTorch's rule: r = (1-momentum)*r + momentum*stat,
// using the unbiased variance for runVar. Statistics accumulate in float64 so
// they do not drift with batch size.
func BatchNormTrain(ws *tensor.Arena, x *tensor.Tensor, gamma, beta, runMean, runVar []float32, momentum, eps float32) (*tensor.Tensor, BNSaved) {
	return BatchNormActTrain(ws, x, gamma, beta, runMean, runVar, momentum, eps, Identity)
}

// BatchNormActTrain is BatchNormTrain followed by the activation act, written
// in the same pass over the output. The normalised values before act are not
// kept: BatchNormActBackward recomputes them from x, which saves writing and
// reading a full activation per layer (elementwise passes, not arithmetic,
// bound a training step).
func BatchNormActTrain(ws *tensor.Arena, x *tensor.Tensor, gamma, beta, runMean, runVar []float32, momentum, eps float32, act Act) (*tensor.Tensor, BNSaved) {
	n, c, h, w := x.Dims4()
	checkBN(c, gamma, beta)
	hw, m := h*w, n*h*w
	y := ws.RawLike(x) // affine writes every element
	sv := BNSaved{Mean: ws.AllocRaw(c), InvStd: ws.AllocRaw(c)}
	tensor.Parallel(tensor.Workers(c), c, func(_, ch int) {
		var sum float64
		for i := 0; i < n; i++ {
			sum += sum64(x.Data[(i*c+ch)*hw : (i*c+ch+1)*hw])
		}
		mean := sum / float64(m)
		var ss float64
		for i := 0; i < n; i++ {
			ss += sumSqDev64(x.Data[(i*c+ch)*hw:(i*c+ch+1)*hw], mean)
		}
		variance := ss / float64(m)
		inv := 1 / math.Sqrt(variance+float64(eps))
		sv.Mean[ch], sv.InvStd[ch] = float32(mean), float32(inv)
		if runMean != nil {
			runMean[ch] = (1-momentum)*runMean[ch] + momentum*float32(mean)
		}
		if runVar != nil {
			unbiased := variance
			if m > 1 {
				unbiased = ss / float64(m-1)
			}
			runVar[ch] = (1-momentum)*runVar[ch] + momentum*float32(unbiased)
		}
		scale, shift := bnAffine(gamma[ch], beta[ch], sv.Mean[ch], sv.InvStd[ch])
		affineAct(y.Data, x.Data, n, c, hw, ch, scale, shift, act)
	})
	return y, sv
}

// bnAffine folds a channel's batch statistics into y = x*scale + shift. The
// forward and backward passes both call it, so the values before the
// activation that backward recomputes are the forward's to the bit.
func bnAffine(gamma, beta, mean, invStd float32) (scale, shift float32) {
	scale = gamma * invStd
	return scale, beta - mean*scale
}

// BatchNormEval normalises with fixed statistics (inference mode).
func BatchNormEval(ws *tensor.Arena, x *tensor.Tensor, gamma, beta, mean, variance []float32, eps float32) *tensor.Tensor {
	n, c, h, w := x.Dims4()
	checkBN(c, gamma, beta)
	if len(mean) < c || len(variance) < c {
		panic(fmt.Sprintf("nn: batch norm statistics for %d channels, want %d", min(len(mean), len(variance)), c))
	}
	y := ws.RawLike(x) // affine writes every element
	tensor.Parallel(tensor.Workers(c), c, func(_, ch int) {
		scale := gamma[ch] * float32(1/math.Sqrt(float64(variance[ch])+float64(eps)))
		affine(y.Data, x.Data, n, c, h*w, ch, scale, beta[ch]-mean[ch]*scale)
	})
	return y
}

// BatchNormBackward accumulates the training-mode gradients:
// dgamma += sum(dy*xhat), dbeta += sum(dy), and
// dx += gamma*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)).
func BatchNormBackward(dy, x *tensor.Tensor, gamma []float32, sv BNSaved, dx *tensor.Tensor, dgamma, dbeta []float32) {
	bnBackward(nil, Identity, dy, x, gamma, nil, sv, dx, dgamma, dbeta, true)
}

// BatchNormActBackward is the backward pass of BatchNormActTrain: dy is the
// gradient of act's output. It accumulates dgamma and dbeta like
// BatchNormBackward but overwrites dx, so dx may come from AllocRaw: x (a
// conv's output) has batch norm as its only reader, and not zeroing its
// gradient saves a pass over memory.
func BatchNormActBackward(ws *tensor.Arena, act Act, dy, x *tensor.Tensor, gamma, beta []float32, sv BNSaved, dx *tensor.Tensor, dgamma, dbeta []float32) {
	bnBackward(ws, act, dy, x, gamma, beta, sv, dx, dgamma, dbeta, false)
}

// bnBackward computes the batch norm gradients through act; accumulate says
// whether dx is added to or overwritten.
func bnBackward(ws *tensor.Arena, act Act, dy, x *tensor.Tensor, gamma, beta []float32, sv BNSaved, dx *tensor.Tensor, dgamma, dbeta []float32, accumulate bool) {
	n, c, h, w := x.Dims4()
	tensor.MustSameShape("batch norm dy", dy.Shape, x.Shape)
	if dx != nil {
		tensor.MustSameShape("batch norm dx", dx.Shape, x.Shape)
	}
	hw, m := h*w, float64(n*h*w)
	workers := tensor.Workers(c)
	// With an activation, each worker keeps the gradient before it for the
	// channel in hand (n*hw floats, cache-sized) between the two passes.
	var scratch []float32
	if act != Identity {
		scratch = ws.AllocRaw(workers * n * hw)
	}
	tensor.Parallel(workers, c, func(worker, ch int) {
		mean, inv := sv.Mean[ch], sv.InvStd[ch]
		var g []float32 // dy through act, channel ch of every image
		if act != Identity {
			g = scratch[worker*n*hw : (worker+1)*n*hw]
			scale, shift := bnAffine(gamma[ch], beta[ch], mean, inv)
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				act.backwardAffine(g[i*hw:(i+1)*hw], dy.Data[o:o+hw], x.Data[o:o+hw], scale, shift)
			}
		}
		grad := func(i int) []float32 {
			if g != nil {
				return g[i*hw : (i+1)*hw]
			}
			o := (i*c + ch) * hw
			return dy.Data[o : o+hw]
		}
		var sdy, sdyx float64
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			a, b := bnGradSums(grad(i), x.Data[o:o+hw], mean, inv)
			sdy += a
			sdyx += b
		}
		if dgamma != nil {
			dgamma[ch] += float32(sdyx)
		}
		if dbeta != nil {
			dbeta[ch] += float32(sdy)
		}
		if dx == nil {
			return
		}
		k := gamma[ch] * inv
		mdy, mdyx := float32(sdy/m), float32(sdyx/m)
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			xs, ds, out := x.Data[o:o+hw], grad(i), dx.Data[o:o+hw:o+hw]
			ds = ds[:len(xs)]
			if accumulate {
				for j, v := range xs {
					out[j] += k * (ds[j] - mdy - (v-mean)*inv*mdyx)
				}
			} else {
				for j, v := range xs {
					out[j] = k * (ds[j] - mdy - (v-mean)*inv*mdyx)
				}
			}
		}
	})
}

// The reductions below keep several running sums per quantity (four in the
// forward statistics, two in the backward pass's pair), not one: a single
// float64 sum waits on the adder's latency for every element, and these
// loops were a tenth of a training step.

// sum64 returns the sum of xs in float64.
func sum64(xs []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		v := xs[i : i+4 : i+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for ; i < len(xs); i++ {
		s0 += float64(xs[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSqDev64 returns the sum of (x-mean)^2 over xs in float64.
func sumSqDev64(xs []float32, mean float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		v := xs[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(v[0])-mean, float64(v[1])-mean, float64(v[2])-mean, float64(v[3])-mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(xs); i++ {
		d := float64(xs[i]) - mean
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// bnGradSums returns sum(dy) and sum(dy*xhat), xhat = (x-mean)*inv, over one
// plane, in float64.
func bnGradSums(dy, xs []float32, mean, inv float32) (sdy, sdyx float64) {
	dy = dy[:len(xs)]
	var a0, a1, b0, b1 float64
	i := 0
	for ; i+2 <= len(xs); i += 2 {
		d0, d1 := float64(dy[i]), float64(dy[i+1])
		a0 += d0
		a1 += d1
		b0 += d0 * float64((xs[i]-mean)*inv)
		b1 += d1 * float64((xs[i+1]-mean)*inv)
	}
	if i < len(xs) {
		d := float64(dy[i])
		a0 += d
		b0 += d * float64((xs[i]-mean)*inv)
	}
	return a0 + a1, b0 + b1
}

// affine writes y = x*scale + shift over channel ch of every image.
func affine(y, x []float32, n, c, hw, ch int, scale, shift float32) {
	affineAct(y, x, n, c, hw, ch, scale, shift, Identity)
}

// affineAct writes y = act(x*scale + shift) over channel ch of every image,
// one loop per activation (a switch per element costs more than the
// arithmetic).
func affineAct(y, x []float32, n, c, hw, ch int, scale, shift float32, act Act) {
	for i := 0; i < n; i++ {
		o := (i*c + ch) * hw
		xs, ys := x[o:o+hw], y[o:o+hw:o+hw]
		switch act {
		case Identity:
			for j, v := range xs {
				ys[j] = v*scale + shift
			}
		case ReLU:
			for j, v := range xs {
				u := v*scale + shift
				ys[j] = keepIf(u > 0, u) // max(u, 0) but branch-free: the sign is random
			}
		case HardSwish:
			for j, v := range xs {
				// The builtin min and max order NaN and signed zeros at a
				// cost; u+3 is rarely outside [0, 6], so these branches
				// predict well.
				u := v*scale + shift
				t := u + 3
				if t < 0 {
					t = 0
				} else if t > 6 {
					t = 6
				}
				ys[j] = u * t / 6
			}
		default:
			for j, v := range xs {
				ys[j] = act.Apply(v*scale + shift)
			}
		}
	}
}

func checkBN(c int, gamma, beta []float32) {
	if len(gamma) != c || len(beta) != c {
		panic(fmt.Sprintf("nn: batch norm over %d channels given %d gammas and %d betas", c, len(gamma), len(beta)))
	}
}

// BatchNorm2d holds the running statistics of one max-width batch norm; the
// affine parameters stay with the caller's parameter store. A forward over
// fewer channels (an elastic width) uses and updates the first C entries, as
// OFA does.
type BatchNorm2d struct {
	Momentum    float32 // weight of the new batch statistic, PyTorch style
	Eps         float32
	RunningMean []float32
	RunningVar  []float32
}

// NewBatchNorm2d returns running statistics for c channels with PyTorch's
// defaults: mean 0, variance 1, momentum 0.1, eps 1e-5.
func NewBatchNorm2d(c int) *BatchNorm2d {
	bn := &BatchNorm2d{Momentum: 0.1, Eps: 1e-5, RunningMean: make([]float32, c), RunningVar: make([]float32, c)}
	tensor.Fill(bn.RunningVar, 1)
	return bn
}

// Forward runs training mode (batch statistics, running update) when train is
// true and inference mode (running statistics) otherwise. The BNSaved is
// only meaningful in training mode.
func (bn *BatchNorm2d) Forward(ws *tensor.Arena, x *tensor.Tensor, gamma, beta []float32, train bool) (*tensor.Tensor, BNSaved) {
	c := x.Shape[1]
	if c > len(bn.RunningMean) {
		panic(fmt.Sprintf("nn: batch norm input has %d channels, statistics only %d", c, len(bn.RunningMean)))
	}
	if train {
		return BatchNormTrain(ws, x, gamma, beta, bn.RunningMean[:c], bn.RunningVar[:c], bn.Momentum, bn.Eps)
	}
	return BatchNormEval(ws, x, gamma, beta, bn.RunningMean[:c], bn.RunningVar[:c], bn.Eps), BNSaved{}
}
