//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

var avx512Kernels = &kernelSet{
	name: "avx512",
	mr:   mrAVX512, nr: nrAVX512,
	mc: 12 * mrAVX512, kc: 256, nc: 32 * nrAVX512,
	tile: func(r, kc int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
		// Bounds checks here keep the assembly inside the slices.
		_ = a[r*kc-1]
		_ = b[(kc-1)*ldb+nrAVX512-1]
		_ = c[(r-1)*ldc+nrAVX512-1]
		kernelsAVX512[r-1](kc, &a[0], &b[0], &c[0], ldb, ldc, alpha, beta)
	},
}

var avx2Kernels = &kernelSet{
	name: "avx2",
	mr:   mrAVX2, nr: nrAVX2,
	mc: 24 * mrAVX2, kc: 256, nc: 64 * nrAVX2,
	tile: func(r, kc int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
		_ = a[r*kc-1]
		_ = b[(kc-1)*ldb+nrAVX2-1]
		_ = c[(r-1)*ldc+nrAVX2-1]
		kernelsAVX2[r-1](kc, &a[0], &b[0], &c[0], ldb, ldc, alpha, beta)
	},
}

// haveAVX512 and haveAVX2 report CPU and OS support (x/sys/cpu checks that
// the OS saves the wide registers, not just the CPUID bits).
var (
	haveAVX512 = cpu.X86.HasAVX512F
	haveAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

var defaultKernels = func() *kernelSet {
	switch {
	case haveAVX512:
		return avx512Kernels
	case haveAVX2:
		return avx2Kernels
	}
	return genericKernels
}()

// kernelSets lists every kernel family this CPU can run, for tests and
// benchmarks.
func kernelSets() []*kernelSet {
	s := []*kernelSet{genericKernels}
	if haveAVX2 {
		s = append(s, avx2Kernels)
	}
	if haveAVX512 {
		s = append(s, avx512Kernels)
	}
	return s
}

// asmKernel is the signature of the generated micro-kernels in
// kernels_amd64.s: an r x nr tile of C (r fixed by the kernel) from a packed
// A panel and a B panel whose k steps are ldb elements apart; ldc in elements.
type asmKernel func(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)
