// Command dwgen generates the amd64 depthwise-convolution kernels of package
// nn with avo. It is run by `go generate` in supernet/nn; the generated files
// are committed so that building package nn never needs this command.
//
// The kernels work on "flat" planes (see depthwise_flat.go): a plane is laid
// out with a fixed row stride, junk columns included, so that every tap of
// the convolution is a contiguous, unit-stride slice of its source buffer.
// For nv vectors of VL lanes (VL = 16 for AVX-512, 8 for AVX2):
//
//	conv: out[q] = sum_t w[t] * buf[off[t]+q]          q in [0, nv*VL)
//	grad: acc[t*VL+l] += sum_v dy[v*VL+l] * buf[off[t]+v*VL+l]
//
// each repeated for planes planes whose out, buf, w and dy advance by the
// given element strides (acc does not move: grad sums the planes in order).
// One kernel per vector count nv keeps every accumulator (conv) or dy vector
// (grad) in a register. Taps run in order and vectors within a tap in order,
// so each output lane has one fixed FMA chain, whatever the caller's threads.
package main

import (
	"flag"
	"fmt"
	"os"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Largest vector count per kernel: all accumulators plus one broadcast
// register (conv) or one accumulator (grad) fit in the register file.
const (
	nv512 = 24
	nv256 = 12
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

var table = flag.String("table", "", "write the Go kernel tables to this file")

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!purego")
	for nv := 1; nv <= nv512; nv++ {
		conv(fmt.Sprintf("dwConvZ%d", nv), nv, true)
	}
	for nv := 1; nv <= nv512; nv++ {
		grad(fmt.Sprintf("dwGradZ%d", nv), nv, true)
	}
	for nv := 1; nv <= nv256; nv++ {
		conv(fmt.Sprintf("dwConvY%d", nv), nv, false)
	}
	for nv := 1; nv <= nv256; nv++ {
		grad(fmt.Sprintf("dwGradY%d", nv), nv, false)
	}
	Generate()
	if *table != "" {
		writeTable(*table)
	}
}

func vecs(avx512 bool) ([]reg.VecPhysical, int) {
	if avx512 {
		return zmm, 64
	}
	return ymm, 32
}

// conv emits out[q] = sum_t w[t]*buf[off[t]+q] for nv vectors and planes planes.
func conv(name string, nv int, avx512 bool) {
	TEXT(name, NOSPLIT, "func(out, buf, w *float32, off *int, taps, planes, ostr, bstr, wstr int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes %d output vectors of a flat depthwise correlation for each of planes planes.", name, nv))
	v, vb := vecs(avx512)
	wv := v[nv]

	out := Load(Param("out"), GP64())
	buf := Load(Param("buf"), GP64())
	w := Load(Param("w"), GP64())
	planes := Load(Param("planes"), GP64())
	ostr := Load(Param("ostr"), GP64())
	SHLQ(Imm(2), ostr)
	bstr := Load(Param("bstr"), GP64())
	SHLQ(Imm(2), bstr)
	wstr := Load(Param("wstr"), GP64())
	SHLQ(Imm(2), wstr)
	op, wp, t, n, p := GP64(), GP64(), GP64(), GP64(), GP64()

	TESTQ(planes, planes)
	JE(LabelRef(name + "_done"))
	Label(name + "_plane")
	for i := 0; i < nv; i++ {
		if avx512 {
			VPXORD(v[i], v[i], v[i]) // VXORPS on zmm would need AVX512DQ
		} else {
			VXORPS(v[i], v[i], v[i])
		}
	}
	Load(Param("off"), op)
	MOVQ(w, wp)
	Load(Param("taps"), n)
	TESTQ(n, n)
	JE(LabelRef(name + "_store"))
	Label(name + "_tap")
	MOVQ(Mem{Base: op}, t)
	LEAQ(Mem{Base: buf, Index: t, Scale: 4}, p)
	VBROADCASTSS(Mem{Base: wp}, wv)
	for i := 0; i < nv; i++ {
		VFMADD231PS(Mem{Base: p, Disp: i * vb}, wv, v[i])
	}
	ADDQ(Imm(8), op)
	ADDQ(Imm(4), wp)
	DECQ(n)
	JNE(LabelRef(name + "_tap"))
	Label(name + "_store")
	for i := 0; i < nv; i++ {
		VMOVUPS(v[i], Mem{Base: out, Disp: i * vb})
	}
	ADDQ(ostr, out)
	ADDQ(bstr, buf)
	ADDQ(wstr, w)
	DECQ(planes)
	JNE(LabelRef(name + "_plane"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// grad emits acc[t] += sum_v dy_v * buf[off[t]+v*VL] (vector-wise) for nv
// vectors, over planes planes in order.
func grad(name string, nv int, avx512 bool) {
	TEXT(name, NOSPLIT, "func(acc, buf, dy *float32, off *int, taps, planes, bstr, dstr int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s accumulates per-lane weight gradients of a flat depthwise correlation over %d vectors for each of planes planes.", name, nv))
	v, vb := vecs(avx512)
	av := v[nv]

	buf := Load(Param("buf"), GP64())
	dy := Load(Param("dy"), GP64())
	planes := Load(Param("planes"), GP64())
	bstr := Load(Param("bstr"), GP64())
	SHLQ(Imm(2), bstr)
	dstr := Load(Param("dstr"), GP64())
	SHLQ(Imm(2), dstr)
	ap, op, t, n, p := GP64(), GP64(), GP64(), GP64(), GP64()

	TESTQ(planes, planes)
	JE(LabelRef(name + "_done"))
	Label(name + "_plane")
	for i := 0; i < nv; i++ {
		VMOVUPS(Mem{Base: dy, Disp: i * vb}, v[i])
	}
	Load(Param("acc"), ap)
	Load(Param("off"), op)
	Load(Param("taps"), n)
	TESTQ(n, n)
	JE(LabelRef(name + "_next"))
	Label(name + "_tap")
	MOVQ(Mem{Base: op}, t)
	LEAQ(Mem{Base: buf, Index: t, Scale: 4}, p)
	VMOVUPS(Mem{Base: ap}, av)
	for i := 0; i < nv; i++ {
		VFMADD231PS(Mem{Base: p, Disp: i * vb}, v[i], av)
	}
	VMOVUPS(av, Mem{Base: ap})
	ADDQ(Imm(uint64(vb)), ap)
	ADDQ(Imm(8), op)
	DECQ(n)
	JNE(LabelRef(name + "_tap"))
	Label(name + "_next")
	ADDQ(bstr, buf)
	ADDQ(dstr, dy)
	DECQ(planes)
	JNE(LabelRef(name + "_plane"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// writeTable writes the Go tables that map a vector count to its kernel.
func writeTable(path string) {
	s := "// Code generated by command: go run ./internal/dwgen. DO NOT EDIT.\n\n"
	s += "//go:build amd64 && !purego\n\npackage nn\n\n"
	s += fmt.Sprintf("const (\n\tdwMaxVecZ = %d\n\tdwMaxVecY = %d\n)\n\n", nv512, nv256)
	for _, k := range []struct {
		kind, typ, set string
		n              int
	}{
		{"Conv", "dwConvAsm", "Z", nv512}, {"Grad", "dwGradAsm", "Z", nv512},
		{"Conv", "dwConvAsm", "Y", nv256}, {"Grad", "dwGradAsm", "Y", nv256},
	} {
		s += fmt.Sprintf("// dw%s%s[nv-1] handles nv vectors.\n", k.kind, k.set)
		s += fmt.Sprintf("var dw%s%s = [...]%s{", k.kind, k.set, k.typ)
		for nv := 1; nv <= k.n; nv++ {
			s += fmt.Sprintf("\n\tdw%s%s%d,", k.kind, k.set, nv)
		}
		s += "\n}\n\n"
	}
	if err := os.WriteFile(path, []byte(s[:len(s)-1]), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
