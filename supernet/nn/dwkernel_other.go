//go:build !amd64 || purego

package nn

// No SIMD depthwise kernels here: the portable row path runs.
var dwDefaultKernels *dwKernels

func dwKernelSets() []*dwKernels { return nil }
