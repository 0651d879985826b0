package nn

import (
	"fmt"
	"math"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// CrossEntropy returns the batch-mean cross-entropy of logits [N,K] against
// integer labels, with PyTorch's label smoothing: the target is
// (1-smoothing)*onehot + smoothing/K. If dlogits is not nil it accumulates
// scale * dLoss/dlogits, so a caller can add a weighted distillation term into
// the same buffer. Softmax runs in float64 to keep large logits stable.
func CrossEntropy(logits *tensor.Tensor, labels []int, smoothing, scale float32, dlogits *tensor.Tensor) float64 {
	n, k := logits.Rows()
	if len(labels) != n {
		panic(fmt.Sprintf("nn: %d labels for %d rows", len(labels), n))
	}
	checkGrad(logits, dlogits)
	off := float64(smoothing) / float64(k)
	on := 1 - float64(smoothing) + off
	var total float64
	for i := 0; i < n; i++ {
		row := logits.Data[i*k : (i+1)*k]
		lab := labels[i]
		if lab < 0 || lab >= k {
			panic(fmt.Sprintf("nn: label %d outside [0,%d)", lab, k))
		}
		lse := logSumExp(row)
		for j, v := range row {
			t := off
			if j == lab {
				t = on
			}
			total -= t * (float64(v) - lse)
			if dlogits != nil {
				dlogits.Data[i*k+j] += scale * float32((math.Exp(float64(v)-lse)-t)/float64(n))
			}
		}
	}
	return total / float64(n)
}

// SoftCrossEntropy returns the batch-mean cross-entropy -sum(t*log softmax(z))
// of logits z against a teacher's probabilities t [N,K] (knowledge
// distillation). The teacher is a constant: no gradient flows into it.
// dlogits, if not nil, accumulates scale * dLoss/dlogits.
func SoftCrossEntropy(logits, target *tensor.Tensor, scale float32, dlogits *tensor.Tensor) float64 {
	n, k := logits.Rows()
	tensor.MustSameShape("soft target", target.Shape, logits.Shape)
	checkGrad(logits, dlogits)
	var total float64
	for i := 0; i < n; i++ {
		row, tr := logits.Data[i*k:(i+1)*k], target.Data[i*k:(i+1)*k]
		lse := logSumExp(row)
		for j, v := range row {
			t := float64(tr[j])
			total -= t * (float64(v) - lse)
			if dlogits != nil {
				dlogits.Data[i*k+j] += scale * float32((math.Exp(float64(v)-lse)-t)/float64(n))
			}
		}
	}
	return total / float64(n)
}

// Softmax returns the row-wise softmax of logits [N,K], e.g. the teacher's
// probabilities for SoftCrossEntropy.
func Softmax(ws *tensor.Arena, logits *tensor.Tensor) *tensor.Tensor {
	n, k := logits.Rows()
	y := ws.Like(logits)
	for i := 0; i < n; i++ {
		row := logits.Data[i*k : (i+1)*k]
		lse := logSumExp(row)
		for j, v := range row {
			y.Data[i*k+j] = float32(math.Exp(float64(v) - lse))
		}
	}
	return y
}

// Argmax returns each row's index of the largest logit (first on ties).
func Argmax(logits *tensor.Tensor) []int {
	n, k := logits.Rows()
	out := make([]int, n)
	for i := range out {
		row := logits.Data[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

func logSumExp(row []float32) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

func checkGrad(x, dx *tensor.Tensor) {
	if dx != nil && dx.Len() != x.Len() {
		panic(fmt.Sprintf("nn: gradient buffer %v for tensor %v", dx.Shape, x.Shape))
	}
}
