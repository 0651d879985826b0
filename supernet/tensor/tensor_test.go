package tensor

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestArenaReusesMemoryAfterReset(t *testing.T) {
	a := NewArena(4)
	x := a.Alloc(3)
	y := a.Alloc(5) // overflows: comes from the heap, x stays valid
	x[0], y[0] = 1, 2
	if a.Used() != 8 {
		t.Fatalf("used %d, want 8", a.Used())
	}
	a.Reset()
	allocs := testing.AllocsPerRun(10, func() {
		s := a.Alloc(3)
		u := a.Alloc(5)
		if s[0] != 0 || u[0] != 0 {
			t.Fatal("Alloc returned stale data")
		}
		s[0], u[0] = 7, 7
		a.Reset()
	})
	if allocs != 0 {
		t.Errorf("steady state made %v heap allocations per step", allocs)
	}
	var nilArena *Arena
	if len(nilArena.Alloc(3)) != 3 {
		t.Error("nil arena must allocate from the heap")
	}
}

func TestArenaZeroesLargeReusedBuffers(t *testing.T) {
	// Above clearParallel the zeroing is split across workers; every block,
	// the ragged last one included, must come back zeroed after reuse.
	n := 3*clearParallel + 17
	a := NewArena(n)
	s := a.Alloc(n)
	for i := range s {
		s[i] = float32(i + 1)
	}
	a.Reset()
	for i, v := range a.Alloc(n) {
		if v != 0 {
			t.Fatalf("element %d of a reused buffer is %v, want 0", i, v)
		}
	}
}

func TestArenaTensor(t *testing.T) {
	a := NewArena(100)
	x := a.Tensor(2, 3, 4)
	if x.Len() != 24 || !SameShape(x.Shape, []int{2, 3, 4}) {
		t.Fatalf("got shape %v len %d", x.Shape, x.Len())
	}
	if r, c := x.Rows(); r != 2 || c != 12 {
		t.Errorf("Rows = %d,%d", r, c)
	}
	y := a.Like(x)
	y.Data[0] = 1
	if x.Data[0] != 0 {
		t.Error("tensors from one arena overlap")
	}
}

func TestFromSliceRejectsWrongSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("FromSlice accepted 5 values for shape [2 3]")
		}
	}()
	FromSlice(make([]float32, 5), 2, 3)
}

func TestParallelRunsEveryItemOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		const items = 1000
		var hits [items]atomic.Int32
		workers := Workers(items)
		Parallel(workers, items, func(w, i int) {
			if w < 0 || w >= workers {
				t.Errorf("worker %d out of range", w)
			}
			hits[i].Add(1)
		})
		for i := range hits {
			if hits[i].Load() != 1 {
				t.Fatalf("GOMAXPROCS=%d: item %d ran %d times", procs, i, hits[i].Load())
			}
		}
	}
}

func TestParallelRangeCovers(t *testing.T) {
	n := 3*rangeBlock + 17
	x := make([]float32, n)
	ParallelRange(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x[i]++
		}
	})
	for i, v := range x {
		if v != 1 {
			t.Fatalf("element %d touched %g times", i, v)
		}
	}
}

func TestElementwise(t *testing.T) {
	a, b := []float32{1, 2, 3}, []float32{10, 20, 30}
	d := make([]float32, 3)
	Add(d, a, b)
	AddTo(d, a)
	Scale(d, 2)
	want := []float32{24, 48, 72}
	if MaxAbsDiff(d, want) != 0 {
		t.Errorf("got %v, want %v", d, want)
	}
}

// MeanOf overwrites dst with the mean, gives a value averaged with itself
// back exactly, and refuses a source of another length.
func TestMeanOf(t *testing.T) {
	dst := []float32{9, 9}
	MeanOf(dst, []float32{1, 2}, []float32{3, 6}, []float32{2, 1})
	if want := []float32{2, 3}; dst[0] != want[0] || dst[1] != want[1] {
		t.Fatalf("mean %v, want %v", dst, want)
	}
	v := []float32{0.1, 1.0 / 3}
	MeanOf(dst, v, v)
	if dst[0] != v[0] || dst[1] != v[1] {
		t.Fatalf("mean of %v with itself is %v", v, dst)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a source of another length was accepted")
		}
	}()
	MeanOf(dst, []float32{1})
}
