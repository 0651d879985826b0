package ofa

// MACs counts the multiply-accumulates of one forward pass of subnet a on a
// single image, layer by layer as Forward runs it.
func (n *Net) MACs(a Arch) int64 {
	var total int64
	h := (a.R+2-3)/2 + 1 // stem: 3x3, stride 2, pad 1
	conv := func(out, inPerGroup, k, oh int) {
		total += int64(out) * int64(inPerGroup) * int64(k*k) * int64(oh*oh)
	}
	conv(n.Space.Stem, 1, 3, h)
	blockMACs := func(b *block, k, e int) {
		hid := b.in
		if b.expand != nil {
			hid = hidden(b.in, e)
			conv(hid, b.in, 1, h)
		}
		oh := (h+2*(k/2)-k)/b.stride + 1
		conv(hid, 1, k, oh)
		h = oh
		if b.se {
			mid := seMid(hid)
			total += int64(2 * mid * hid)
		}
		conv(b.out, hid, 1, h)
	}
	blockMACs(n.first, 3, 1)
	for s := range n.Space.Stages {
		for j := 0; j < a.D[s]; j++ {
			i := s*n.Space.MaxDepth() + j
			blockMACs(n.blocks[i], a.KS[i], a.E[i])
		}
	}
	conv(n.Space.Head, n.blocks[len(n.blocks)-1].out, 1, h)
	total += int64(n.Space.Classes * n.Space.Head)
	return total
}

// Clone returns an independent copy of the supernet's weights and running
// statistics, used as the frozen distillation teacher.
func (n *Net) Clone() *Net {
	c := New(n.Space, 0)
	for i, p := range n.params {
		copy(c.params[i].Data, p.Data)
	}
	src, dst := n.BatchNorms(), c.BatchNorms()
	for i := range src {
		copy(dst[i].RunningMean, src[i].RunningMean)
		copy(dst[i].RunningVar, src[i].RunningVar)
	}
	return c
}
