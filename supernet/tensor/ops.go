package tensor

import "math/rand/v2"

// AddTo accumulates src into dst (dst += src): the backward of every fan-out,
// residual adds included.
func AddTo(dst, src []float32) {
	if len(dst) != len(src) {
		panic("tensor: AddTo length mismatch")
	}
	ParallelRange(len(dst), func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}

// Add writes a+b into dst; dst may alias either input.
func Add(dst, a, b []float32) {
	if len(dst) != len(a) || len(a) != len(b) {
		panic("tensor: Add length mismatch")
	}
	ParallelRange(len(dst), func(lo, hi int) {
		d, x, y := dst[lo:hi], a[lo:hi:hi], b[lo:hi:hi]
		for i := range d {
			d[i] = x[i] + y[i]
		}
	})
}

// Scale multiplies every element by s.
func Scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// MeanOf writes the element-wise mean of srcs (each as long as dst) into
// dst, each term divided by len(srcs) before it is added in order: a value
// averaged with itself comes back bit for bit.
func MeanOf(dst []float32, srcs ...[]float32) {
	clear(dst)
	n := float32(len(srcs))
	for _, src := range srcs {
		if len(src) != len(dst) {
			panic("tensor: MeanOf length mismatch")
		}
		for i, v := range src {
			dst[i] += v / n
		}
	}
}

// Fill sets every element to v.
func Fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

// RandNormal fills x with N(0, std^2) samples drawn from rng in order, so a
// seeded rng gives the same weights on every machine.
func RandNormal(x []float32, std float64, rng *rand.Rand) {
	for i := range x {
		x[i] = float32(rng.NormFloat64() * std)
	}
}

// RandUniform fills x with samples from [lo, hi).
func RandUniform(x []float32, lo, hi float64, rng *rand.Rand) {
	for i := range x {
		x[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

// MaxAbsDiff is the largest |a[i]-b[i]|; tests use it to compare kernels.
func MaxAbsDiff(a, b []float32) float32 {
	if len(a) != len(b) {
		panic("tensor: MaxAbsDiff length mismatch")
	}
	var m float32
	for i := range a {
		d := a[i] - b[i]
		if d < 0 {
			d = -d
		}
		if d > m || d != d {
			m = d
		}
	}
	return m
}
