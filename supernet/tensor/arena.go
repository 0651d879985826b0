package tensor

// Arena is a bump allocator for the tensors of one training step. The step
// allocates activations, gradients and scratch from it and calls Reset when
// done; after the first step the arena has grown to the step's high-water
// mark and later steps allocate nothing from the Go heap.
//
// Memory handed out before a Reset is reused after it, so nothing allocated
// from an arena may be kept across Reset. An Arena is not safe for concurrent
// use: layers allocate on the calling goroutine before starting workers. A nil
// *Arena is valid and allocates from the heap, which keeps tests short.
type Arena struct {
	buf  []float32
	off  int
	over int // floats handed out from the heap because buf was full
	peak int
}

// NewArena returns an arena with room for n floats up front.
func NewArena(n int) *Arena { return &Arena{buf: make([]float32, n)} }

// Alloc returns n zeroed floats. Zeroing is far cheaper than the bugs that
// stale data from a previous step would cause, but it is still about a
// sixth of a training step (mostly activation-gradient buffers; see
// BENCHMARKS.md), so large buffers are zeroed by all workers.
func (a *Arena) Alloc(n int) []float32 {
	s := a.AllocRaw(n)
	clearFloats(s)
	return s
}

// clearParallel is the length from which clearFloats splits the work: below it,
// waking workers costs more than the memclr.
const clearParallel = 1 << 18

// clearFloats zeroes s, in parallel when it is large.
func clearFloats(s []float32) {
	if len(s) < clearParallel {
		clear(s)
		return
	}
	ParallelRange(len(s), func(lo, hi int) { clear(s[lo:hi]) })
}

// AllocRaw returns n floats with unspecified contents, for kernels that
// overwrite every element.
func (a *Arena) AllocRaw(n int) []float32 {
	if a == nil {
		return make([]float32, n)
	}
	if a.off+n > len(a.buf) {
		// Do not move buf: slices already handed out must stay valid.
		a.over += n
		return make([]float32, n)
	}
	s := a.buf[a.off : a.off+n : a.off+n]
	a.off += n
	return s
}

// Tensor returns a zeroed tensor whose data comes from the arena.
func (a *Arena) Tensor(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: a.Alloc(Numel(shape))}
}

// Like returns a zeroed tensor shaped like t.
func (a *Arena) Like(t *Tensor) *Tensor { return a.Tensor(t.Shape...) }

// RawLike returns a tensor shaped like t with unspecified contents, for
// layers that write every element of their output.
func (a *Arena) RawLike(t *Tensor) *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: a.AllocRaw(len(t.Data))}
}

// Reset makes all memory reusable. If the last step overflowed, the buffer is
// regrown once to the high-water mark so the next step fits.
func (a *Arena) Reset() {
	if a == nil {
		return
	}
	if need := a.off + a.over; need > a.peak {
		a.peak = need
	}
	if a.peak > len(a.buf) {
		a.buf = make([]float32, a.peak)
	}
	a.off, a.over = 0, 0
}

// Used is the number of floats handed out since the last Reset.
func (a *Arena) Used() int {
	if a == nil {
		return 0
	}
	return a.off + a.over
}
