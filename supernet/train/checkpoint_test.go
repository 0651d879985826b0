package train

import (
	"slices"
	"testing"
)

func TestTrainedResolutions(t *testing.T) {
	c := &Checkpoint{Config: Config{Phases: []Phase{
		{Name: "fixed", Resolutions: []int{28}},
		{Name: "kernel", Resolutions: []int{32, 20, 24, 28}},
	}}}
	if got := c.TrainedResolutions(); len(got) != 0 {
		t.Errorf("before any epoch: %v, want none", got)
	}
	c.State.History = []EpochRecord{{Phase: "fixed", Epoch: 1}}
	if got := c.TrainedResolutions(); !slices.Equal(got, []int{28}) {
		t.Errorf("after the fixed phase: %v, want [28]", got)
	}
	c.State.History = append(c.State.History, EpochRecord{Phase: "kernel", Epoch: 1})
	if got := c.TrainedResolutions(); !slices.Equal(got, []int{20, 24, 28, 32}) {
		t.Errorf("after a kernel epoch: %v, want [20 24 28 32]", got)
	}
}
