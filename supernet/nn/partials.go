package nn

import "github.com/ofac-dev/ofac/supernet/tensor"

// maxChunks bounds how many per-chunk partial weight gradients a backward
// pass keeps. The batch is cut into min(N, maxChunks) chunks whatever
// GOMAXPROCS is; each chunk sums its images in order into its own partial,
// and the partials are then added in chunk order. That gives the same bits on
// one core or sixteen, without atomics, at the cost of maxChunks copies of
// the weight gradient (a few MiB at most for this network).
const maxChunks = 8

// batchChunks is how many chunks a batch of n images is cut into.
func batchChunks(n int) int { return max(1, min(n, maxChunks)) }

// partials holds one zeroed slab of size per chunk for a weight gradient.
type partials struct {
	size int
	buf  []float32
}

func newPartials(ws *tensor.Arena, chunks, size int) partials {
	if size == 0 {
		return partials{}
	}
	return partials{size: size, buf: ws.Alloc(chunks * size)}
}

// get returns chunk c's slab, or nil when the gradient is not wanted.
func (p partials) get(c int) []float32 {
	if p.buf == nil {
		return nil
	}
	return p.buf[c*p.size : (c+1)*p.size]
}

// reduceInto adds every chunk's slab into dst in chunk order.
func (p partials) reduceInto(dst []float32) {
	if p.buf == nil || dst == nil {
		return
	}
	chunks := len(p.buf) / p.size
	for c := 0; c < chunks; c++ {
		s := p.buf[c*p.size : (c+1)*p.size : (c+1)*p.size]
		for i := range dst {
			dst[i] += s[i]
		}
	}
}
