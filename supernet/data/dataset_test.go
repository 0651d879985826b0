package data

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadFixture(t *testing.T) {
	for _, gz := range []bool{true, false} {
		dir := writeDataDir(t, 60, 12, gz)
		s, err := Load(dir)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if s.Train.Len() != 50 || s.Val.Len() != 10 || s.Test.Len() != 12 {
			t.Fatalf("sizes %d/%d/%d, want 50/10/12", s.Train.Len(), s.Val.Len(), s.Test.Len())
		}
		// Train and Val partition the official training set: every
		// original image appears exactly once, with its own label.
		full := makeFixture(60, Rows, Cols)
		seen := make([]int, 60)
		for _, d := range []*Dataset{s.Train, s.Val} {
			for i := range d.Len() {
				j := fixtureIndex(d.Image(i))
				if !slices.Equal(d.Image(i), full.pix[j*784:(j+1)*784]) || d.Labels[i] != full.labels[j] {
					t.Fatalf("%s image %d is not original image %d", d.Name, i, j)
				}
				seen[j]++
			}
		}
		for j, c := range seen {
			if c != 1 {
				t.Fatalf("original image %d appears %d times", j, c)
			}
		}
		if fixtureIndex(s.Test.Image(11)) != 11 {
			t.Error("test set reordered")
		}
	}
}

// TestHoldOut checks that a smaller validation set is a subset of the
// standard one, that the rest of the official training set trains, and that
// impossible sizes are refused.
func TestHoldOut(t *testing.T) {
	s, err := Load(writeDataDir(t, 60, 12, true))
	if err != nil {
		t.Fatal(err)
	}
	indices := func(d *Dataset) []int {
		var out []int
		for i := range d.Len() {
			out = append(out, fixtureIndex(d.Image(i)))
		}
		return out
	}
	std := indices(s.Val)
	if same, err := s.HoldOut(0); err != nil || same != s {
		t.Fatalf("HoldOut(0) = %p, %v; want the standard splits", same, err)
	}
	h, err := s.HoldOut(4)
	if err != nil {
		t.Fatal(err)
	}
	if h.Train.Len() != 56 || h.Val.Len() != 4 || h.Test != s.Test {
		t.Fatalf("sizes %d/%d, want 56/4 and the same test set", h.Train.Len(), h.Val.Len())
	}
	for _, j := range indices(h.Val) {
		if !slices.Contains(std, j) {
			t.Errorf("held-out image %d is not in the standard validation set %v", j, std)
		}
	}
	trainSet := indices(h.Train)
	for _, j := range indices(s.Train) {
		if !slices.Contains(trainSet, j) {
			t.Errorf("standard training image %d does not train with 4 held out", j)
		}
	}
	// Asking the held-out splits again starts from the official set.
	again, err := h.HoldOut(10)
	if err != nil || !slices.Equal(indices(again.Val), std) {
		t.Errorf("HoldOut(4).HoldOut(10) validation %v, %v; want the standard %v", indices(again.Val), err, std)
	}
	for _, n := range []int{-1, 60, 61} {
		if _, err := s.HoldOut(n); err == nil || !strings.Contains(err.Error(), "want 1 to 59") {
			t.Errorf("HoldOut(%d): error %v, want one naming 1 to 59", n, err)
		}
	}
}

func TestSplitDeterministic(t *testing.T) {
	d := testDataset(600, 2, 2)
	tr1, v1 := SplitTrainVal(d, 100, ValSeed)
	tr2, v2 := SplitTrainVal(d, 100, ValSeed)
	if !slices.Equal(tr1.Pix, tr2.Pix) || !slices.Equal(v1.Pix, v2.Pix) {
		t.Fatal("same seed, different split")
	}
	_, v3 := SplitTrainVal(d, 100, ValSeed+1)
	if slices.Equal(v1.Pix, v3.Pix) {
		t.Fatal("different seed, same split")
	}
}

// TestPermutationGolden pins the generator: a change here silently changes
// every split and every epoch order, which breaks reproducing old runs.
func TestPermutationGolden(t *testing.T) {
	got := permutation(12, ValSeed, 0)
	want := []int32{10, 1, 2, 3, 6, 9, 8, 7, 4, 5, 11, 0}
	if !slices.Equal(got, want) {
		t.Errorf("permutation(12, ValSeed, 0) = %v, want %v", got, want)
	}
}

func TestUintnUniform(t *testing.T) {
	counts := make([]int, 5)
	const n = 50000
	g := newTestPCG()
	for range n {
		counts[uintn(g, 5)]++
	}
	for v, c := range counts {
		if c < n/5-500 || c > n/5+500 {
			t.Errorf("value %d drawn %d times of %d", v, c, n)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		dir := writeDataDir(t, 12, 6, true)
		os.Remove(filepath.Join(dir, TestLabelsFile))
		_, err := Load(dir)
		want := "fashion-mnist: " + filepath.Join(dir, TestLabelsFile) + ": no such file"
		if err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want %s", err, want)
		}
	})
	t.Run("missing default", func(t *testing.T) {
		err := missingFile(DefaultDir+"/", filepath.Join(DefaultDir, TrainImagesFile))
		want := "fashion-mnist: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz: no such file (install it with: apt-get install dataset-fashion-mnist, or pass --data DIR)"
		if err.Error() != want {
			t.Errorf("got %q\nwant %q", err, want)
		}
	})
	t.Run("count mismatch", func(t *testing.T) {
		dir := writeDataDir(t, 12, 6, true)
		writeFile(t, filepath.Join(dir, TrainLabelsFile), idxBytes(MagicLabels, []uint32{11}, make([]byte, 11), true))
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), TrainLabelsFile+": 11 labels for 12 images in "+TrainImagesFile) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("wrong size", func(t *testing.T) {
		dir := writeDataDir(t, 12, 6, true)
		writeFile(t, filepath.Join(dir, TestImagesFile), idxBytes(MagicImages, []uint32{6, 27, 28}, make([]byte, 6*27*28), true))
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), TestImagesFile+": images are 27x28, want 28x28") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("too few", func(t *testing.T) {
		dir := writeDataDir(t, 5, 6, true)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), "5 images are too few") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("bad file", func(t *testing.T) {
		dir := writeDataDir(t, 12, 6, true)
		writeFile(t, filepath.Join(dir, TrainImagesFile), []byte("garbage!"))
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), TrainImagesFile+": bad magic") {
			t.Errorf("got %v", err)
		}
	})
}

// TestRealDataset checks the installed Fashion-MNIST files.
func TestRealDataset(t *testing.T) {
	if _, err := os.Stat(DefaultDir); err != nil {
		t.Skipf("%s absent (Debian package dataset-fashion-mnist not installed): %v", DefaultDir, err)
	}
	if testing.Short() {
		t.Skip("short mode: loading the real data set takes a second")
	}
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != 50000 || s.Val.Len() != 10000 || s.Test.Len() != 10000 {
		t.Fatalf("sizes %d/%d/%d, want 50000/10000/10000", s.Train.Len(), s.Val.Len(), s.Test.Len())
	}
	tr, va, te := s.Train.Histogram(), s.Val.Histogram(), s.Test.Histogram()
	for c := range NumClasses {
		if tr[c]+va[c] != 6000 || te[c] != 1000 {
			t.Errorf("class %d (%s): %d in train+val, %d in test; want 6000 and 1000", c, ClassNames[c], tr[c]+va[c], te[c])
		}
		// A random 1/6 should hold about 1000 of each class.
		if va[c] < 850 || va[c] > 1150 {
			t.Errorf("class %d: %d in validation, expected about 1000", c, va[c])
		}
	}
	// The published statistics behind Mean and Std.
	var sum, sq float64
	for _, p := range append(slices.Clone(s.Train.Pix), s.Val.Pix...) {
		v := float64(p) / 255
		sum += v
		sq += v * v
	}
	n := float64(len(s.Train.Pix) + len(s.Val.Pix))
	mean := sum / n
	std := sq/n - mean*mean
	if mean < Mean-0.0005 || mean > Mean+0.0005 || std < (Std-0.0005)*(Std-0.0005) || std > (Std+0.0005)*(Std+0.0005) {
		t.Errorf("pixel mean %.4f variance %.4f, constants say %.4f and %.4f^2", mean, std, Mean, Std)
	}
}
