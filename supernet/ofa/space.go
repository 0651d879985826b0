package ofa

import (
	"bytes"
	"encoding/json"
)

// Stage is one elastic stage of the supernet: up to MaxDepth MBConv blocks
// that share an output width. The first block applies the stride.
type Stage struct {
	Width  int
	Stride int
	SE     bool // squeeze-excite in every block of the stage
	HSwish bool // h-swish activations; ReLU otherwise
}

// SearchSpace fixes everything about the supernet that is not elastic.
// Widths are the reference MobileNetV3 space scaled for 28x28 grey images
// on a 2-core CPU: the largest subnet must train in well under an hour per
// dozen epochs (see MODELS.md for the measured cost).
type SearchSpace struct {
	Stem int // 3x3 conv, h-swish; stride 2 as the reference
	// StemStride1 runs the stem at stride 1, so the first block sees the
	// full input resolution. Off (the zero value) in every space that files
	// written before the field existed describe.
	StemStride1 bool
	First       int // the fixed MBConv (expand 1, kernel 3, ReLU) after the stem
	Stages      []Stage
	Head        int // 1x1 conv before global pooling, h-swish
	Classes     int
	Kernels     []int
	Expands     []int
	Depths      []int
	Resolutions []int
}

// StemStride is the stride of the stem convolution.
func (s *SearchSpace) StemStride() int {
	if s.StemStride1 {
		return 1
	}
	return 2
}

// MaxDepth is the most blocks a stage can run.
func (s *SearchSpace) MaxDepth() int { return s.Depths[len(s.Depths)-1] }

// MaxBlocks is the number of elastic blocks the supernet stores.
func (s *SearchSpace) MaxBlocks() int { return len(s.Stages) * s.MaxDepth() }

// Default is the reference-shaped space, the one every shipped supernet up
// to ps11 was trained in (the shipped ps16 is of Fine): stages in the
// reference's shape (SE in stages 2, 4 and 5; ReLU in 1-2, h-swish in 3-5; strides
// 1,2,2,1,2 after a stride-2 stem, so 28x28 inputs reach 2x2 before the head).
var Default = SearchSpace{
	Stem:  16,
	First: 16,
	Stages: []Stage{
		{Width: 24, Stride: 1},
		{Width: 32, Stride: 2, SE: true},
		{Width: 48, Stride: 2, HSwish: true},
		{Width: 64, Stride: 1, SE: true, HSwish: true},
		{Width: 96, Stride: 2, SE: true, HSwish: true},
	},
	Head:        384,
	Classes:     10,
	Kernels:     []int{3, 5, 7},
	Expands:     []int{3, 4, 6},
	Depths:      []int{2, 3, 4},
	Resolutions: []int{20, 24, 28, 32},
}

// Tiny keeps every structural feature of Default (SE, h-swish, strides,
// residuals, every kernel and expand ratio) at a size that trains in
// seconds: for tests and smoke runs, never for accuracy.
var Tiny = SearchSpace{
	Stem: 4, First: 4,
	Stages: []Stage{
		{Width: 8, Stride: 1, HSwish: true},
		{Width: 8, Stride: 2, SE: true, HSwish: true},
		{Width: 16, Stride: 2, SE: true, HSwish: true},
	},
	Head: 16, Classes: 10,
	Kernels: []int{3, 5, 7}, Expands: []int{3, 4, 6}, Depths: []int{1, 2},
	Resolutions: []int{8, 12},
}

// Fine is Default with less downsampling: a stride-1 stem and first block
// (stage 1 takes the stride instead) and a stride-1 stage 5, so 28x28
// inputs reach 4x4 before the head instead of 2x2, for about 1.3 times the
// largest subnet's MACs. It began as the experiment of MODELS.md ("Less
// downsampling") on whether the stride-2 stem and the 2x2 last stage bound
// the largest subnet's accuracy, and is the space of the shipped supernet
// (ps16).
var Fine = func() SearchSpace {
	s := Default
	s.StemStride1 = true
	s.Stages = append([]Stage(nil), Default.Stages...)
	s.Stages[0].Stride = 2
	s.Stages[4].Stride = 1
	return s
}()

// Wide is Fine at one and a half times the width (stem, first block, every
// stage and the head), for about twice the largest subnet's MACs, which
// puts it outside the training budget the shipped spaces keep. It is the
// experiment of MODELS.md ("Wider stages") on whether width, after
// downsampling, bounds the largest subnet's accuracy.
var Wide = func() SearchSpace {
	s := Fine
	s.Stem, s.First, s.Head = 24, 24, 576
	s.Stages = append([]Stage(nil), Fine.Stages...)
	for i, w := range []int{32, 48, 72, 96, 144} {
		s.Stages[i].Width = w
	}
	return s
}()

// Near is Fine with input resolutions 24, 26, 28 and 30 instead of 20, 24,
// 28 and 32: a network trained at every resolution of Fine gave up 0.36
// (test) to 0.58 (validation) points at 28 pixels against one trained at 28 alone (MODELS.md, "The cost
// of every resolution"), and resolutions closer to 28 may cost it less. It
// is the experiment of that section.
var Near = func() SearchSpace {
	s := Fine
	s.Resolutions = []int{24, 26, 28, 30}
	return s
}()

// Spaces are the named search spaces the CLI accepts.
var Spaces = map[string]SearchSpace{"default": Default, "tiny": Tiny, "fine": Fine, "wide": Wide, "near": Near}

// Equal reports whether two spaces are the same. Default and Fine have
// tensors of the same shapes, so comparing shapes alone cannot tell them
// apart; the JSON form compares every field, and treats a slice read back
// from a file the same as the literal it was written from.
func (s SearchSpace) Equal(o SearchSpace) bool {
	x, errX := json.Marshal(s)
	y, errY := json.Marshal(o)
	return errX == nil && errY == nil && bytes.Equal(x, y)
}

// Name is the key of s in Spaces, or "" for a space not among them.
func (s SearchSpace) Name() string {
	for name, sp := range Spaces {
		if s.Equal(sp) {
			return name
		}
	}
	return ""
}
