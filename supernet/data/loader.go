package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Pad is the zero padding, in pixels on each side, of the training-time
// random crop: the image is padded to (Rows+2*Pad) x (Cols+2*Pad) with
// background (raw 0) and a Rows x Cols window is cut at a uniformly random
// offset, i.e. a shift of -Pad..+Pad pixels in each direction.
const Pad = 2

// Loader cuts a Dataset into batches of normalised NCHW float32 tensors.
//
// A training loader (train = true) visits the images in a fresh random order
// every epoch and augments each one: the random crop described at Pad, then
// a horizontal flip with probability 1/2 (crop first, then flip, as
// torchvision's RandomCrop + RandomHorizontalFlip), then, if SetErasing
// asked for it, random erasing, then a bilinear resize to the requested
// resolution, then Normalize. An evaluation loader visits the images in
// dataset order and only resizes and normalises.
//
// Determinism and resuming: there is no generator state to save. The order
// of epoch e is a permutation drawn from a PCG seeded by a hash of
// (seed, e); the augmentation of the image at position p of that order is
// drawn from a PCG seeded by a hash of (seed, e, p). A batch is therefore a
// pure function of (seed, epoch, batch index, batch size, resolution), the
// same bits on every run, and a checkpoint needs only those integers: to
// resume, call Epoch(e) and continue with Fill at the saved batch index.
// Because augmentation is keyed by position and not by batch, it does not
// depend on the batch size either.
//
// A Loader and its Epochs are safe for concurrent use, so a trainer may fill
// the next batch in the background while it computes on the current one.
type Loader struct {
	data  *Dataset
	batch int
	train bool
	seed  uint64

	erase float64 // probability of random erasing, see SetErasing

	mu       sync.Mutex
	resizers map[int]*resizer // by output resolution
}

// Random erasing (Zhong et al., "Random Erasing Data Augmentation", 2017)
// with the paper's settings: the rectangle covers eraseMinArea..eraseMaxArea
// of the image, with aspect ratio (height/width) eraseMinAspect..1/that,
// placed so that it lies inside the image; up to eraseTries draws.
const (
	eraseMinArea   = 0.02
	eraseMaxArea   = 0.4
	eraseMinAspect = 0.3
	eraseTries     = 100
)

// SetErasing makes a training loader erase, with probability p per image,
// a random rectangle of the cropped and flipped image and fill it with
// uniformly random pixel values (0..255 before normalisation). p = 0 (the
// default) turns it off and leaves every batch as it was without it. Call it
// before the first Fill; it panics unless 0 <= p <= 1.
func (l *Loader) SetErasing(p float64) {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("data: SetErasing: probability %g, want 0..1", p))
	}
	l.erase = p
}

// NewLoader returns a loader over d with the given batch size. train selects
// shuffling and augmentation; seed drives both and is ignored otherwise.
func NewLoader(d *Dataset, batchSize int, train bool, seed uint64) *Loader {
	if batchSize <= 0 {
		panic(fmt.Sprintf("data: NewLoader: batch size %d, want > 0", batchSize))
	}
	return &Loader{data: d, batch: batchSize, train: train, seed: seed, resizers: map[int]*resizer{}}
}

// Dataset returns the loader's dataset.
func (l *Loader) Dataset() *Dataset { return l.data }

// BatchSize is the number of images in every batch but possibly the last.
func (l *Loader) BatchSize() int { return l.batch }

// NumBatches is the number of batches per epoch; the last one is partial
// when the batch size does not divide the dataset.
func (l *Loader) NumBatches() int { return (l.data.Len() + l.batch - 1) / l.batch }

// Epoch is one pass over a Loader's dataset in that epoch's order.
type Epoch struct {
	l     *Loader
	epoch int
	order []int32 // position -> image index; nil means identity
}

// Key-derivation tags, so the permutation and the augmentation streams
// never share a seed.
const (
	tagOrder   = 1
	tagAugment = 2
)

// Epoch returns epoch e (any integer; training usually counts from 0). For a
// training loader this draws the epoch's order, O(dataset size).
func (l *Loader) Epoch(e int) *Epoch {
	ep := &Epoch{l: l, epoch: e}
	if l.train {
		s := hash2(hash2(l.seed, tagOrder), uint64(e))
		ep.order = permutation(l.data.Len(), s, hash2(s, tagOrder))
	}
	return ep
}

// Index returns the dataset index of the image at position pos of the epoch.
func (e *Epoch) Index(pos int) int {
	if e.order == nil {
		return pos
	}
	return int(e.order[pos])
}

// augment returns the crop offset (0..2*Pad each) and flip for position pos,
// and the generator, positioned after those draws, for the erasing draws:
// the crop and flip of an image do not change when erasing is turned on.
func (e *Epoch) augment(pos int) (dx, dy int, flip bool, g *rand.PCG) {
	s1 := hash2(hash2(e.l.seed, tagAugment), uint64(e.epoch))
	g = rand.NewPCG(s1, hash2(s1, uint64(pos)))
	dx = int(uintn(g, 2*Pad+1))
	dy = int(uintn(g, 2*Pad+1))
	flip = g.Uint64()>>63 == 1
	return dx, dy, flip, g
}

// eraseRect draws whether and where to erase a rows x cols image: the
// rectangle's top-left corner and size, ok false for no erasing (the coin
// said no, or no draw fitted in eraseTries).
func eraseRect(g *rand.PCG, p float64, rows, cols int) (y0, x0, h, w int, ok bool) {
	if unitFloat(g) >= p {
		return 0, 0, 0, 0, false
	}
	area := float64(rows * cols)
	for range eraseTries {
		target := area * (eraseMinArea + (eraseMaxArea-eraseMinArea)*unitFloat(g))
		aspect := eraseMinAspect + (1/eraseMinAspect-eraseMinAspect)*unitFloat(g)
		h = int(math.Round(math.Sqrt(target * aspect)))
		w = int(math.Round(math.Sqrt(target / aspect)))
		if h >= 1 && w >= 1 && h < rows && w < cols {
			y0 = int(uintn(g, uint64(rows-h+1)))
			x0 = int(uintn(g, uint64(cols-w+1)))
			return y0, x0, h, w, true
		}
	}
	return 0, 0, 0, 0, false
}

// unitFloat is a uniform float64 in [0, 1).
func unitFloat(g *rand.PCG) float64 { return float64(g.Uint64()>>11) / (1 << 53) }

// erase fills the rectangle of the rows x cols image dst with random bytes
// through lut.
func erase(dst []float32, cols, y0, x0, h, w int, g *rand.PCG, lut *[256]float32) {
	for y := y0; y < y0+h; y++ {
		row := dst[y*cols+x0 : y*cols+x0+w]
		for x := range row {
			row[x] = lut[uint8(g.Uint64()>>56)]
		}
	}
}

// Fill writes batch b of the epoch into x as n x 1 x res x res float32
// (NCHW, one channel) and the labels into y, and returns n, the batch's
// size: BatchSize() except perhaps for the last batch. It panics if b is not
// in 0..NumBatches()-1, res < 1, or x or y is too short.
func (e *Epoch) Fill(b, res int, x []float32, y []int) int {
	l, d := e.l, e.l.data
	nb := l.NumBatches()
	if b < 0 || b >= nb {
		panic(fmt.Sprintf("data: Fill: batch %d out of range 0..%d", b, nb-1))
	}
	if res < 1 {
		panic(fmt.Sprintf("data: Fill: resolution %d, want > 0", res))
	}
	start := b * l.batch
	n := min(l.batch, d.Len()-start)
	plane := res * res
	if len(x) < n*plane || len(y) < n {
		panic(fmt.Sprintf("data: Fill: buffers hold %d floats and %d labels, batch needs %d and %d", len(x), len(y), n*plane, n))
	}
	var rz *resizer
	var raw, tmp []float32
	direct := res == d.Rows && res == d.Cols
	if !direct {
		rz = l.resizer(res)
		raw = make([]float32, d.Rows*d.Cols)
		tmp = make([]float32, d.Rows*res)
	}
	for i := range n {
		pos := start + i
		idx := e.Index(pos)
		dx, dy, flip := Pad, Pad, false // no shift, no flip
		var g *rand.PCG
		if l.train {
			dx, dy, flip, g = e.augment(pos)
		}
		img := d.Image(idx)
		dst := x[i*plane : (i+1)*plane]
		out, lut := dst, &normLUT
		if !direct {
			out, lut = raw, &rawLUT
		}
		place(out, img, d.Rows, d.Cols, dx-Pad, dy-Pad, flip, lut)
		if l.train && l.erase > 0 {
			if y0, x0, h, w, ok := eraseRect(g, l.erase, d.Rows, d.Cols); ok {
				erase(out, d.Cols, y0, x0, h, w, g, lut)
			}
		}
		if !direct {
			rz.resize(dst, raw, tmp, true)
		}
		y[i] = int(d.Labels[idx])
	}
	return n
}

// rawLUT maps a byte to itself as float32, for the resize path, which
// interpolates raw values and normalises afterwards.
var rawLUT = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i)
	}
	return t
}()

// place writes the rows x cols image img, shifted and flipped, through lut
// into dst: dst[y][x] = lut[img[y+sy][x'+sx]] with x' = cols-1-x when
// flipped, else x; pixels from outside img are lut[0], the padding.
func place(dst []float32, img []uint8, rows, cols, sx, sy int, flip bool, lut *[256]float32) {
	dst = dst[:rows*cols]
	bg := lut[0]
	for y := range rows {
		out := dst[y*cols : (y+1)*cols]
		r := y + sy
		if r < 0 || r >= rows {
			for x := range out {
				out[x] = bg
			}
			continue
		}
		row := img[r*cols : (r+1)*cols]
		if !flip {
			for x := range out {
				if c := x + sx; c >= 0 && c < cols {
					out[x] = lut[row[c]]
				} else {
					out[x] = bg
				}
			}
			continue
		}
		for x := range out {
			if c := cols - 1 - x + sx; c >= 0 && c < cols {
				out[x] = lut[row[c]]
			} else {
				out[x] = bg
			}
		}
	}
}

// resizer returns the cached resizer from the dataset's size to res x res.
func (l *Loader) resizer(res int) *resizer {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.resizers[res]
	if r == nil {
		r = newResizer(l.data.Rows, l.data.Cols, res, res)
		l.resizers[res] = r
	}
	return r
}

// hash2 mixes b into a with the SplitMix64 finaliser; chaining it turns a
// tuple of integers into a well-spread 64-bit seed, so that nearby tuples
// (consecutive epochs or positions) give unrelated PCG streams.
func hash2(a, b uint64) uint64 {
	return mix64(a ^ mix64(b+0x9e3779b97f4a7c15))
}

func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}
