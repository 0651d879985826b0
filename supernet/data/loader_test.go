package data

import (
	"math"
	"slices"
	"sync"
	"testing"
)

// fillAll fills every batch of epoch e and returns the images and labels.
func fillAll(l *Loader, e, res int) ([]float32, []int) {
	ep := l.Epoch(e)
	n := l.Dataset().Len()
	x := make([]float32, n*res*res)
	y := make([]int, n)
	for b := range l.NumBatches() {
		s := b * l.BatchSize()
		got := ep.Fill(b, res, x[s*res*res:], y[s:])
		if want := min(l.BatchSize(), n-s); got != want {
			panic("wrong batch size")
		}
	}
	return x, y
}

func bitsEqual(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func TestLoaderDeterministic(t *testing.T) {
	d := testDataset(300, Rows, Cols)
	for _, res := range []int{20, 28, 32} {
		x1, y1 := fillAll(NewLoader(d, 64, true, 42), 3, res)
		x2, y2 := fillAll(NewLoader(d, 64, true, 42), 3, res)
		if !bitsEqual(x1, x2) || !slices.Equal(y1, y2) {
			t.Fatalf("res %d: same seed and epoch gave different batches", res)
		}
		x3, _ := fillAll(NewLoader(d, 64, true, 43), 3, res)
		x4, _ := fillAll(NewLoader(d, 64, true, 42), 4, res)
		if bitsEqual(x1, x3) || bitsEqual(x1, x4) {
			t.Fatalf("res %d: different seed or epoch gave the same batches", res)
		}
	}
}

// TestLoaderResume: a batch depends only on (seed, epoch, batch index), and
// augmentation not even on the batch size.
func TestLoaderResume(t *testing.T) {
	d := testDataset(300, Rows, Cols)
	xAll, yAll := fillAll(NewLoader(d, 50, true, 7), 5, 24)
	l := NewLoader(d, 50, true, 7)
	x := make([]float32, 50*24*24)
	y := make([]int, 50)
	l.Epoch(5).Fill(4, 24, x, y) // a fresh loader, straight to batch 4
	if !bitsEqual(x, xAll[200*576:250*576]) || !slices.Equal(y, yAll[200:250]) {
		t.Fatal("resumed batch differs")
	}
	// Batch size 30 sees the same order and augmentation.
	x30, y30 := fillAll(NewLoader(d, 30, true, 7), 5, 24)
	if !bitsEqual(x30, xAll) || !slices.Equal(y30, yAll) {
		t.Fatal("batch size changed the epoch's content")
	}
}

func TestLoaderEpochIsPermutation(t *testing.T) {
	d := testDataset(1000, Rows, Cols)
	l := NewLoader(d, 128, true, 1)
	for e := range 3 {
		ep := l.Epoch(e)
		seen := make([]bool, d.Len())
		for p := range d.Len() {
			seen[ep.Index(p)] = true
		}
		if slices.Contains(seen, false) {
			t.Fatalf("epoch %d misses an image", e)
		}
		if e == 0 && ep.Index(0) == 0 && ep.Index(1) == 1 && ep.Index(2) == 2 {
			t.Fatal("training order not shuffled")
		}
	}
}

func TestLoaderEval(t *testing.T) {
	d := testDataset(10, Rows, Cols)
	l := NewLoader(d, 4, false, 99)
	if l.NumBatches() != 3 {
		t.Fatalf("NumBatches = %d, want 3", l.NumBatches())
	}
	x, y := fillAll(l, 0, Rows)
	for i := range d.Len() {
		if y[i] != int(d.Labels[i]) {
			t.Fatalf("label %d = %d, want %d", i, y[i], d.Labels[i])
		}
		for p, v := range d.Image(i) {
			if x[i*784+p] != normLUT[v] {
				t.Fatalf("image %d pixel %d = %v, want %v", i, p, x[i*784+p], normLUT[v])
			}
		}
	}
	// Resizing in the loader is Resize then Normalize.
	x20, _ := fillAll(l, 0, 20)
	raw := make([]float32, 784)
	want := make([]float32, 400)
	for i := range d.Len() {
		for p, v := range d.Image(i) {
			raw[p] = float32(v)
		}
		Resize(want, 20, 20, raw, Rows, Cols)
		for p := range want {
			want[p] = Normalize(want[p])
		}
		if !bitsEqual(x20[i*400:(i+1)*400], want) {
			t.Fatalf("image %d at 20x20 differs from Resize+Normalize", i)
		}
	}
}

// TestLoaderAugment checks each training image is its source shifted by the
// drawn offset, zero-padded and maybe flipped, and that offsets and flips
// are spread as intended.
func TestLoaderAugment(t *testing.T) {
	d := testDataset(2000, Rows, Cols)
	l := NewLoader(d, 100, true, 5)
	ep := l.Epoch(0)
	x, y := fillAll(l, 0, Rows)
	var shifts [5][5]int
	flips := 0
	for p := range d.Len() {
		dx, dy, flip, _ := ep.augment(p)
		shifts[dy][dx]++
		if flip {
			flips++
		}
		img := d.Image(ep.Index(p))
		if y[p] != int(d.Labels[ep.Index(p)]) {
			t.Fatalf("position %d: label mismatch", p)
		}
		for r := range Rows {
			for c := range Cols {
				cc := c
				if flip {
					cc = Cols - 1 - c
				}
				sr, sc := r+dy-Pad, cc+dx-Pad
				want := normLUT[0]
				if sr >= 0 && sr < Rows && sc >= 0 && sc < Cols {
					want = normLUT[img[sr*Cols+sc]]
				}
				if got := x[p*784+r*Cols+c]; got != want {
					t.Fatalf("position %d (dx %d dy %d flip %v) pixel (%d,%d) = %v, want %v", p, dx, dy, flip, r, c, got, want)
				}
			}
		}
	}
	for dy := range shifts {
		for dx, c := range shifts[dy] {
			if c < 40 || c > 130 { // expect 80 each
				t.Errorf("offset (%d,%d) drawn %d times of 2000", dx, dy, c)
			}
		}
	}
	if flips < 900 || flips > 1100 {
		t.Errorf("%d flips of 2000", flips)
	}
}

func TestLoaderConcurrent(t *testing.T) {
	d := testDataset(256, Rows, Cols)
	l := NewLoader(d, 32, true, 11)
	want, _ := fillAll(l, 2, 32)
	ep := l.Epoch(2)
	got := make([]float32, len(want))
	var wg sync.WaitGroup
	for b := range l.NumBatches() {
		wg.Go(func() {
			ep.Fill(b, 32, got[b*32*1024:], make([]int, 32))
		})
	}
	wg.Wait()
	if !bitsEqual(got, want) {
		t.Fatal("concurrent fills differ")
	}
}

func TestLoaderPanics(t *testing.T) {
	d := testDataset(10, Rows, Cols)
	l := NewLoader(d, 4, true, 0)
	ep := l.Epoch(0)
	for name, f := range map[string]func(){
		"batch range": func() { ep.Fill(3, 28, make([]float32, 4*784), make([]int, 4)) },
		"short x":     func() { ep.Fill(0, 28, make([]float32, 4*784-1), make([]int, 4)) },
		"short y":     func() { ep.Fill(0, 28, make([]float32, 4*784), make([]int, 3)) },
		"res":         func() { ep.Fill(0, 0, make([]float32, 4*784), make([]int, 4)) },
		"batch size":  func() { NewLoader(d, 0, true, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	// The partial last batch needs only room for itself.
	if n := ep.Fill(2, 28, make([]float32, 2*784), make([]int, 2)); n != 2 {
		t.Errorf("last batch has %d images, want 2", n)
	}
}

func BenchmarkFill(b *testing.B) {
	d := testDataset(4096, Rows, Cols)
	for _, bc := range []struct {
		name  string
		train bool
		res   int
	}{{"train28", true, 28}, {"train20", true, 20}, {"train32", true, 32}, {"eval28", false, 28}, {"eval32", false, 32}} {
		b.Run(bc.name, func(b *testing.B) {
			l := NewLoader(d, 128, bc.train, 1)
			ep := l.Epoch(0)
			x := make([]float32, 128*bc.res*bc.res)
			y := make([]int, 128)
			nb := l.NumBatches()
			i := 0
			for b.Loop() {
				ep.Fill(i%nb, bc.res, x, y)
				i++
			}
		})
	}
}

// TestLoaderErasing checks random erasing against a loader without it: every
// pixel outside the drawn rectangle is the same (crop and flip do not move),
// the rectangle has the paper's size and shape, some of its pixels changed,
// the share of erased images follows the probability, and the result is
// deterministic, also through the resize path.
func TestLoaderErasing(t *testing.T) {
	d := testDataset(2000, Rows, Cols)
	plain := NewLoader(d, 100, true, 5)
	x0, _ := fillAll(plain, 3, Rows)
	for _, p := range []float64{1, 0.5} {
		l := NewLoader(d, 100, true, 5)
		l.SetErasing(p)
		x1, _ := fillAll(l, 3, Rows)
		ep := l.Epoch(3)
		erased := 0
		for pos := range d.Len() {
			_, _, _, g := ep.augment(pos)
			y0, xs, h, w, ok := eraseRect(g, p, Rows, Cols)
			a, b := x0[pos*Rows*Cols:(pos+1)*Rows*Cols], x1[pos*Rows*Cols:(pos+1)*Rows*Cols]
			changed := 0
			for r := range Rows {
				for c := range Cols {
					inside := ok && r >= y0 && r < y0+h && c >= xs && c < xs+w
					same := math.Float32bits(a[r*Cols+c]) == math.Float32bits(b[r*Cols+c])
					if !inside && !same {
						t.Fatalf("p=%g position %d: pixel (%d,%d) outside the erased rectangle changed", p, pos, r, c)
					}
					if inside && !same {
						changed++
					}
				}
			}
			if !ok {
				continue
			}
			erased++
			area := float64(h*w) / (Rows * Cols)
			if area < 0.01 || area > 0.45 || float64(h)/float64(w) < 0.2 || float64(h)/float64(w) > 5 {
				t.Fatalf("p=%g position %d: rectangle %dx%d (area %.3f) outside the paper's range", p, pos, h, w, area)
			}
			if changed == 0 {
				t.Fatalf("p=%g position %d: erased rectangle %dx%d kept every pixel", p, pos, h, w)
			}
		}
		if share := float64(erased) / float64(d.Len()); math.Abs(share-p) > 0.05 {
			t.Errorf("p=%g: %.3f of the images erased", p, share)
		}
		if again, _ := fillAll(l, 3, Rows); !bitsEqual(again, x1) {
			t.Errorf("p=%g: erasing is not deterministic", p)
		}
		a20, _ := fillAll(l, 3, 20)
		if b20, _ := fillAll(l, 3, 20); !bitsEqual(a20, b20) {
			t.Errorf("p=%g: erasing at 20x20 is not deterministic", p)
		}
		if p20, _ := fillAll(plain, 3, 20); bitsEqual(a20, p20) {
			t.Errorf("p=%g: erasing changed nothing at 20x20", p)
		}
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetErasing(%g) did not panic", bad)
				}
			}()
			NewLoader(d, 10, true, 1).SetErasing(bad)
		}()
	}
}
