package tensor

import "fmt"

// Tensor is a dense float32 array. Data is row-major in Shape order, so a
// four-dimensional image batch is NCHW. A Tensor is a plain value holder: many
// Tensors may share one Data slice (views), and layers never keep them.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zeroed tensor on the Go heap. Hot paths use Arena.Tensor.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// FromSlice wraps data without copying; it panics when the sizes disagree,
// because a silent mismatch would corrupt a neighbouring buffer later.
func FromSlice(data []float32, shape ...int) *Tensor {
	if Numel(shape) != len(data) {
		panic(fmt.Sprintf("tensor: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Numel is the number of elements a shape holds.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in %v", shape))
		}
		n *= d
	}
	return n
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Dims4 returns the NCHW extents; it panics unless t is rank 4.
func (t *Tensor) Dims4() (n, c, h, w int) {
	if len(t.Shape) != 4 {
		panic(fmt.Sprintf("tensor: want rank 4, have shape %v", t.Shape))
	}
	return t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
}

// Rows views t as a matrix of Shape[0] rows, the layout Linear and the losses
// want whatever trailing dimensions a caller kept (e.g. [N,C,1,1]).
func (t *Tensor) Rows() (rows, cols int) {
	if len(t.Shape) == 0 || t.Shape[0] == 0 {
		return 0, 0
	}
	return t.Shape[0], len(t.Data) / t.Shape[0]
}

// Reshape returns a view with a new shape over the same data.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	return FromSlice(t.Data, shape...)
}

// Clone returns a deep copy on the Go heap.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// MustSameShape panics with both shapes when they differ; layers call it on
// gradient buffers so a wrongly sliced elastic weight fails loudly.
func MustSameShape(what string, a, b []int) {
	if !SameShape(a, b) {
		panic(fmt.Sprintf("tensor: %s shape %v, want %v", what, a, b))
	}
}
