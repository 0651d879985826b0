package ofa

import (
	"math"
	"sort"

	"github.com/ofac-dev/ofac/supernet/optim"
)

// SortChannels reorders every elastic block's hidden channels by importance,
// the L1 norm of the project conv's input slice, most important first, and
// the squeeze-excite bottleneck by the L1 norm of its expand weights. Every
// tensor indexed by those channels is permuted to match, so the network
// computes the same function; an elastic width that keeps the first channels
// then keeps the most important ones. The reference does this before each
// width phase.
func (n *Net) SortChannels() {
	for _, b := range n.blocks {
		h := b.maxHidden
		order := importance(b.project.w.Data, b.out, h)
		permuteRows(b.expand.w, order, b.in)
		permuteConvBN(b.expand, order)
		permuteRows(b.dw.w, order, b.dw.shape[2]*b.dw.shape[3])
		permuteConvBN(b.dw, order)
		permuteCols(b.project.w, order, b.out, h)
		if b.se {
			permuteCols(b.seW1, order, b.seMaxMid, h)
			permuteRows(b.seW2, order, b.seMaxMid)
			permuteVec(b.seB2.Data, order)
			mid := importance(b.seW2.Data, h, b.seMaxMid)
			permuteRows(b.seW1, mid, h)
			permuteVec(b.seB1.Data, mid)
			permuteCols(b.seW2, mid, h, b.seMaxMid)
		}
	}
}

// importance returns the column order (cols of a rows x cols matrix) by
// descending L1 norm; ties keep their index order.
func importance(w []float32, rows, cols int) []int {
	norm := make([]float64, cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			norm[c] += math.Abs(float64(w[r*cols+c]))
		}
	}
	order := make([]int, cols)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return norm[order[a]] > norm[order[b]] })
	return order
}

func permuteRows(p *optim.Param, order []int, width int) {
	src := append([]float32(nil), p.Data[:len(order)*width]...)
	for i, o := range order {
		copy(p.Data[i*width:(i+1)*width], src[o*width:(o+1)*width])
	}
}

func permuteCols(p *optim.Param, order []int, rows, cols int) {
	src := append([]float32(nil), p.Data[:rows*cols]...)
	for r := 0; r < rows; r++ {
		for i, o := range order {
			p.Data[r*cols+i] = src[r*cols+o]
		}
	}
}

func permuteVec(v []float32, order []int) {
	src := append([]float32(nil), v[:len(order)]...)
	for i, o := range order {
		v[i] = src[o]
	}
}

func permuteConvBN(c *convBN, order []int) {
	permuteVec(c.gamma.Data, order)
	permuteVec(c.beta.Data, order)
	permuteVec(c.bn.RunningMean, order)
	permuteVec(c.bn.RunningVar, order)
}
