package c

// The C kernels. Each is the loop of ir/interp/int8_kernels.go it names,
// written in integer-only C99; the emitter copies only the ones a model
// calls into ofa_model_kernels.c, with the requantization helpers every
// kernel shares. Kernel names are prefixed with the library's prefix
// (PFX_ below) so that two models can live in one firmware.

// kernelHelpers is ir/quant.go's fixed-point arithmetic in C:
// SaturatingRoundingDoublingHighMul, RoundingDivideByPOT,
// MultiplyByQuantizedMultiplier and Requantize.
const kernelHelpers = `#if (-1 >> 1) != -1
#error "ofa_model needs an arithmetic right shift of negative integers"
#endif

/* round(a*b / 2^31), ties up; INT32_MIN*INT32_MIN saturates (ir.SaturatingRoundingDoublingHighMul). */
static int32_t PFX_srdhm(int32_t a, int32_t b)
{
    int64_t ab, nudge;
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* C99 division truncates towards zero, as Go's does. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^e rounded to nearest, ties away from zero, e in [0, 31] (ir.RoundingDivideByPOT). */
static int32_t PFX_rdbypot(int32_t x, int32_t e)
{
    int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    int32_t rem = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > threshold ? 1 : 0);
}

/* x * m * 2^(shift-31), rounded; a left shift saturates (ir.MultiplyByQuantizedMultiplier). */
static int32_t PFX_mbqm(int32_t x, int32_t m, int32_t shift)
{
    if (shift > 0) {
        int64_t v = (int64_t)x * ((int64_t)1 << shift);
        x = v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : (int32_t)v);
        return PFX_srdhm(x, m);
    }
    return PFX_rdbypot(PFX_srdhm(x, m), -shift);
}

/* Rescale, add the zero point, clamp to [lo, hi] (ir.Requantize). */
static int8_t PFX_requant(int32_t acc, int32_t m, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    int64_t v = (int64_t)PFX_mbqm(acc, m, shift) + zp;
    if (v < lo) {
        v = lo;
    }
    if (v > hi) {
        v = hi;
    }
    return (int8_t)v;
}
`

// kernel is one C function: its prototype (for the header) and body.
type kernel struct {
	proto string
	body  string
}

// kernels by name; the emitter writes them in this map's sorted key order.
var kernels = map[string]kernel{
	"copy": {
		proto: "void PFX_copy(const int8_t *x, int8_t *y, int32_t n)",
		body: `{
    int32_t i;
    for (i = 0; i < n; i++) {
        y[i] = x[i];
    }
}`},
	// conv2d with 1x1 kernel, stride 1, no padding, one group: the
	// pointwise convolution. bias holds bias - zp_x * sum(w) (folded at
	// compile time: no tap is padding), so the loop multiplies codes.
	"conv_pw": {
		proto: "void PFX_conv_pw(const int8_t *x, int8_t *y, const int8_t *w, const int32_t *bias, const int32_t *mul, const int8_t *shift, int32_t cin, int32_t cout, int32_t hw, int32_t ozp, int32_t lo, int32_t hi)",
		body: `{
    int32_t oc, p, ic;
    for (oc = 0; oc < cout; oc++) {
        const int8_t *wr = w + oc * cin;
        int8_t *yr = y + oc * hw;
        for (p = 0; p < hw; p++) {
            const int8_t *xp = x + p;
            int32_t acc = bias[oc];
            for (ic = 0; ic < cin; ic++) {
                acc += (int32_t)xp[ic * hw] * wr[ic];
            }
            yr[p] = PFX_requant(acc, mul[oc], shift[oc], ozp, lo, hi);
        }
    }
}`},
	// Depthwise conv2d (groups = in = out channels), any square kernel,
	// stride and padding. With scratch (the planner's in-place decision),
	// input plane c is first copied to scratch, then output plane c is
	// written over the input's bytes (memplan.go's ReuseDepthwise).
	"conv_dw": {
		proto: "void PFX_conv_dw(const int8_t *x, int8_t *y, int8_t *scratch, const int8_t *w, const int32_t *bias, const int32_t *mul, const int8_t *shift, int32_t c, int32_t h, int32_t wd, int32_t oh, int32_t ow, int32_t k, int32_t s, int32_t pad, int32_t zp, const int32_t *zps, int32_t ozp, int32_t lo, int32_t hi)",
		body: `{
    int32_t ch, oy, ox, ky, kx;
    for (ch = 0; ch < c; ch++) {
        const int8_t *src = x + ch * h * wd;
        const int8_t *wk = w + ch * k * k;
        int8_t *dst = y + ch * oh * ow;
        int32_t b = bias != 0 ? bias[ch] : 0;
        int32_t z = zps != 0 ? zps[ch] : zp;
        if (scratch != 0) {
            int32_t i;
            for (i = 0; i < h * wd; i++) {
                scratch[i] = src[i];
            }
            src = scratch;
        }
        for (oy = 0; oy < oh; oy++) {
            int32_t iy0 = oy * s - pad;
            int32_t ky0 = iy0 < 0 ? -iy0 : 0;
            int32_t ky1 = h - iy0 < k ? h - iy0 : k;
            for (ox = 0; ox < ow; ox++) {
                int32_t ix0 = ox * s - pad;
                int32_t kx0 = ix0 < 0 ? -ix0 : 0;
                int32_t kx1 = wd - ix0 < k ? wd - ix0 : k;
                int32_t acc = b;
                for (ky = ky0; ky < ky1; ky++) {
                    const int8_t *row = src + (iy0 + ky) * wd;
                    const int8_t *wr = wk + ky * k;
                    for (kx = kx0; kx < kx1; kx++) {
                        acc += ((int32_t)row[ix0 + kx] - z) * wr[kx];
                    }
                }
                dst[oy * ow + ox] = PFX_requant(acc, mul[ch], shift[ch], ozp, lo, hi);
            }
        }
    }
}`},
	// Any other conv2d: groups, kernel kh x kw, stride, padding (the stem).
	"conv": {
		proto: "void PFX_conv(const int8_t *x, int8_t *y, const int8_t *w, const int32_t *bias, const int32_t *mul, const int8_t *shift, int32_t cin, int32_t h, int32_t wd, int32_t cout, int32_t oh, int32_t ow, int32_t kh, int32_t kw, int32_t s, int32_t pad, int32_t groups, int32_t zp, int32_t ozp, const int32_t *ozps, int32_t lo, int32_t hi)",
		body: `{
    int32_t cing = cin / groups, coutg = cout / groups;
    int32_t oc, oy, ox, icg, ky, kx;
    for (oc = 0; oc < cout; oc++) {
        const int8_t *xg = x + (oc / coutg) * cing * h * wd;
        int32_t b = bias != 0 ? bias[oc] : 0;
        int32_t z = ozps != 0 ? ozps[oc] : ozp;
        for (oy = 0; oy < oh; oy++) {
            int32_t iy0 = oy * s - pad;
            int32_t ky0 = iy0 < 0 ? -iy0 : 0;
            int32_t ky1 = h - iy0 < kh ? h - iy0 : kh;
            for (ox = 0; ox < ow; ox++) {
                int32_t ix0 = ox * s - pad;
                int32_t kx0 = ix0 < 0 ? -ix0 : 0;
                int32_t kx1 = wd - ix0 < kw ? wd - ix0 : kw;
                int32_t acc = b;
                for (icg = 0; icg < cing; icg++) {
                    const int8_t *xc = xg + icg * h * wd;
                    const int8_t *wk = w + (oc * cing + icg) * kh * kw;
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *row = xc + (iy0 + ky) * wd;
                        const int8_t *wr = wk + ky * kw;
                        for (kx = kx0; kx < kx1; kx++) {
                            acc += ((int32_t)row[ix0 + kx] - zp) * wr[kx];
                        }
                    }
                }
                y[(oc * oh + oy) * ow + ox] = PFX_requant(acc, mul[oc], shift[oc], z, lo, hi);
            }
        }
    }
}`},
	// dense with an i32 result (the logits): the accumulators as they are.
	// bias holds bias - zp_x * sum(w).
	"dense_i32": {
		proto: "void PFX_dense_i32(const int8_t *x, int32_t *y, const int8_t *w, const int32_t *bias, int32_t k, int32_t m)",
		body: `{
    int32_t j, i;
    for (j = 0; j < m; j++) {
        const int8_t *wr = w + j * k;
        int32_t acc = bias[j];
        for (i = 0; i < k; i++) {
            acc += (int32_t)x[i] * wr[i];
        }
        y[j] = acc;
    }
}`},
	"dense_i8": {
		proto: "void PFX_dense_i8(const int8_t *x, int8_t *y, const int8_t *w, const int32_t *bias, const int32_t *mul, const int8_t *shift, int32_t k, int32_t m, int32_t ozp, int32_t lo, int32_t hi)",
		body: `{
    int32_t j, i;
    for (j = 0; j < m; j++) {
        const int8_t *wr = w + j * k;
        int32_t acc = bias[j];
        for (i = 0; i < k; i++) {
            acc += (int32_t)x[i] * wr[i];
        }
        y[j] = PFX_requant(acc, mul[j], shift[j], ozp, lo, hi);
    }
}`},
	// TF Lite's int8 add (ir.AddLeftShift = 20 bits of headroom); y may be
	// a or b (the planner's operand reuse).
	"add": {
		proto: "void PFX_add(const int8_t *a, const int8_t *b, int8_t *y, int32_t n, int32_t za, int32_t zb, int32_t ma, int32_t sa, int32_t mb, int32_t sb, int32_t m, int32_t s, int32_t ozp, int32_t lo, int32_t hi)",
		body: `{
    int32_t i;
    for (i = 0; i < n; i++) {
        int32_t xa = PFX_mbqm(((int32_t)a[i] - za) * ((int32_t)1 << 20), ma, sa);
        int32_t xb = PFX_mbqm(((int32_t)b[i] - zb) * ((int32_t)1 << 20), mb, sb);
        y[i] = PFX_requant(xa + xb, m, s, ozp, lo, hi);
    }
}`},
	// mul of x (c planes of hw) by s: s[ch*sc + i*si] is element i of
	// plane ch (sc = 1, si = 0: one code per channel, squeeze-excite;
	// sc = hw, si = 1: equal shapes). y may be x.
	"mul": {
		proto: "void PFX_mul(const int8_t *x, const int8_t *s, int8_t *y, int32_t c, int32_t hw, int32_t sc, int32_t si, int32_t zx, int32_t zs, int32_t m, int32_t sh, int32_t ozp, int32_t lo, int32_t hi)",
		body: `{
    int32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const int8_t *xc = x + ch * hw;
        int8_t *yc = y + ch * hw;
        for (i = 0; i < hw; i++) {
            int32_t sv = (int32_t)s[ch * sc + i * si] - zs;
            yc[i] = PFX_requant(((int32_t)xc[i] - zx) * sv, m, sh, ozp, lo, hi);
        }
    }
}`},
	"gap": {
		proto: "void PFX_gap(const int8_t *x, int8_t *y, int32_t c, int32_t hw, int32_t zp, int32_t m, int32_t s, int32_t ozp, int32_t lo, int32_t hi)",
		body: `{
    int32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const int8_t *xc = x + ch * hw;
        int32_t sum = 0;
        for (i = 0; i < hw; i++) {
            sum += (int32_t)xc[i] - zp;
        }
        y[ch] = PFX_requant(sum, m, s, ozp, lo, hi);
    }
}`},
	// h-swish, h-sigmoid, sigmoid: y = table[x + 128]; y may be x.
	"lut": {
		proto: "void PFX_lut(const int8_t *x, int8_t *y, int32_t n, const int8_t *table)",
		body: `{
    int32_t i;
    for (i = 0; i < n; i++) {
        y[i] = table[(int32_t)x[i] + 128];
    }
}`},
	// The same with one table per channel (a stem quantized per channel):
	// y = table[ch * 256 + x + 128]; y may be x.
	"lut_c": {
		proto: "void PFX_lut_c(const int8_t *x, int8_t *y, int32_t c, int32_t hw, const int8_t *table)",
		body: `{
    int32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const int8_t *t = table + ch * 256 + 128;
        for (i = 0; i < hw; i++) {
            y[ch * hw + i] = t[x[ch * hw + i]];
        }
    }
}`},
	// reshape (when it rescales), relu, clip: y = requant(x - zp); y may be x.
	"requant": {
		proto: "void PFX_requant_n(const int8_t *x, int8_t *y, int32_t n, int32_t zp, int32_t m, int32_t s, int32_t ozp, int32_t lo, int32_t hi)",
		body: `{
    int32_t i;
    for (i = 0; i < n; i++) {
        y[i] = PFX_requant((int32_t)x[i] - zp, m, s, ozp, lo, hi);
    }
}`},
}
