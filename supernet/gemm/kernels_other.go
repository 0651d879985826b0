//go:build !amd64 || purego

package gemm

var defaultKernels = genericKernels

// kernelSets lists every kernel family this CPU can run, for tests and
// benchmarks.
func kernelSets() []*kernelSet { return []*kernelSet{genericKernels} }
