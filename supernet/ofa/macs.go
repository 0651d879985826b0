package ofa

import "fmt"

// MACs counts the multiply-accumulates of one forward pass of subnet a on a
// single image, layer by layer as Forward runs it.
func (n *Net) MACs(a Arch) int64 {
	var total int64
	h := (a.R+2-3)/n.Space.StemStride() + 1 // stem: 3x3, pad 1
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
	if err := c.CopyFrom(n); err != nil {
		panic(err) // same space by construction
	}
	return c
}

// CopyFrom overwrites n's weights and running statistics with src's, which
// must be a network of the same search space.
func (n *Net) CopyFrom(src *Net) error {
	if !n.Space.Equal(src.Space) {
		return fmt.Errorf("networks of different search spaces (%s and %s)", spaceLabel(src.Space), spaceLabel(n.Space))
	}
	sp, dp := src.params, n.params
	sb, db := src.BatchNorms(), n.BatchNorms()
	if len(sp) != len(dp) || len(sb) != len(db) {
		return fmt.Errorf("networks differ: %d and %d parameters", len(sp), len(dp))
	}
	for i, p := range sp {
		if len(p.Data) != len(dp[i].Data) || p.Name != dp[i].Name {
			return fmt.Errorf("parameter %s has %d values, %s has %d", p.Name, len(p.Data), dp[i].Name, len(dp[i].Data))
		}
	}
	for i, p := range sp {
		copy(dp[i].Data, p.Data)
	}
	for i := range sb {
		copy(db[i].RunningMean, sb[i].RunningMean)
		copy(db[i].RunningVar, sb[i].RunningVar)
	}
	return nil
}

// spaceLabel names a space in messages: its --space name where it has one.
func spaceLabel(s SearchSpace) string {
	if name := s.Name(); name != "" {
		return name
	}
	return "unnamed"
}
