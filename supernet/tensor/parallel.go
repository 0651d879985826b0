package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers is how many goroutines to use for items independent work items:
// GOMAXPROCS, capped by the item count. Callers size per-worker scratch with
// it and pass the same number to Parallel.
func Workers(items int) int {
	w := runtime.GOMAXPROCS(0)
	if items < w {
		w = items
	}
	if w < 1 {
		w = 1
	}
	return w
}

// Parallel calls fn(worker, item) once for every item in [0, items) on
// workers goroutines (the caller's included). Items are handed out
// dynamically, so fn must make each item's result independent of which worker
// ran it and of the order items ran in; worker only selects scratch space.
// That rule is what keeps every layer's output independent of GOMAXPROCS.
func Parallel(workers, items int, fn func(worker, item int)) {
	if workers > items {
		workers = items
	}
	if workers <= 1 {
		for i := 0; i < items; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	run := func(w int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= items {
				return
			}
			fn(w, i)
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { run(w) })
	}
	run(0)
	wg.Wait()
}

// rangeBlock is the element count below which element-wise loops stay on one
// goroutine: starting a goroutine costs about as much as a few thousand
// floats of arithmetic.
const rangeBlock = 1 << 15

// ParallelRange splits [0, n) into fixed blocks and calls fn(lo, hi) for each,
// in parallel. Block boundaries depend only on n, so element-wise work gives
// identical results for every GOMAXPROCS.
func ParallelRange(n int, fn func(lo, hi int)) {
	blocks := (n + rangeBlock - 1) / rangeBlock
	Parallel(Workers(blocks), blocks, func(_, b int) {
		lo := b * rangeBlock
		fn(lo, min(lo+rangeBlock, n))
	})
}

// Split returns the bounds of part i when [0, n) is cut into parts nearly
// equal contiguous pieces.
func Split(n, parts, i int) (lo, hi int) {
	return i * n / parts, (i + 1) * n / parts
}
