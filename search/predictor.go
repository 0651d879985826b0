package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"sort"

	"github.com/ofac-dev/ofac/internal/atomicfile"
	"github.com/ofac-dev/ofac/supernet/gemm"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// Predictor is the accuracy predictor: an MLP over the arch encoding
// (one-hot kernel and expand ratio per block, zeros for skipped blocks,
// one-hot resolution) with ReLU hidden layers and one linear output whose
// bias starts at the mean accuracy, as in the reference.
type Predictor struct {
	Space ofa.SearchSpace
	// Layers are the weights, input to output: W is [Out][In] row-major.
	Layers []Dense
	// Mean is the mean accuracy of the training data (the output bias's
	// starting value), kept for reports.
	Mean float64
	// RMSE is the root-mean-square error on the held-out data, as a
	// fraction (0.01 is one point of accuracy).
	RMSE float64
	// Train and Held are how many records trained and tested it.
	Train, Held int
}

// Dense is one fully connected layer.
type Dense struct {
	In, Out int
	W, B    []float32
}

// InputSize is the length of the encoding of an arch of s.
func InputSize(s ofa.SearchSpace) int {
	return s.MaxBlocks()*(len(s.Kernels)+len(s.Expands)) + len(s.Resolutions)
}

// Encode writes the encoding of a into x (len InputSize), which it zeroes.
func Encode(s *ofa.SearchSpace, a ofa.Arch, x []float32) {
	clear(x)
	per := len(s.Kernels) + len(s.Expands)
	for st := range s.Stages {
		for j := 0; j < a.D[st]; j++ {
			i := st*s.MaxDepth() + j
			x[i*per+index(s.Kernels, a.KS[i])] = 1
			x[i*per+len(s.Kernels)+index(s.Expands, a.E[i])] = 1
		}
	}
	x[s.MaxBlocks()*per+index(s.Resolutions, a.R)] = 1
}

func index(xs []int, v int) int {
	for i, x := range xs {
		if x == v {
			return i
		}
	}
	panic(fmt.Sprintf("search: %d is not a choice of the space %v", v, xs))
}

// TrainOptions set up predictor training; the zero value of a field means
// its default.
type TrainOptions struct {
	Hidden      int     // units per hidden layer (400)
	Depth       int     // hidden layers (3)
	Epochs      int     // passes over the training records (200)
	Batch       int     // records per Adam step (128)
	LR          float64 // Adam learning rate (1e-3)
	WeightDecay float64 // L2 added to the gradient, as torch's Adam (1e-4)
	HeldOut     float64 // fraction of records held out for the RMSE (0.2)
	Seed        uint64  // initial weights, split and order
}

func (o TrainOptions) withDefaults() TrainOptions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Hidden, 400)
	def(&o.Depth, 3)
	def(&o.Epochs, 200)
	def(&o.Batch, 128)
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 1e-4
	}
	if o.HeldOut == 0 {
		o.HeldOut = 0.2
	}
	return o
}

// TrainPredictor fits a predictor to records. Records are sorted by arch
// first, so the result depends only on their set and the options.
func TrainPredictor(space ofa.SearchSpace, records []Record, o TrainOptions) (*Predictor, error) {
	o = o.withDefaults()
	if o.Hidden < 1 || o.Depth < 1 || o.Epochs < 1 || o.Batch < 1 || !(o.HeldOut > 0 && o.HeldOut < 1) || !(o.LR > 0) || o.WeightDecay < 0 {
		return nil, fmt.Errorf("predictor options out of range: %+v", o)
	}
	recs := append([]Record(nil), records...)
	for _, r := range recs {
		if err := space.Validate(r.Arch); err != nil {
			return nil, err
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Arch.JSON() < recs[j].Arch.JSON() })
	held := int(math.Round(o.HeldOut * float64(len(recs))))
	if len(recs) < 5 || held < 1 || held >= len(recs) {
		return nil, fmt.Errorf("%d accuracy records are too few to train and test a predictor (want at least 5)", len(recs))
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e37))
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	test, trainSet := recs[:held], recs[held:]

	in := InputSize(space)
	p := &Predictor{Space: space, Train: len(trainSet), Held: len(test)}
	for _, r := range trainSet {
		p.Mean += r.Top1
	}
	p.Mean /= float64(len(trainSet))
	sizes := []int{in}
	for range o.Depth {
		sizes = append(sizes, o.Hidden)
	}
	sizes = append(sizes, 1)
	for l := 0; l+1 < len(sizes); l++ {
		d := Dense{In: sizes[l], Out: sizes[l+1], W: make([]float32, sizes[l]*sizes[l+1]), B: make([]float32, sizes[l+1])}
		// Uniform(-1/sqrt(in), 1/sqrt(in)) for weights and biases, the
		// default of torch's Linear.
		bound := 1 / math.Sqrt(float64(d.In))
		for i := range d.W {
			d.W[i] = float32(bound * (2*rng.Float64() - 1))
		}
		for i := range d.B {
			d.B[i] = float32(bound * (2*rng.Float64() - 1))
		}
		p.Layers = append(p.Layers, d)
	}
	p.Layers[len(p.Layers)-1].B[0] = float32(p.Mean)

	t := newTrainer(p, o)
	x := make([]float32, len(trainSet)*in)
	y := make([]float32, len(trainSet))
	for i, r := range trainSet {
		Encode(&space, r.Arch, x[i*in:(i+1)*in])
		y[i] = float32(r.Top1)
	}
	order := make([]int, len(trainSet))
	bx := make([]float32, o.Batch*in)
	by := make([]float32, o.Batch)
	for range o.Epochs {
		for i := range order {
			order[i] = i
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for s := 0; s < len(order); s += o.Batch {
			n := min(o.Batch, len(order)-s)
			for k := 0; k < n; k++ {
				copy(bx[k*in:(k+1)*in], x[order[s+k]*in:])
				by[k] = y[order[s+k]]
			}
			t.step(bx[:n*in], by[:n], n)
		}
	}
	var se float64
	archs := make([]ofa.Arch, len(test))
	for i, r := range test {
		archs[i] = r.Arch
	}
	for i, v := range p.PredictBatch(archs) {
		d := v - test[i].Top1
		se += d * d
	}
	p.RMSE = math.Sqrt(se / float64(len(test)))
	return p, nil
}

// trainer holds Adam's state and the activations of one step.
type trainer struct {
	p     *Predictor
	o     TrainOptions
	m, v  [][]float32 // per layer: W then B, concatenated
	t     int
	acts  [][]float32 // acts[0] is the input batch, acts[l+1] layer l's output
	grads [][]float32 // dW then dB per layer
}

func newTrainer(p *Predictor, o TrainOptions) *trainer {
	t := &trainer{p: p, o: o}
	for _, l := range p.Layers {
		n := len(l.W) + len(l.B)
		t.m = append(t.m, make([]float32, n))
		t.v = append(t.v, make([]float32, n))
		t.grads = append(t.grads, make([]float32, n))
	}
	return t
}

// forward runs the batch x [n][In] through every layer; acts keep the
// post-ReLU outputs for backward.
func (p *Predictor) forward(x []float32, n int, acts [][]float32) [][]float32 {
	acts = append(acts[:0], x)
	h := x
	for li, l := range p.Layers {
		out := make([]float32, n*l.Out)
		for r := 0; r < n; r++ {
			copy(out[r*l.Out:(r+1)*l.Out], l.B)
		}
		gemm.Sgemm(false, true, n, l.Out, l.In, 1, h, l.In, l.W, l.In, 1, out, l.Out)
		if li < len(p.Layers)-1 {
			for i, v := range out {
				if v < 0 {
					out[i] = 0
				}
			}
		}
		acts = append(acts, out)
		h = out
	}
	return acts
}

func (t *trainer) step(x, y []float32, n int) {
	p := t.p
	t.acts = p.forward(x, n, t.acts)
	L := len(p.Layers)
	// d(mean squared error)/d(output)
	delta := make([]float32, n)
	out := t.acts[L]
	for i := range delta {
		delta[i] = 2 * (out[i] - y[i]) / float32(n)
	}
	for l := L - 1; l >= 0; l-- {
		ly := p.Layers[l]
		g := t.grads[l]
		dW, dB := g[:len(ly.W)], g[len(ly.W):]
		// dW = delta^T [Out x n] * acts[l] [n x In]
		gemm.Sgemm(true, false, ly.Out, ly.In, n, 1, delta, ly.Out, t.acts[l], ly.In, 0, dW, ly.In)
		clear(dB)
		for r := 0; r < n; r++ {
			for j := 0; j < ly.Out; j++ {
				dB[j] += delta[r*ly.Out+j]
			}
		}
		if l > 0 {
			prev := make([]float32, n*ly.In)
			gemm.Sgemm(false, false, n, ly.In, ly.Out, 1, delta, ly.Out, ly.W, ly.In, 0, prev, ly.In)
			a := t.acts[l]
			for i := range prev {
				if a[i] <= 0 {
					prev[i] = 0
				}
			}
			delta = prev
		}
	}
	t.t++
	const b1, b2, eps = 0.9, 0.999, 1e-8
	lr := t.o.LR * math.Sqrt(1-math.Pow(b2, float64(t.t))) / (1 - math.Pow(b1, float64(t.t)))
	wd := float32(t.o.WeightDecay)
	for l := range p.Layers {
		ly := &p.Layers[l]
		g, m, v := t.grads[l], t.m[l], t.v[l]
		upd := func(w []float32, off int) {
			for i := range w {
				gi := g[off+i] + wd*w[i]
				m[off+i] = b1*m[off+i] + (1-b1)*gi
				v[off+i] = b2*v[off+i] + (1-b2)*gi*gi
				w[i] -= float32(lr * float64(m[off+i]) / (math.Sqrt(float64(v[off+i])) + eps))
			}
		}
		upd(ly.W, 0)
		upd(ly.B, len(ly.W))
	}
}

// Predict returns the predicted top-1 accuracy (a fraction) of a.
func (p *Predictor) Predict(a ofa.Arch) float64 { return p.PredictBatch([]ofa.Arch{a})[0] }

// PredictBatch predicts many archs in one pass of matrix products. Each
// result is the same whatever the batch it is in (rows are independent and
// the products' sums do not depend on how many rows there are).
func (p *Predictor) PredictBatch(archs []ofa.Arch) []float64 {
	out := make([]float64, len(archs))
	in := InputSize(p.Space)
	const chunk = 256
	x := make([]float32, chunk*in)
	var acts [][]float32
	for s := 0; s < len(archs); s += chunk {
		n := min(chunk, len(archs)-s)
		for i := 0; i < n; i++ {
			Encode(&p.Space, archs[s+i], x[i*in:(i+1)*in])
		}
		acts = p.forward(x[:n*in], n, acts)
		for i, v := range acts[len(acts)-1] {
			out[s+i] = float64(v)
		}
	}
	return out
}

// The predictor file is JSON: {"format", "checksum", "model"} where
// checksum is the CRC-32C, in hex, of the model object exactly as stored.
const predictorFormat = "ofac-predictor/1"

type predictorFile struct {
	Format   string          `json:"format"`
	Checksum string          `json:"checksum"`
	Model    json.RawMessage `json:"model"`
}

type predictorModel struct {
	Space  ofa.SearchSpace `json:"space"`
	Mean   float64         `json:"mean"`
	RMSE   float64         `json:"rmse"`
	Train  int             `json:"train_records"`
	Held   int             `json:"held_out_records"`
	Layers []Dense         `json:"layers"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode serialises the predictor.
func (p *Predictor) Encode() ([]byte, error) {
	model, err := json.Marshal(predictorModel{Space: p.Space, Mean: p.Mean, RMSE: p.RMSE, Train: p.Train, Held: p.Held, Layers: p.Layers})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(predictorFile{Format: predictorFormat, Checksum: fmt.Sprintf("%08x", crc32.Checksum(model, castagnoli)), Model: model})
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Save writes the predictor atomically.
func (p *Predictor) Save(path string) error {
	b, err := p.Encode()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b)
}

// LoadPredictor reads a predictor file; errors start with the path.
func LoadPredictor(path string) (*Predictor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := DecodePredictor(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// maxPredictorUnits bounds layer sizes read from a file.
const maxPredictorUnits = 1 << 14

// DecodePredictor parses and checks a predictor file's bytes.
func DecodePredictor(b []byte) (*Predictor, error) {
	var f predictorFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || f.Format != predictorFormat {
		return nil, fmt.Errorf("not an ofac predictor file (want JSON with \"format\": %q)", predictorFormat)
	}
	if got := fmt.Sprintf("%08x", crc32.Checksum(f.Model, castagnoli)); got != f.Checksum {
		return nil, errors.New("predictor file is corrupted: checksum mismatch")
	}
	var m predictorModel
	dec = json.NewDecoder(bytes.NewReader(f.Model))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("predictor model is invalid: %v", err)
	}
	if err := checkSpace(m.Space); err != nil {
		return nil, fmt.Errorf("predictor model is invalid: %v", err)
	}
	if len(m.Layers) < 1 || len(m.Layers) > 16 {
		return nil, fmt.Errorf("predictor model is invalid: %d layers", len(m.Layers))
	}
	in := InputSize(m.Space)
	for i, l := range m.Layers {
		want := 1
		if i+1 < len(m.Layers) {
			want = m.Layers[i+1].In
		}
		if l.In != in || l.Out != want || l.Out < 1 || l.Out > maxPredictorUnits || len(l.W) != l.In*l.Out || len(l.B) != l.Out {
			return nil, fmt.Errorf("predictor model is invalid: layer %d is %dx%d with %d weights and %d biases, want %d inputs", i, l.In, l.Out, len(l.W), len(l.B), in)
		}
		for _, v := range append(append([]float32(nil), l.W...), l.B...) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("predictor model is invalid: layer %d has a non-finite weight", i)
			}
		}
		in = l.Out
	}
	return &Predictor{Space: m.Space, Layers: m.Layers, Mean: m.Mean, RMSE: m.RMSE, Train: m.Train, Held: m.Held}, nil
}

// checkSpace bounds a space read from a file before anything is sized from
// it, and checks what Encode relies on.
func checkSpace(s ofa.SearchSpace) error {
	if len(s.Stages) < 1 || len(s.Stages) > 16 || len(s.Kernels) < 1 || len(s.Kernels) > 8 || len(s.Expands) < 1 || len(s.Expands) > 8 ||
		len(s.Depths) < 1 || len(s.Depths) > 8 || len(s.Resolutions) < 1 || len(s.Resolutions) > 64 {
		return errors.New("search space out of range")
	}
	for i, d := range s.Depths {
		if d < 1 || d > 16 || (i > 0 && d <= s.Depths[i-1]) {
			return errors.New("search space depths must be increasing and at most 16")
		}
	}
	return nil
}
