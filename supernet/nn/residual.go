package nn

import "github.com/ofac-dev/ofac/supernet/tensor"

// Add returns a+b, the residual connection of an inverted-residual block.
func Add(ws *tensor.Arena, a, b *tensor.Tensor) *tensor.Tensor {
	tensor.MustSameShape("residual operand", b.Shape, a.Shape)
	y := ws.RawLike(a) // every element is written
	tensor.Add(y.Data, a.Data, b.Data)
	return y
}

// AddBackward accumulates dy into both operands' gradients (either may be nil).
func AddBackward(dy, da, db *tensor.Tensor) {
	if da != nil {
		tensor.AddTo(da.Data, dy.Data)
	}
	if db != nil {
		tensor.AddTo(db.Data, dy.Data)
	}
}
