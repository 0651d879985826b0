package train

import (
	"fmt"

	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/optim"
)

// Phase is one stage of progressive shrinking: which choices of the space
// are open, how many subnets each step samples, for how long and how fast.
type Phase struct {
	Name    string  `json:"name"`
	Epochs  int     `json:"epochs"`
	LR      float64 `json:"lr"`
	Samples int     `json:"samples"` // subnets per step; their gradients add up
	Kernels []int   `json:"kernels"`
	Expands []int   `json:"expands"`
	Depths  []int   `json:"depths"`
	// Resolutions sampled per batch.
	Resolutions []int `json:"resolutions"`
	// Distill from the teacher: the network as it was after the full phase,
	// or one given from outside (ofac train --teacher), which every phase
	// then distils from, the full one included.
	Distill bool `json:"distill"`
	// SortChannels re-orders hidden channels by importance before the phase.
	SortChannels bool `json:"sort_channels"`
	// Sandwich makes the first of each step's samples the largest subnet
	// the phase opens and, in a step of more than two, the second the
	// smallest, at the step's resolution; only the others are drawn at
	// random. This is the sandwich rule of BigNAS (Yu et al., 2020). With
	// random draws alone the full network is almost never trained once its
	// phase is over (for example 1 in 3^20 kernel draws), and it lost 1.4-2.2
	// points of validation top-1 over the short elastic phases of every run
	// so far (MODELS.md).
	Sandwich bool `json:"sandwich,omitempty"`
	// Fixed, when set, trains this one architecture and nothing else.
	Fixed *ofa.Arch `json:"fixed,omitempty"`
}

// Config is everything that decides a training run's result. It is saved in
// every checkpoint, and a resumed run must use the same one.
type Config struct {
	Optim     optim.Config `json:"optim"`
	BatchSize int          `json:"batch_size"`
	Seed      uint64       `json:"seed"`
	KDRatio   float64      `json:"kd_ratio"`
	Phases    []Phase      `json:"phases"`
	// CalibImages is how many training images recalibrate batch norm before
	// a subnet is evaluated.
	CalibImages int `json:"calib_images"`
	// TeacherRes, when set, shows the teacher every batch at this resolution
	// (the same augmented images) instead of at the student's. A network
	// trained at 28 pixels alone is a poor teacher at 20 (MODELS.md: 74.83%
	// against 94.33% for ps12), so an outside teacher sees what it knows.
	TeacherRes int `json:"teacher_res,omitempty"`
	// TeacherFlip shows every teacher each batch's mirror image too, and
	// the mean of its softmax over both views teaches: a second opinion of
	// one network for a second forward pass (ps12 on the test set: 93.81%
	// alone, 94.14% with its mirror; MODELS.md).
	TeacherFlip bool `json:"teacher_flip,omitempty"`
	// ValImages, when set, holds out this many images of the official
	// training set for validation instead of the standard 10,000
	// (data.Splits.HoldOut), and the rest train. Every command that reads
	// the validation split of a supernet uses its checkpoint's.
	ValImages int `json:"val_images,omitempty"`
}

// teacherRes is the resolution the teacher sees a batch drawn at res.
func (c *Config) teacherRes(res int) int {
	if c.TeacherRes > 0 {
		return c.TeacherRes
	}
	return res
}

// PhaseNames lists the progressive-shrinking phases in order.
var PhaseNames = []string{"full", "kernel", "depth1", "depth2", "expand1", "expand2"}

// Schedule returns the reference's progressive-shrinking phases over space
// (full network, elastic kernel, elastic depth in two steps, elastic expand
// in two steps, sampling 1/1/2/2/4/4 subnets per step), with epochs and
// learning rates scaled to finish on a 2-core machine. Where a step samples
// more than one subnet, the first is the largest and, of four, the second
// the smallest (Phase.Sandwich).
func Schedule(s ofa.SearchSpace) []Phase {
	maxK := s.Kernels[len(s.Kernels)-1:]
	maxE := s.Expands[len(s.Expands)-1:]
	maxD := s.Depths[len(s.Depths)-1:]
	last := func(xs []int, n int) []int { return xs[len(xs)-n:] }
	return []Phase{
		{Name: "full", Epochs: 12, LR: 0.1, Samples: 1, Kernels: maxK, Expands: maxE, Depths: maxD, Resolutions: s.Resolutions},
		{Name: "kernel", Epochs: 3, LR: 0.03, Samples: 1, Kernels: s.Kernels, Expands: maxE, Depths: maxD, Resolutions: s.Resolutions, Distill: true},
		{Name: "depth1", Epochs: 1, LR: 0.008, Samples: 2, Kernels: s.Kernels, Expands: maxE, Depths: last(s.Depths, 2), Resolutions: s.Resolutions, Distill: true, Sandwich: true},
		{Name: "depth2", Epochs: 2, LR: 0.024, Samples: 2, Kernels: s.Kernels, Expands: maxE, Depths: s.Depths, Resolutions: s.Resolutions, Distill: true, Sandwich: true},
		{Name: "expand1", Epochs: 1, LR: 0.008, Samples: 4, Kernels: s.Kernels, Expands: last(s.Expands, 2), Depths: s.Depths, Resolutions: s.Resolutions, Distill: true, Sandwich: true, SortChannels: true},
		{Name: "expand2", Epochs: 2, LR: 0.024, Samples: 4, Kernels: s.Kernels, Expands: s.Expands, Depths: s.Depths, Resolutions: s.Resolutions, Distill: true, Sandwich: true, SortChannels: true},
	}
}

// FixedPhase trains one architecture from scratch, without distillation.
func FixedPhase(a ofa.Arch, epochs int, lr float64) Phase {
	return Phase{Name: "fixed", Epochs: epochs, LR: lr, Samples: 1, Resolutions: []int{a.R}, Fixed: &a}
}

// DefaultConfig is the recipe ofac train runs without flags; the shipped
// supernet was trained with flags on top of it (its commands are in
// MODELS.md).
func DefaultConfig(s ofa.SearchSpace) Config {
	return Config{Optim: optim.DefaultConfig(), BatchSize: 128, Seed: 1, KDRatio: 1, Phases: Schedule(s), CalibImages: 2000}
}

// Validate checks a config against the space before any work starts.
func (c *Config) Validate(s ofa.SearchSpace) error {
	if c.BatchSize < 1 {
		return fmt.Errorf("batch size %d must be at least 1", c.BatchSize)
	}
	if len(c.Phases) == 0 {
		return fmt.Errorf("no phases to train")
	}
	if c.TeacherRes != 0 && !contains(s.Resolutions, c.TeacherRes) {
		return fmt.Errorf("teacher resolution %d is not in the search space (%v)", c.TeacherRes, s.Resolutions)
	}
	if c.ValImages < 0 {
		return fmt.Errorf("validation images (--val-images) %d must not be negative", c.ValImages)
	}
	if e := c.Optim.Erase; !(e >= 0 && e <= 1) {
		return fmt.Errorf("erasing probability %g must be between 0 and 1", e)
	}
	for _, p := range c.Phases {
		if p.Epochs < 0 || p.Samples < 1 || !(p.LR > 0) {
			return fmt.Errorf("phase %s: epochs %d, samples %d, lr %g: want epochs >= 0, samples >= 1, lr > 0", p.Name, p.Epochs, p.Samples, p.LR)
		}
		if p.Sandwich && p.Samples < 2 {
			return fmt.Errorf("phase %s: sandwich needs at least 2 samples a step, has %d (it would train only the largest subnet)", p.Name, p.Samples)
		}
		if p.Fixed != nil {
			if err := s.Validate(*p.Fixed); err != nil {
				return fmt.Errorf("phase %s: %w", p.Name, err)
			}
			continue
		}
		for _, set := range []struct {
			name       string
			got, space []int
		}{{"kernels", p.Kernels, s.Kernels}, {"expands", p.Expands, s.Expands}, {"depths", p.Depths, s.Depths}, {"resolutions", p.Resolutions, s.Resolutions}} {
			if len(set.got) == 0 {
				return fmt.Errorf("phase %s opens no %s", p.Name, set.name)
			}
			for _, v := range set.got {
				if !contains(set.space, v) {
					return fmt.Errorf("phase %s: %s %d is not in the search space", p.Name, set.name, v)
				}
			}
		}
	}
	return nil
}

func contains(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}
