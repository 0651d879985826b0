//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/dwgen -out dwkernel_amd64.s -stubs dwkernel_amd64_stubs.go -pkg nn -table dwkernel_table_amd64.go

// dwConvAsm and dwGradAsm are the signatures of the generated kernels in
// dwkernel_amd64.s (see internal/dwgen); strides are in elements.
type (
	dwConvAsm func(out, buf, w *float32, off *int, taps, planes, ostr, bstr, wstr int)
	dwGradAsm func(acc, buf, dy *float32, off *int, taps, planes, bstr, dstr int)
)

var dwAVX512Kernels = &dwKernels{
	name: "avx512", vl: 16, maxVec: dwMaxVecZ,
	conv: func(nv int, out, buf, w []float32, off []int, planes, ostr, bstr, wstr int) {
		dwConvZ[nv-1](f32p(out), f32p(buf), f32p(w), intp(off), len(off), planes, ostr, bstr, wstr)
	},
	grad: func(nv int, acc, buf, dy []float32, off []int, planes, bstr, dstr int) {
		dwGradZ[nv-1](f32p(acc), f32p(buf), f32p(dy), intp(off), len(off), planes, bstr, dstr)
	},
}

var dwAVX2Kernels = &dwKernels{
	name: "avx2", vl: 8, maxVec: dwMaxVecY,
	conv: func(nv int, out, buf, w []float32, off []int, planes, ostr, bstr, wstr int) {
		dwConvY[nv-1](f32p(out), f32p(buf), f32p(w), intp(off), len(off), planes, ostr, bstr, wstr)
	},
	grad: func(nv int, acc, buf, dy []float32, off []int, planes, bstr, dstr int) {
		dwGradY[nv-1](f32p(acc), f32p(buf), f32p(dy), intp(off), len(off), planes, bstr, dstr)
	},
}

// x/sys/cpu checks that the OS saves the wide registers, not just CPUID.
var (
	dwHaveAVX512 = cpu.X86.HasAVX512F
	dwHaveAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

var dwDefaultKernels = func() *dwKernels {
	switch {
	case dwHaveAVX512:
		return dwAVX512Kernels
	case dwHaveAVX2:
		return dwAVX2Kernels
	}
	return nil
}()

// dwKernelSets lists the SIMD kernel families this CPU can run, for tests.
func dwKernelSets() []*dwKernels {
	var s []*dwKernels
	if dwHaveAVX2 {
		s = append(s, dwAVX2Kernels)
	}
	if dwHaveAVX512 {
		s = append(s, dwAVX512Kernels)
	}
	return s
}
