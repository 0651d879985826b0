package nn

// Row kernels of the depthwise convolution. Each handles one kernel row
// against one output row; the 3/5/7 versions (the supernet's kernel sizes)
// hold the row's weights or sums in registers and take one bounds check per
// output. x and dx are padded rows long enough for every tap.

// dwForwardRow adds y[o] += sum_j w[j]*x[o*s+j].
func dwForwardRow(y, x, w []float32, s int) {
	switch len(w) {
	case 3:
		w0, w1, w2 := w[0], w[1], w[2]
		for o := range y {
			p := x[o*s : o*s+3 : o*s+3]
			y[o] += w0*p[0] + w1*p[1] + w2*p[2]
		}
	case 5:
		w0, w1, w2, w3, w4 := w[0], w[1], w[2], w[3], w[4]
		for o := range y {
			p := x[o*s : o*s+5 : o*s+5]
			y[o] += w0*p[0] + w1*p[1] + w2*p[2] + w3*p[3] + w4*p[4]
		}
	case 7:
		w0, w1, w2, w3, w4, w5, w6 := w[0], w[1], w[2], w[3], w[4], w[5], w[6]
		for o := range y {
			p := x[o*s : o*s+7 : o*s+7]
			y[o] += w0*p[0] + w1*p[1] + w2*p[2] + w3*p[3] + w4*p[4] + w5*p[5] + w6*p[6]
		}
	default:
		k := len(w)
		for o := range y {
			p := x[o*s : o*s+k : o*s+k]
			var a float32
			for j, v := range w {
				a += v * p[j]
			}
			y[o] += a
		}
	}
}

// dwWeightRow adds acc[j] += sum_o dy[o]*x[o*s+j].
func dwWeightRow(acc, dy, x []float32, s int) {
	switch len(acc) {
	case 3:
		var a0, a1, a2 float32
		for o, d := range dy {
			p := x[o*s : o*s+3 : o*s+3]
			a0 += d * p[0]
			a1 += d * p[1]
			a2 += d * p[2]
		}
		acc[0] += a0
		acc[1] += a1
		acc[2] += a2
	case 5:
		var a0, a1, a2, a3, a4 float32
		for o, d := range dy {
			p := x[o*s : o*s+5 : o*s+5]
			a0 += d * p[0]
			a1 += d * p[1]
			a2 += d * p[2]
			a3 += d * p[3]
			a4 += d * p[4]
		}
		acc[0] += a0
		acc[1] += a1
		acc[2] += a2
		acc[3] += a3
		acc[4] += a4
	case 7:
		var a0, a1, a2, a3, a4, a5, a6 float32
		for o, d := range dy {
			p := x[o*s : o*s+7 : o*s+7]
			a0 += d * p[0]
			a1 += d * p[1]
			a2 += d * p[2]
			a3 += d * p[3]
			a4 += d * p[4]
			a5 += d * p[5]
			a6 += d * p[6]
		}
		acc[0] += a0
		acc[1] += a1
		acc[2] += a2
		acc[3] += a3
		acc[4] += a4
		acc[5] += a5
		acc[6] += a6
	default:
		for j := range acc {
			var a float32
			for o, d := range dy {
				a += d * x[o*s+j]
			}
			acc[j] += a
		}
	}
}

// dwInputRow adds dx[o*s+j] += w[j]*dy[o].
func dwInputRow(dx, dy, w []float32, s int) {
	switch len(w) {
	case 3:
		w0, w1, w2 := w[0], w[1], w[2]
		for o, d := range dy {
			p := dx[o*s : o*s+3 : o*s+3]
			p[0] += w0 * d
			p[1] += w1 * d
			p[2] += w2 * d
		}
	case 5:
		w0, w1, w2, w3, w4 := w[0], w[1], w[2], w[3], w[4]
		for o, d := range dy {
			p := dx[o*s : o*s+5 : o*s+5]
			p[0] += w0 * d
			p[1] += w1 * d
			p[2] += w2 * d
			p[3] += w3 * d
			p[4] += w4 * d
		}
	case 7:
		w0, w1, w2, w3, w4, w5, w6 := w[0], w[1], w[2], w[3], w[4], w[5], w[6]
		for o, d := range dy {
			p := dx[o*s : o*s+7 : o*s+7]
			p[0] += w0 * d
			p[1] += w1 * d
			p[2] += w2 * d
			p[3] += w3 * d
			p[4] += w4 * d
			p[5] += w5 * d
			p[6] += w6 * d
		}
	default:
		k := len(w)
		for o, d := range dy {
			p := dx[o*s : o*s+k : o*s+k]
			for j, v := range w {
				p[j] += v * d
			}
		}
	}
}
