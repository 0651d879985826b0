package main

import (
	"slices"
	"testing"

	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/tensor"
	"github.com/ofac-dev/ofac/supernet/train"
)

// Each member is mildly wrong on one image and confidently right on the
// other: the mean of their softmax outputs gets both right.
func TestMeanSoftmaxBeatsEachMember(t *testing.T) {
	labels := []uint8{0, 1}
	a := tensor.FromSlice([]float32{0.4, 0.6, 0.1, 0.9}, 2, 2) // wrong on image 0
	b := tensor.FromSlice([]float32{0.9, 0.1, 0.6, 0.4}, 2, 2) // wrong on image 1
	for name, m := range map[string]*tensor.Tensor{"a": a, "b": b} {
		if got := train.Top1(m, labels); got != 0.5 {
			t.Fatalf("member %s: top-1 %g, want 0.5", name, got)
		}
	}
	m := meanRows([]*tensor.Tensor{a, b})
	want := []float32{0.65, 0.35, 0.35, 0.65}
	for i, v := range m.Data {
		if d := v - want[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("mean %v, want %v", m.Data, want)
		}
	}
	if got := train.Top1(m, labels); got != 1 {
		t.Fatalf("ensemble: top-1 %g, want 1", got)
	}
}

// A 2x3 image and its mirror, row by row; the labels are kept.
func TestMirrored(t *testing.T) {
	set := &data.Dataset{Rows: 2, Cols: 3, Pix: []uint8{1, 2, 3, 4, 5, 6}, Labels: []uint8{7}}
	m := mirrored(set)
	if want := []uint8{3, 2, 1, 6, 5, 4}; !slices.Equal(m.Pix, want) || !slices.Equal(m.Labels, set.Labels) {
		t.Fatalf("mirrored %v labels %v, want %v labels %v", m.Pix, m.Labels, want, set.Labels)
	}
	if set.Pix[0] != 1 {
		t.Fatal("mirroring changed the original")
	}
}
