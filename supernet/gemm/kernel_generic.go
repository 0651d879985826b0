package gemm

// Portable pure-Go micro-kernel, used on every GOARCH without assembly (and
// with the purego tag) and tested on amd64 as well. The 4x4 tile keeps its 16
// sums in named locals so the compiler can hold them in registers.
const (
	mrGeneric = 4
	nrGeneric = 4
)

var genericKernels = &kernelSet{
	name: "generic",
	mr:   mrGeneric, nr: nrGeneric,
	mc: 32 * mrGeneric, kc: 256, nc: 256 * nrGeneric,
	tile: tileGeneric,
}

// tileGeneric is the portable kernel: each element is one running sum over p
// in order, then scaled, exactly like the assembly kernels.
func tileGeneric(r, kc int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	var acc [mrGeneric][nrGeneric]float32
	if r == mrGeneric {
		acc = tileGeneric4x4(kc, a[:4*kc], b, ldb)
	} else {
		a = a[:r*kc]
		for p := range kc {
			bp := (*[nrGeneric]float32)(b[p*ldb:])
			for i := range r {
				av := a[p*r+i]
				row := &acc[i]
				for j := range nrGeneric {
					row[j] += av * bp[j]
				}
			}
		}
	}
	for i := range r {
		row := c[i*ldc : i*ldc+nrGeneric]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * acc[i][j]
			}
		} else {
			for j := range row {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
		}
	}
}

func tileGeneric4x4(kc int, a, b []float32, ldb int) [4][4]float32 {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := range kc {
		ap := (*[4]float32)(a[p*4:])
		bp := (*[4]float32)(b[p*ldb:])
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	return [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
}
