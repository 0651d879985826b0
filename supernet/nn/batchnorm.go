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
	n, c, h, w := x.Dims4()
	checkBN(c, gamma, beta)
	hw, m := h*w, n*h*w
	y := ws.RawLike(x) // affine writes every element
	sv := BNSaved{Mean: ws.AllocRaw(c), InvStd: ws.AllocRaw(c)}
	tensor.Parallel(tensor.Workers(c), c, func(_, ch int) {
		var sum float64
		for i := 0; i < n; i++ {
			for _, v := range x.Data[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				sum += float64(v)
			}
		}
		mean := sum / float64(m)
		var ss float64
		for i := 0; i < n; i++ {
			for _, v := range x.Data[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				d := float64(v) - mean
				ss += d * d
			}
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
		scale := gamma[ch] * float32(inv)
		shift := beta[ch] - float32(mean)*scale
		affine(y.Data, x.Data, n, c, hw, ch, scale, shift)
	})
	return y, sv
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
	n, c, h, w := x.Dims4()
	tensor.MustSameShape("batch norm dy", dy.Shape, x.Shape)
	if dx != nil {
		tensor.MustSameShape("batch norm dx", dx.Shape, x.Shape)
	}
	hw, m := h*w, float64(n*h*w)
	tensor.Parallel(tensor.Workers(c), c, func(_, ch int) {
		mean, inv := sv.Mean[ch], sv.InvStd[ch]
		var sdy, sdyx float64
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			xs, ds := x.Data[o:o+hw], dy.Data[o:o+hw:o+hw]
			for j, v := range xs {
				d := float64(ds[j])
				sdy += d
				sdyx += d * float64((v-mean)*inv)
			}
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
			xs, ds, out := x.Data[o:o+hw], dy.Data[o:o+hw:o+hw], dx.Data[o:o+hw:o+hw]
			for j, v := range xs {
				out[j] += k * (ds[j] - mdy - (v-mean)*inv*mdyx)
			}
		}
	})
}

// affine writes y = x*scale + shift over channel ch of every image.
func affine(y, x []float32, n, c, hw, ch int, scale, shift float32) {
	for i := 0; i < n; i++ {
		o := (i*c + ch) * hw
		xs, ys := x[o:o+hw], y[o:o+hw:o+hw]
		for j, v := range xs {
			ys[j] = v*scale + shift
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
