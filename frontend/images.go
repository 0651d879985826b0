package frontend

import (
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/supernet/data"
)

// Images returns the first n images of set, normalised and resized to
// r x r as the training engine sees them at evaluation (no augmentation),
// as inputs for a subnet's graph: what the interpreter and the backends'
// checks run on.
func Images(set *data.Dataset, n, r int) []interp.Tensor {
	ep := data.NewLoader(set, 1, false, 0).Epoch(0)
	labels := make([]int, 1)
	out := make([]interp.Tensor, min(n, set.Len()))
	for i := range out {
		x := make([]float32, r*r)
		ep.Fill(i, r, x, labels)
		out[i] = interp.Tensor{Shape: ir.Shape{1, 1, r, r}, Data: x}
	}
	return out
}
