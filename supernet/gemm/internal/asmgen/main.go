// Command asmgen generates the amd64 SGEMM micro-kernels of package gemm with
// avo. It is run by `go generate` in supernet/gemm; the generated files are
// committed so that building package gemm never needs this command.
//
// Each kernel computes one register tile of C from packed panels:
//
//	acc[i][j] = sum_p a[p*r+i] * b[p*ldb+j]  (p = 0..kc-1, in order)
//	C[i][j]   = alpha*acc[i][j] + beta*C[i][j]  (C not read when beta == 0)
//
// for r = 1..MR rows and a full NR columns. One kernel per row count r lets
// the driver pack the last, short row panel of a block without zero padding,
// so small-m shapes (conv layers with 24 or 40 output channels) waste no FMAs.
// Every element is accumulated by one FMA chain in p order, whatever r is, so
// which kernel handles a row never changes its bits.
package main

import (
	"flag"
	"fmt"
	"os"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Tile shapes. AVX-512: 14x32 uses 28 zmm accumulators plus 2 for the B row,
// 30 of the 32 registers; A is broadcast straight from memory by the FMA
// ({1to16} embedded broadcast) so it needs no register. AVX2: 6x16 uses 12 ymm
// accumulators, 2 for B and 1 for the broadcast A value, 15 of 16.
const (
	mr512 = 14
	nr512 = 32
	mr256 = 6
	nr256 = 16

	// unroll is how many k steps one loop iteration does; it amortises the
	// pointer updates and loop branch over more FMAs.
	unroll = 4
)

var (
	zmm = []reg.VecPhysical{
		reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31,
	}
	ymm = []reg.VecPhysical{
		reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15,
	}
)

var table = flag.String("table", "", "write the Go kernel table to this file")

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!purego")
	for r := 1; r <= mr512; r++ {
		kernel(fmt.Sprintf("kernAVX512x%d", r), r, nr512/16, true)
	}
	for r := 1; r <= mr256; r++ {
		kernel(fmt.Sprintf("kernAVX2x%d", r), r, nr256/8, false)
	}
	Generate()
	if *table != "" {
		writeTable(*table)
	}
}

// kernel emits one micro-kernel with r rows and nv vectors of columns.
func kernel(name string, r, nv int, avx512 bool) {
	TEXT(name, NOSPLIT, "func(kc int, a, b, c *float32, ldb, ldc int, alpha, beta float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx%d tile of C from packed panels.", name, r, nv*vecLen(avx512)))

	vec := func(i int) reg.VecPhysical {
		if avx512 {
			return zmm[i]
		}
		return ymm[i]
	}
	acc := func(i, j int) reg.VecPhysical { return vec(i*nv + j) }
	nacc := r * nv
	bv := func(j int) reg.VecPhysical { return vec(nacc + j) }
	bcast := vec(nacc + nv) // AVX2 only: the broadcast A value
	vbytes := 4 * vecLen(avx512)

	kc := Load(Param("kc"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(Imm(2), ldb) // ldb in bytes
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc) // ldc in bytes

	Comment("Prefetch the C tile: it is read (beta != 0) or written at the end.")
	pc := GP64()
	MOVQ(c, pc)
	for i := 0; i < r; i++ {
		for off := 0; off < nv*vbytes; off += 64 {
			PREFETCHT0(Mem{Base: pc, Disp: off})
		}
		if i < r-1 {
			ADDQ(ldc, pc)
		}
	}

	Comment("Zero the accumulators.")
	for i := 0; i < nacc; i++ {
		if avx512 {
			VPXORD(acc(i/nv, i%nv), acc(i/nv, i%nv), acc(i/nv, i%nv))
		} else {
			VXORPS(acc(i/nv, i%nv), acc(i/nv, i%nv), acc(i/nv, i%nv))
		}
	}

	step := func(u int) {
		aoff := u * r * 4
		for j := 0; j < nv; j++ {
			VMOVUPS(Mem{Base: b, Disp: j * vbytes}, bv(j))
		}
		// B rows are ldb apart: nr for a packed panel, the matrix stride
		// when the driver reads an unpacked row-major B in place.
		ADDQ(ldb, b)
		for i := 0; i < r; i++ {
			if avx512 {
				for j := 0; j < nv; j++ {
					VFMADD231PS_BCST(Mem{Base: a, Disp: aoff + 4*i}, bv(j), acc(i, j))
				}
			} else {
				VBROADCASTSS(Mem{Base: a, Disp: aoff + 4*i}, bcast)
				for j := 0; j < nv; j++ {
					VFMADD231PS(bcast, bv(j), acc(i, j))
				}
			}
		}
	}

	Comment(fmt.Sprintf("Main loop: %d k steps per iteration.", unroll))
	Label(name + "_loop")
	CMPQ(kc, Imm(unroll))
	JL(LabelRef(name + "_tail"))
	for u := 0; u < unroll; u++ {
		step(u)
	}
	ADDQ(U32(unroll*r*4), a)
	SUBQ(Imm(unroll), kc)
	JMP(LabelRef(name + "_loop"))

	Label(name + "_tail")
	TESTQ(kc, kc)
	JE(LabelRef(name + "_store"))
	step(0)
	ADDQ(U32(r*4), a)
	DECQ(kc)
	JMP(LabelRef(name + "_tail"))

	Label(name + "_store")
	// The B registers are dead now; reuse them for alpha and beta.
	alpha, beta := bv(0), bv(1)
	VBROADCASTSS(NewParamAddr("alpha", 48), alpha)
	Comment("beta == 0 (either sign) must not read C: it may hold NaN or Inf.")
	bits := GP32()
	MOVL(NewParamAddr("beta", 52), bits)
	ANDL(U32(0x7fffffff), bits)
	JE(LabelRef(name + "_beta0"))
	VBROADCASTSS(NewParamAddr("beta", 52), beta)
	for i := 0; i < r; i++ {
		for j := 0; j < nv; j++ {
			VMULPS(alpha, acc(i, j), acc(i, j))
			VFMADD231PS(Mem{Base: c, Disp: j * vbytes}, beta, acc(i, j))
			VMOVUPS(acc(i, j), Mem{Base: c, Disp: j * vbytes})
		}
		if i < r-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()

	Label(name + "_beta0")
	for i := 0; i < r; i++ {
		for j := 0; j < nv; j++ {
			VMULPS(alpha, acc(i, j), acc(i, j))
			VMOVUPS(acc(i, j), Mem{Base: c, Disp: j * vbytes})
		}
		if i < r-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

func vecLen(avx512 bool) int {
	if avx512 {
		return 16
	}
	return 8
}

// writeTable writes the Go tables that map a row count to its kernel.
func writeTable(path string) {
	s := "// Code generated by command: go run ./internal/asmgen. DO NOT EDIT.\n\n"
	s += "//go:build amd64 && !purego\n\npackage gemm\n\n"
	s += fmt.Sprintf("const (\n\tmrAVX512 = %d\n\tnrAVX512 = %d\n\tmrAVX2   = %d\n\tnrAVX2   = %d\n)\n\n", mr512, nr512, mr256, nr256)
	s += "// kernelsAVX512[r-1] computes r rows of a 32-column tile.\n"
	s += "var kernelsAVX512 = [mrAVX512]asmKernel{"
	for r := 1; r <= mr512; r++ {
		s += fmt.Sprintf("\n\tkernAVX512x%d,", r)
	}
	s += "\n}\n\n// kernelsAVX2[r-1] computes r rows of a 16-column tile.\n"
	s += "var kernelsAVX2 = [mrAVX2]asmKernel{"
	for r := 1; r <= mr256; r++ {
		s += fmt.Sprintf("\n\tkernAVX2x%d,", r)
	}
	s += "\n}\n"
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
