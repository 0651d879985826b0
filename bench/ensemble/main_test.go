package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/data/datatest"
	"github.com/ofac-dev/ofac/supernet/ofa"
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

// Members that hold out validation sets of different sizes cannot be
// averaged on the validation split; on the test split they can.
func TestMembersHoldingOutDifferentImages(t *testing.T) {
	dir := t.TempDir()
	if err := datatest.Write(dir, 120, 20, 1); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i, val := range []int{0, 8} {
		cfg := train.DefaultConfig(ofa.Tiny)
		cfg.ValImages = val
		ck := &train.Checkpoint{Config: cfg, Net: ofa.New(ofa.Tiny, uint64(i+1))}
		path := filepath.Join(dir, fmt.Sprintf("member%d.ckpt", i))
		if err := ck.Save(path); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	if err := run(dir, "test", false, paths); err != nil {
		t.Fatalf("test split: %v", err)
	}
	if err := run(dir, "val", false, paths); err == nil || !strings.Contains(err.Error(), "holds out 8 validation images") {
		t.Fatalf("val split: error %v, want one naming the 8 images held out", err)
	}
	if err := run(dir, "val", false, []string{paths[1], paths[1]}); err != nil {
		t.Fatalf("val split, same member twice: %v", err)
	}
}
