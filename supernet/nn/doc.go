// Package nn owns the layers and losses of the training engine as functional
// ops: every layer is a Forward that takes its input and its weights from the
// caller and a Backward that accumulates gradients into caller-provided
// buffers. Layers own no parameters, so the elastic supernet can slice or
// transform its max-size weights into a temporary weight, run the op, and
// scatter the gradient back. The only state kept here is BatchNorm2d's
// running statistics.
//
// Conventions shared by every op:
//   - Tensors are NCHW float32 (package tensor); Linear and the losses view
//     their input as [N, features].
//   - Forward allocates its output (and any saved values) from the
//     *tensor.Arena it is given; nil means the Go heap.
//   - Backward ADDS into dx, dw and db, so fan-outs and shared weights need no
//     extra buffers; a nil gradient buffer skips that computation.
//   - Results are bit-identical for identical inputs whatever GOMAXPROCS is:
//     work is split into items whose results do not depend on the split, and
//     reductions over the batch sum per-chunk partials in a fixed order.
package nn
