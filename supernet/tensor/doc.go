// Package tensor owns the float32 tensor type of the training engine (a shape
// plus a flat row-major slice, NCHW for images), the bump-allocating Arena
// that keeps the training step free of heap allocations, the deterministic
// parallel-loop helpers the layers share, and small element-wise helpers.
//
// Nothing here knows about layers: package nn builds on it.
package tensor
