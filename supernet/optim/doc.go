// Package optim owns the optimiser of the training engine: SGD with
// (Nesterov) momentum and selective weight decay, with PyTorch's update rule,
// the cosine learning-rate schedule with linear warm-up, and the Config that
// gathers the training hyper-parameters a CLI may override.
//
// Parameters are flat []float32 slices registered in a fixed order; the
// momentum buffers follow that order so checkpoints can save and restore the
// optimiser state exactly.
package optim
