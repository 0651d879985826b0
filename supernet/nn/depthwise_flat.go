package nn

import (
	"unsafe"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// The flat depthwise path. A plane is laid out "flat": rows of a fixed stride
// W, with the columns past the useful width left as junk. Then output q =
// oy*W + ox of a stride-1 correlation reads buf[q + off[t]] for tap t, so every
// tap is one contiguous run over the whole plane and a SIMD kernel
// (dwkernel_*.go) computes all outputs of a small plane with a handful of
// full-width FMAs per tap instead of one short row at a time:
//
//   - Forward, stride s: the padded input is split into s*s polyphase planes
//     P[a][b][i][j] = xp[s*i+a][s*j+b], so the strided correlation becomes a
//     unit-stride one (tap (r, c) reads phase (r%s, c%s) at (r/s, c/s)).
//   - Weight gradient: dw[t] = sum_q dy[q] * buf[q + off[t]] over the same
//     buffer, with dy copied into the flat layout (junk columns stay zero).
//   - Input gradient: each of the s*s output phases of dx is a unit-stride
//     correlation of padded dy with the taps of matching parity, rotated.
//
// Summation order: each output element (forward, dx) is one chain over the
// taps in a fixed order. Backward runs channels in parallel; a channel's
// weight gradient sums its images in image order into per-lane vector
// accumulators that are reduced in lane order at the end. Nothing depends on
// the number of threads.

// dwKernels is one family of flat kernels (vl lanes per vector, at most maxVec
// vectors per call). conv and grad have the semantics of dwConvGo and
// dwGradGo; the drivers below check bounds before calling them.
type dwKernels struct {
	name       string
	vl, maxVec int
	conv       func(nv int, out, buf, w []float32, off []int, planes, ostr, bstr, wstr int)
	grad       func(nv int, acc, buf, dy []float32, off []int, planes, bstr, dstr int)
}

// dwFlat is the kernel family the depthwise layers use; nil selects the
// portable row path (conv_depthwise.go). Tests swap it.
var dwFlat = dwDefaultKernels

// dwGoKernels are the portable flat kernels: slow, but they test the flat
// layouts on any machine and define the kernels' semantics.
var dwGoKernels = &dwKernels{name: "go", vl: 16, maxVec: 8, conv: dwConvGo, grad: dwGradGo}

// dwScratchFloats bounds one worker's scratch when grouping planes per call.
const dwScratchFloats = 1 << 15

func depthwiseForward(ws *tensor.Arena, g convGeom, x, w, b, y []float32) {
	if k := dwFlat; k != nil {
		depthwiseForwardFlat(ws, g, x, w, b, y, k)
		return
	}
	depthwiseForwardRows(ws, g, x, w, b, y)
}

func depthwiseBackward(ws *tensor.Arena, g convGeom, dy, x, w, dx, dw, db []float32, setDX bool) {
	if k := dwFlat; k != nil {
		depthwiseBackwardFlat(ws, g, dy, x, w, dx, dw, db, setDX, k)
		return
	}
	if setDX {
		clear(dx) // the row path only accumulates
	}
	depthwiseBackwardRows(ws, g, dy, x, w, dx, dw, db)
}

// convFlat runs k.conv over nvec vectors: for p in [0, planes) and q in
// [0, nvec*vl), out[p*ostr+q] = sum_t w[p*wstr+t] * buf[p*bstr+off[t]+q].
func (k *dwKernels) convFlat(nvec int, out, buf, w []float32, off []int, maxOff, planes, ostr, bstr, wstr int) {
	if planes <= 0 || nvec <= 0 {
		return
	}
	_ = out[(planes-1)*ostr+nvec*k.vl-1]
	_ = buf[(planes-1)*bstr+maxOff+nvec*k.vl-1]
	if len(off) > 0 {
		_ = w[(planes-1)*wstr+len(off)-1]
	}
	for v := 0; v < nvec; v += k.maxVec {
		k.conv(min(k.maxVec, nvec-v), out[v*k.vl:], buf[v*k.vl:], w, off, planes, ostr, bstr, wstr)
	}
}

// gradFlat runs k.grad over nvec vectors: for p in [0, planes) in order,
// acc[t*vl+l] += sum_v dy[p*dstr+v*vl+l] * buf[p*bstr+off[t]+v*vl+l].
func (k *dwKernels) gradFlat(nvec int, acc, buf, dy []float32, off []int, maxOff, planes, bstr, dstr int) {
	if planes <= 0 || nvec <= 0 || len(off) == 0 {
		return
	}
	_ = acc[len(off)*k.vl-1]
	_ = buf[(planes-1)*bstr+maxOff+nvec*k.vl-1]
	_ = dy[(planes-1)*dstr+nvec*k.vl-1]
	for v := 0; v < nvec; v += k.maxVec {
		k.grad(min(k.maxVec, nvec-v), acc, buf[v*k.vl:], dy[v*k.vl:], off, planes, bstr, dstr)
	}
}

// dwConvGo is the portable conv kernel (see dwKernels.convFlat).
func dwConvGo(nv int, out, buf, w []float32, off []int, planes, ostr, bstr, wstr int) {
	n := nv * 16
	for p := 0; p < planes; p++ {
		o := out[p*ostr : p*ostr+n : p*ostr+n]
		clear(o)
		for t, d := range off {
			wt := w[p*wstr+t]
			src := buf[p*bstr+d:][:n:n]
			for q := range o {
				o[q] += wt * src[q]
			}
		}
	}
}

// dwGradGo is the portable grad kernel (see dwKernels.gradFlat).
func dwGradGo(nv int, acc, buf, dy []float32, off []int, planes, bstr, dstr int) {
	const vl = 16
	n := nv * vl
	for p := 0; p < planes; p++ {
		d := dy[p*dstr:][:n:n]
		for t, o := range off {
			src := buf[p*bstr+o:][:n:n]
			a := acc[t*vl : (t+1)*vl : (t+1)*vl]
			for v := 0; v < n; v += vl {
				dv, sv := d[v:v+vl:v+vl], src[v:v+vl:v+vl]
				for l := range a {
					a[l] += dv[l] * sv[l]
				}
			}
		}
	}
}

// f32p and intp return the data pointers of slices for the assembly kernels, which
// the drivers above have bounds-checked; empty slices give a nil pointer
// that a kernel with no taps never reads.
func f32p(s []float32) *float32 { return unsafe.SliceData(s) }
func intp(s []int) *int         { return unsafe.SliceData(s) }

// dwFwdPlan is the flat input layout of one call: s*s phase planes of ph rows
// of stride pw, and the tap offsets into it.
type dwFwdPlan struct {
	s, pad, w    int
	pw, ps       int // phase row stride, phase size
	nvec, lr     int // output vectors per plane, lr = nvec*vl
	off          []int
	maxOff, blen int // largest offset, buffer length per plane
}

func newFwdPlan(g convGeom, vl int) dwFwdPlan {
	s := g.stride
	hp, wp := g.h+2*g.pad, g.w+2*g.pad
	p := dwFwdPlan{s: s, pad: g.pad, w: g.w, pw: (wp + s - 1) / s}
	p.ps = (hp + s - 1) / s * p.pw
	p.nvec = (g.oh*p.pw + vl - 1) / vl
	p.lr = p.nvec * vl
	p.off = make([]int, g.kh*g.kw)
	for r := 0; r < g.kh; r++ {
		for c := 0; c < g.kw; c++ {
			o := ((r%s)*s+c%s)*p.ps + (r/s)*p.pw + c/s
			p.off[r*g.kw+c] = o
			p.maxOff = max(p.maxOff, o)
		}
	}
	p.blen = max(s*s*p.ps, p.maxOff+p.lr)
	return p
}

// fill copies plane (h x w) into its phases in dst; the borders stay zero.
func (p *dwFwdPlan) fill(dst, plane []float32) {
	h := len(plane) / p.w
	switch p.s {
	case 1:
		for y := 0; y < h; y++ {
			copyRow(dst[(y+p.pad)*p.pw+p.pad:], plane[y*p.w:(y+1)*p.w])
		}
	case 2:
		for y := 0; y < h; y++ {
			Y := y + p.pad
			b0 := (Y&1)*2*p.ps + (Y>>1)*p.pw
			// Columns X = x+pad alternate between phase b=0 and b=1.
			deinterleave(dst[b0:b0+p.pw], dst[b0+p.ps:b0+p.ps+p.pw], plane[y*p.w:(y+1)*p.w], p.pad)
		}
	default:
		s := p.s
		for y := 0; y < h; y++ {
			Y := y + p.pad
			base := (Y%s)*s*p.ps + (Y/s)*p.pw
			for x, v := range plane[y*p.w : (y+1)*p.w] {
				X := x + p.pad
				dst[base+(X%s)*p.ps+X/s] = v
			}
		}
	}
}

// copyRow copies src to the start of dst. The rows here are short (a few to
// a few dozen floats), where a plain loop beats memmove's call and dispatch.
func copyRow(dst, src []float32) {
	if len(src) > 32 {
		copy(dst, src)
		return
	}
	d := dst[:len(src):len(src)]
	//lint:ignore S1001 a loop beats memmove's call on rows this short
	for i, v := range src {
		d[i] = v
	}
}

// deinterleave writes row[x] to column (x+pad)/2 of ev or od by the parity of
// x+pad.
func deinterleave(ev, od, row []float32, pad int) {
	a, b := ev[pad>>1:], od[pad>>1:]
	if pad&1 == 1 { // even x land in od, odd x in ev one column on
		a, b = od[pad>>1:], ev[pad>>1+1:]
	}
	n := len(row) / 2
	a, b = a[:n+len(row)&1], b[:n]
	for i := range b {
		r := row[2*i : 2*i+2 : 2*i+2]
		a[i], b[i] = r[0], r[1]
	}
	if len(row)&1 == 1 {
		a[n] = row[2*n]
	}
}

// interleaveAdd is the adjoint of deinterleave with the phase rows starting
// at column pad/2: d[x] += (ev or od)[(x+pad)/2 - pad/2], or = with set.
func interleaveAdd(d, ev, od []float32, pad int, set bool) {
	a, b := ev, od
	if pad&1 == 1 {
		a, b = od, ev[1:]
	}
	n := len(d) / 2
	a, b = a[:n+len(d)&1], b[:n]
	if set {
		for i := range b {
			r := d[2*i : 2*i+2 : 2*i+2]
			r[0], r[1] = a[i], b[i]
		}
		if len(d)&1 == 1 {
			d[2*n] = a[n]
		}
		return
	}
	for i := range b {
		r := d[2*i : 2*i+2 : 2*i+2]
		r[0] += a[i]
		r[1] += b[i]
	}
	if len(d)&1 == 1 {
		d[2*n] += a[n]
	}
}

// dwGroup is how many planes of per floats one call handles.
func dwGroup(items, per int) int {
	return max(1, min(items, dwScratchFloats/max(per, 1)))
}

func depthwiseForwardFlat(ws *tensor.Arena, g convGeom, x, w, b, y []float32, k *dwKernels) {
	hw, ohw, kk := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	pl := newFwdPlan(g, k.vl)
	grp := dwGroup(g.cin, pl.blen+pl.lr)
	per := grp * (pl.blen + pl.lr)
	workers := tensor.Workers(g.n)
	scr := ws.Alloc(workers * per) // zeroed: the phase borders must be 0
	tensor.Parallel(workers, g.n, func(wk, i int) {
		sb := scr[wk*per : (wk+1)*per]
		bufs, outs := sb[:grp*pl.blen], sb[grp*pl.blen:]
		for c0 := 0; c0 < g.cin; c0 += grp {
			gc := min(grp, g.cin-c0)
			for j := 0; j < gc; j++ {
				p := i*g.cin + c0 + j
				pl.fill(bufs[j*pl.blen:], x[p*hw:(p+1)*hw])
			}
			k.convFlat(pl.nvec, outs, bufs, w[c0*kk:], pl.off, pl.maxOff, gc, pl.lr, pl.blen, kk)
			for j := 0; j < gc; j++ {
				p := i*g.cin + c0 + j
				out := y[p*ohw : (p+1)*ohw]
				src := outs[j*pl.lr:]
				if b == nil {
					for oy := 0; oy < g.oh; oy++ {
						copyRow(out[oy*g.ow:(oy+1)*g.ow], src[oy*pl.pw:][:g.ow])
					}
					continue
				}
				bv := b[c0+j]
				for oy := 0; oy < g.oh; oy++ {
					d := out[oy*g.ow : (oy+1)*g.ow]
					sr := src[oy*pl.pw:][:len(d)]
					for x := range d {
						d[x] = sr[x] + bv
					}
				}
			}
		}
	})
}

// dwBwdPlan is the flat layout of the input gradient: dy padded into dyp
// (rows of stride wd), and the s*s output phases, each icnt rows of stride
// wd. Phase (a, b) holds dx at padded coordinates (s*(imin+I)+a,
// s*(jmin+J)+b) for I in [0, icnt), J in [0, jcnt).
type dwBwdPlan struct {
	s, pad       int
	mh, mw       int // dy padding above and left
	imin, jmin   int
	rows, wd     int // dyp rows and stride
	nvec, lr     int // vectors per phase, lr = nvec*vl
	taps         [][]int
	off          [][]int
	maxOff, dlen int // largest offset, dyp length per plane
}

func newBwdPlan(g convGeom, vl int) dwBwdPlan {
	s := g.stride
	p := dwBwdPlan{s: s, pad: g.pad, mh: (g.kh - 1) / s, mw: (g.kw - 1) / s, imin: g.pad / s, jmin: g.pad / s}
	icnt := (g.pad+g.h+s-1)/s - p.imin
	jcnt := (g.pad+g.w+s-1)/s - p.jmin
	p.wd = jcnt + p.mw
	p.rows = icnt + p.mh
	p.nvec = (icnt*p.wd + vl - 1) / vl
	p.lr = p.nvec * vl
	p.taps = make([][]int, s*s)
	p.off = make([][]int, s*s)
	for a := 0; a < s; a++ {
		for b := 0; b < s; b++ {
			ph := a*s + b
			for r := a; r < g.kh; r += s {
				for c := b; c < g.kw; c += s {
					o := (p.mh-(r-a)/s)*p.wd + p.mw - (c-b)/s
					p.taps[ph] = append(p.taps[ph], r*g.kw+c)
					p.off[ph] = append(p.off[ph], o)
					p.maxOff = max(p.maxOff, o)
				}
			}
		}
	}
	p.dlen = max(p.rows*p.wd, p.maxOff+p.lr)
	return p
}

// fill copies dy plane (oh x ow) into dst at its padded place.
func (p *dwBwdPlan) fill(dst, plane []float32, oh, ow int) {
	for oy := 0; oy < oh; oy++ {
		r := oy - p.imin + p.mh
		if r < 0 || r >= p.rows {
			continue
		}
		lo := max(0, p.jmin-p.mw) // dy columns that map before column 0 never matter
		c0 := lo - p.jmin + p.mw
		hi := min(ow, p.wd-c0+lo)
		if hi > lo {
			copyRow(dst[r*p.wd+c0:], plane[oy*ow+lo:oy*ow+hi])
		}
	}
}

// add accumulates the phases in src into dx plane (h x w), or with set
// writes them there: every element of the plane comes from exactly one phase.
func (p *dwBwdPlan) add(dx, src []float32, h, w int, set bool) {
	s := p.s
	for y := 0; y < h; y++ {
		Y := y + p.pad
		a, I := Y%s, Y/s-p.imin
		d := dx[y*w : (y+1)*w : (y+1)*w]
		if s == 1 {
			sr := src[I*p.wd:][:w]
			if set {
				copy(d, sr)
				continue
			}
			for x := range d {
				d[x] += sr[x]
			}
			continue
		}
		if s == 2 {
			b0 := 2*a*p.lr + I*p.wd
			interleaveAdd(d, src[b0:b0+p.wd], src[b0+p.lr:b0+p.lr+p.wd], p.pad, set)
			continue
		}
		for x := range d {
			X := x + p.pad
			v := src[(a*s+X%s)*p.lr+I*p.wd+X/s-p.jmin]
			if set {
				d[x] = v
			} else {
				d[x] += v
			}
		}
	}
}

func depthwiseBackwardFlat(ws *tensor.Arena, g convGeom, dy, x, w, dx, dw, db []float32, setDX bool, k *dwKernels) {
	hw, ohw, kk := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	var fp dwFwdPlan
	var bp dwBwdPlan
	per := 0 // floats per image in a group
	if dw != nil {
		fp = newFwdPlan(g, k.vl)
		per += fp.blen + fp.lr
	}
	if dx != nil {
		bp = newBwdPlan(g, k.vl)
		per += bp.dlen + g.stride*g.stride*bp.lr
	}
	grp := dwGroup(g.n, per)
	fixed := kk*k.vl + kk // vector accumulators, per-phase weights
	wsz := fixed + grp*per
	workers := tensor.Workers(g.cin)
	scr := ws.Alloc(workers * wsz) // zeroed: borders and junk columns must be 0
	tensor.Parallel(workers, g.cin, func(wk, c int) {
		sb := scr[wk*wsz : (wk+1)*wsz]
		acc, wph := sb[:kk*k.vl], sb[kk*k.vl:fixed]
		sb = sb[fixed:]
		var bufs, dyfs, dyps, outs []float32
		if dw != nil {
			bufs, sb = sb[:grp*fp.blen], sb[grp*fp.blen:]
			dyfs, sb = sb[:grp*fp.lr], sb[grp*fp.lr:]
			clear(acc)
		}
		if dx != nil {
			dyps, sb = sb[:grp*bp.dlen], sb[grp*bp.dlen:]
			outs = sb
		}
		wc := w[c*kk : (c+1)*kk]
		// wph holds each phase's weights back to back; wbase[ph] is where.
		var wbase [16]int
		if dx != nil {
			o := 0
			for ph, ts := range bp.taps {
				if ph < len(wbase) {
					wbase[ph] = o
				}
				for _, t := range ts {
					wph[o] = wc[t]
					o++
				}
			}
		}
		var bsum float32
		for i0 := 0; i0 < g.n; i0 += grp {
			gn := min(grp, g.n-i0)
			if dw != nil {
				for j := 0; j < gn; j++ {
					p := (i0+j)*g.cin + c
					fp.fill(bufs[j*fp.blen:], x[p*hw:(p+1)*hw])
					dyf := dyfs[j*fp.lr:]
					src := dy[p*ohw : (p+1)*ohw]
					for oy := 0; oy < g.oh; oy++ {
						copyRow(dyf[oy*fp.pw:], src[oy*g.ow:(oy+1)*g.ow])
					}
				}
				k.gradFlat(fp.nvec, acc, bufs, dyfs, fp.off, fp.maxOff, gn, fp.blen, fp.lr)
			}
			if dx != nil {
				for j := 0; j < gn; j++ {
					p := (i0+j)*g.cin + c
					bp.fill(dyps[j*bp.dlen:], dy[p*ohw:(p+1)*ohw], g.oh, g.ow)
				}
				np := g.stride * g.stride
				for ph := range np {
					wb := phaseWeightBase(&wbase, bp.taps, ph)
					k.convFlat(bp.nvec, outs[ph*bp.lr:], dyps, wph[wb:], bp.off[ph], bp.maxOff, gn, np*bp.lr, bp.dlen, 0)
				}
				for j := 0; j < gn; j++ {
					p := (i0+j)*g.cin + c
					bp.add(dx[p*hw:(p+1)*hw], outs[j*np*bp.lr:], g.h, g.w, setDX)
				}
			}
			if db != nil {
				for j := 0; j < gn; j++ {
					p := (i0+j)*g.cin + c
					for _, v := range dy[p*ohw : (p+1)*ohw] {
						bsum += v
					}
				}
			}
		}
		if dw != nil {
			dst := dw[c*kk : (c+1)*kk]
			for t := range dst {
				var s float32
				for _, v := range acc[t*k.vl : (t+1)*k.vl] {
					s += v
				}
				dst[t] += s
			}
		}
		if db != nil {
			db[c] += bsum
		}
	})
}

// phaseWeightBase is where phase ph's weights start in the per-phase weight
// array (wbase caches the first 16 phases, strides up to 4).
func phaseWeightBase(wbase *[16]int, taps [][]int, ph int) int {
	if ph < len(wbase) {
		return wbase[ph]
	}
	o := 0
	for _, ts := range taps[:ph] {
		o += len(ts)
	}
	return o
}
