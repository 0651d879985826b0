package nn

import (
	"math/rand/v2"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// Dropout zeroes each element with probability p and scales survivors by
// 1/(1-p) (inverted dropout, as PyTorch). The mask is drawn from rng in
// element order on the calling goroutine, so a seeded rng makes training
// reproducible. It returns y and the mask (0 or 1/(1-p) per element) that
// DropoutBackward needs; with p == 0 the mask is nil and y is a copy of x.
func Dropout(ws *tensor.Arena, x *tensor.Tensor, p float32, rng *rand.Rand) (y, mask *tensor.Tensor) {
	y = ws.Like(x)
	if p <= 0 {
		copy(y.Data, x.Data)
		return y, nil
	}
	mask = ws.Like(x)
	if p >= 1 {
		return y, mask
	}
	keep := 1 / (1 - p)
	for i, v := range x.Data {
		if rng.Float32() >= p {
			mask.Data[i] = keep
			y.Data[i] = v * keep
		}
	}
	return y, mask
}

// DropoutBackward accumulates dx += dy*mask (dx += dy when mask is nil).
func DropoutBackward(dy, mask, dx *tensor.Tensor) {
	if mask == nil {
		tensor.AddTo(dx.Data, dy.Data)
		return
	}
	for i, m := range mask.Data {
		dx.Data[i] += dy.Data[i] * m
	}
}
