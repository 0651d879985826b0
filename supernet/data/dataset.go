package data

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// DefaultDir is where the Debian package dataset-fashion-mnist installs the
// four official files.
const DefaultDir = "/usr/share/datasets/fashion-mnist"

// Shape of Fashion-MNIST.
const (
	Rows       = 28
	Cols       = 28
	NumClasses = 10
)

// File names inside a data folder. Load also accepts each without ".gz".
const (
	TrainImagesFile = "train-images-idx3-ubyte.gz"
	TrainLabelsFile = "train-labels-idx1-ubyte.gz"
	TestImagesFile  = "t10k-images-idx3-ubyte.gz"
	TestLabelsFile  = "t10k-labels-idx1-ubyte.gz"
)

// ValSeed seeds the permutation that picks the validation set. It is the
// value of VALID_SEED in the Once-for-All reference code; the generator is
// PCG rather than torch.randperm, so the chosen images differ from what
// PyTorch would pick, but the rule is the same.
const ValSeed = 2147483647

// ValFraction: the validation set is 1/ValFraction of the official training
// set, 10000 of 60000, the same size as the official test set.
const ValFraction = 6

// Class names, indexed by label.
var ClassNames = [NumClasses]string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// Dataset is a set of labelled images kept as raw bytes; batches are
// converted to normalised float32 when they are filled (see Loader).
type Dataset struct {
	Name       string // "train", "val", "test" or caller's choice
	Rows, Cols int
	Pix        []uint8 // Len() images of Rows*Cols bytes, row-major
	Labels     []uint8 // one class in 0..NumClasses-1 per image
}

// Len is the number of images.
func (d *Dataset) Len() int { return len(d.Labels) }

// Image returns image i's pixels, sharing memory with d.
func (d *Dataset) Image(i int) []uint8 {
	n := d.Rows * d.Cols
	return d.Pix[i*n : (i+1)*n : (i+1)*n]
}

// Subset returns a new dataset holding images idx of d, in that order. The
// pixels are copied so the subset does not pin a larger parent.
func (d *Dataset) Subset(name string, idx []int32) *Dataset {
	n := d.Rows * d.Cols
	s := &Dataset{Name: name, Rows: d.Rows, Cols: d.Cols,
		Pix: make([]uint8, len(idx)*n), Labels: make([]uint8, len(idx))}
	for j, i := range idx {
		copy(s.Pix[j*n:(j+1)*n], d.Image(int(i)))
		s.Labels[j] = d.Labels[i]
	}
	return s
}

// Histogram counts images per class.
func (d *Dataset) Histogram() [NumClasses]int {
	var h [NumClasses]int
	for _, l := range d.Labels {
		h[l]++
	}
	return h
}

// Splits are the three data sets training uses.
type Splits struct {
	Train *Dataset // official training set minus Val
	Val   *Dataset // held out of the official training set; see SplitTrainVal
	Test  *Dataset // official test set, untouched

	full *Dataset // the official training set, for HoldOut
}

// HoldOut returns the splits with nVal images held out for validation
// instead of the standard 1/ValFraction; 0 keeps the standard split. The
// held-out images are the first nVal of the same seeded permutation, so a
// smaller validation set is a subset of the standard one, and a network
// trained on the standard training set has seen none of its images.
func (s *Splits) HoldOut(nVal int) (*Splits, error) {
	if nVal == 0 || nVal == s.Val.Len() {
		return s, nil
	}
	if s.full == nil {
		return nil, fmt.Errorf("cannot hold out %d validation images: these splits were not read by Load", nVal)
	}
	if nVal < 0 || nVal >= s.full.Len() {
		return nil, fmt.Errorf("cannot hold out %d validation images of %d training images: want 1 to %d", nVal, s.full.Len(), s.full.Len()-1)
	}
	train, val := SplitTrainVal(s.full, nVal, ValSeed)
	return &Splits{Train: train, Val: val, Test: s.Test, full: s.full}, nil
}

// Load reads the four Fashion-MNIST files from dir ("" means DefaultDir),
// validates them and returns the train / validation / test splits. Each file
// may be gzip-compressed (name.gz) or plain (the name without .gz). Images
// must be Rows x Cols and every image file must have exactly as many labels
// as images. A missing file in DefaultDir gets an error telling the user to
// install dataset-fashion-mnist.
func Load(dir string) (*Splits, error) {
	if dir == "" {
		dir = DefaultDir
	}
	names := [4]string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile}
	var (
		paths  [4]string
		errs   [4]error
		images [2]*Images
		labels [2][]uint8
		wg     sync.WaitGroup
	)
	// Decompression dominates loading; the four files are independent.
	for k, name := range names {
		wg.Go(func() {
			path, err := findFile(dir, name)
			paths[k] = path
			if err != nil {
				errs[k] = err
				return
			}
			if k%2 == 0 {
				images[k/2], errs[k] = ReadImagesFile(path)
			} else {
				labels[k/2], errs[k] = ReadLabelsFile(path)
			}
		})
	}
	wg.Wait()
	// Report in a fixed order so the same broken folder always gives the
	// same message.
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	var sets [2]*Dataset
	for k, name := range [2]string{"train", "test"} {
		im, lb := images[k], labels[k]
		if im.Rows != Rows || im.Cols != Cols {
			return nil, &FileError{Path: paths[2*k], Msg: fmt.Sprintf("images are %dx%d, want %dx%d", im.Rows, im.Cols, Rows, Cols)}
		}
		if len(lb) != im.N {
			return nil, &FileError{Path: paths[2*k+1], Msg: fmt.Sprintf("%d labels for %d images in %s", len(lb), im.N, filepath.Base(paths[2*k]))}
		}
		if im.N == 0 {
			return nil, &FileError{Path: paths[2*k], Msg: "no images"}
		}
		sets[k] = &Dataset{Name: name, Rows: im.Rows, Cols: im.Cols, Pix: im.Pix, Labels: lb}
	}
	nVal := sets[0].Len() / ValFraction
	if nVal == 0 {
		return nil, &FileError{Path: paths[0], Msg: fmt.Sprintf("%d images are too few to hold out a validation set", sets[0].Len())}
	}
	train, val := SplitTrainVal(sets[0], nVal, ValSeed)
	return &Splits{Train: train, Val: val, Test: sets[1], full: sets[0]}, nil
}

// findFile returns dir/name, or dir/name without ".gz" when only the plain
// file exists. When neither exists the error names the .gz file and, for
// DefaultDir, says how to install it.
func findFile(dir, name string) (string, error) {
	gz := filepath.Join(dir, name)
	plain := gz[:len(gz)-len(".gz")]
	for _, p := range [2]string{gz, plain} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return p, openErr(p, err)
		}
	}
	return gz, missingFile(dir, gz)
}

// missingFile is the error for a data file that is not there. In DefaultDir
// that almost always means the Debian package is not installed, so say so.
func missingFile(dir, path string) error {
	msg := "no such file"
	if filepath.Clean(dir) == DefaultDir {
		msg += " (install it with: apt-get install dataset-fashion-mnist, or pass --data DIR)"
	}
	return &FileError{Path: path, Msg: msg, Err: fs.ErrNotExist}
}

// SplitTrainVal holds nVal images of full out as a validation set, the way
// the Once-for-All reference does: draw a seeded random permutation of
// 0..N-1 (Fisher-Yates driven by PCG(seed, 0), see permutation) and take its
// first nVal entries as validation, the rest as training. Within each split
// images keep their original file order (the indices are sorted), so a split
// is a fixed set that does not depend on anything but N, nVal and seed; the
// Loader does the shuffling.
func SplitTrainVal(full *Dataset, nVal int, seed uint64) (train, val *Dataset) {
	n := full.Len()
	if nVal < 0 || nVal > n {
		panic(fmt.Sprintf("data: SplitTrainVal: nVal %d out of range 0..%d", nVal, n))
	}
	p := permutation(n, seed, 0)
	vi, ti := p[:nVal], p[nVal:]
	slices.Sort(vi)
	slices.Sort(ti)
	return full.Subset("train", ti), full.Subset("val", vi)
}

// permutation returns a uniformly random permutation of 0..n-1 drawn with a
// Fisher-Yates shuffle from PCG(seed1, seed2). Only PCG's Uint64 and the
// code here are involved, both fixed, so the result is stable across Go
// releases (rand.Shuffle's algorithm carries no such promise).
func permutation(n int, seed1, seed2 uint64) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	g := rand.NewPCG(seed1, seed2)
	for i := n - 1; i > 0; i-- {
		j := uintn(g, uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// uintn returns a uniform integer in [0, n), n > 0, without modulo bias
// (Lemire's multiply-and-reject method).
func uintn(g *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(g.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(g.Uint64(), n)
		}
	}
	return hi
}
