package data

import "fmt"

// Normalisation. Pixels p in 0..255 become ((p/255) - Mean) / Std, the
// torchvision ToTensor + Normalize convention. Mean and Std are the
// commonly quoted statistics of the Fashion-MNIST training images
// (mean 0.2860, standard deviation 0.3530 of p/255), so the normalised
// training data has roughly zero mean and unit variance.
const (
	Mean = 0.2860
	Std  = 0.3530
)

// normScale and normBias fold the three steps of the formula into one
// multiply-add on raw 0..255 values.
var (
	normScale = float32(1 / (255 * Std))
	normBias  = float32(-Mean / Std)
)

// Normalize maps a raw pixel value v (0..255 scale, possibly fractional after
// resizing) to the network's input scale.
func Normalize(v float32) float32 {
	// The explicit conversion forbids fusing into an FMA, so the table and
	// the resize path round identically and give the same bits.
	return float32(v*normScale) + normBias
}

// normLUT is Normalize for every byte value: the no-resize path is a lookup.
var normLUT = func() (t [256]float32) {
	for i := range t {
		t[i] = Normalize(float32(i))
	}
	return t
}()

// axis holds, for one axis of a resize, each output index's two source
// indices and the weight of the second.
type axis struct {
	i0, i1 []int32
	w      []float32
}

// newAxis computes the bilinear sampling positions for resizing in samples
// to out samples with PyTorch's align_corners=false rule: output sample o
// has centre o+0.5 in output space, which maps to src = (o+0.5)*in/out - 0.5
// in input space; src below 0 is clamped to 0, i0 = floor(src),
// i1 = min(i0+1, in-1) and the weight of i1 is src-i0. Sampling past the
// last input sample therefore repeats the edge, and no antialiasing is done
// when shrinking (F.interpolate's default antialias=false).
func newAxis(in, out int) axis {
	a := axis{make([]int32, out), make([]int32, out), make([]float32, out)}
	scale := float64(in) / float64(out)
	for o := range out {
		src := (float64(o)+0.5)*scale - 0.5
		if src < 0 {
			src = 0
		}
		i0 := min(int(src), in-1)
		a.i0[o] = int32(i0)
		a.i1[o] = int32(min(i0+1, in-1))
		a.w[o] = float32(src - float64(i0))
	}
	return a
}

// resizer resizes sh x sw images to dh x dw; its tables are built once per
// size pair and it is safe for concurrent use.
type resizer struct {
	sh, sw, dh, dw int
	y, x           axis
}

func newResizer(sh, sw, dh, dw int) *resizer {
	if sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 {
		panic(fmt.Sprintf("data: resize %dx%d to %dx%d: sizes must be positive", sh, sw, dh, dw))
	}
	return &resizer{sh: sh, sw: sw, dh: dh, dw: dw, y: newAxis(sh, dh), x: newAxis(sw, dw)}
}

// resize writes the resized src into dst, normalised with Normalize if norm
// is set. tmp must hold sh*dw values.
//
// Each output is a + wx*(b-a) along x, then top + wy*(bottom-top) along y.
// That is PyTorch's weighted sum rearranged: equal up to float rounding,
// but it keeps a constant image exactly constant and a same-size resize an
// exact copy, which the weighted form does not. The float32 conversions
// forbid FMA fusion, so results do not depend on the build's GOAMD64 level.
func (r *resizer) resize(dst, src, tmp []float32, norm bool) {
	sw, dw := r.sw, r.dw
	src = src[:r.sh*sw]
	dst = dst[:r.dh*dw]
	tmp = tmp[:r.sh*dw]
	// Horizontal pass over every source row, then vertical: 2 lerps per
	// output plus one per (source row, output column), instead of 3 per
	// output.
	for y := range r.sh {
		row := src[y*sw : (y+1)*sw]
		out := tmp[y*dw : (y+1)*dw]
		for o := range out {
			a, b := row[r.x.i0[o]], row[r.x.i1[o]]
			out[o] = a + float32(r.x.w[o]*(b-a))
		}
	}
	for o := range r.dh {
		top := tmp[int(r.y.i0[o])*dw:][:dw]
		bot := tmp[int(r.y.i1[o])*dw:][:dw]
		w := r.y.w[o]
		out := dst[o*dw : (o+1)*dw]
		if !norm {
			for x := range out {
				out[x] = top[x] + float32(w*(bot[x]-top[x]))
			}
			continue
		}
		for x := range out {
			out[x] = Normalize(top[x] + float32(w*(bot[x]-top[x])))
		}
	}
}

// Resize resamples the sh x sw row-major image src into the dh x dw image
// dst by bilinear interpolation with the semantics of PyTorch's
// F.interpolate(mode="bilinear", align_corners=False, antialias=False),
// up to float rounding (see newAxis for the exact rule). Same-size resizing
// copies exactly and a constant image stays exactly constant. It panics if a
// size is not positive or a slice is too short.
func Resize(dst []float32, dh, dw int, src []float32, sh, sw int) {
	r := newResizer(sh, sw, dh, dw)
	r.resize(dst, src, make([]float32, sh*dw), false)
}
