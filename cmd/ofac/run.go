package main

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/supernet/data"
)

type runCmd struct {
	Model string `arg:"" help:"Model file (.ofac) to run." type:"path"`
	Input string `required:"" short:"i" placeholder:"IMAGE|INDEX" help:"A PGM (P2/P5) or PNG file, or a number N for image N of the Fashion-MNIST test set."`
	Data  string `placeholder:"DIR" help:"Folder with the Fashion-MNIST files (default ${default_data})." default:"${default_data}"`
	Top   int    `default:"5" help:"How many classes to list, best first."`
}

func (c *runCmd) Run(e *env) error {
	if c.Top < 1 {
		return usageError{fmt.Errorf("--top must be at least 1, got %d", c.Top)}
	}
	g, err := ir.ReadModelFile(c.Model)
	if err != nil {
		return err
	}
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		return fmt.Errorf("%s: run needs a model with one input and one output, it has %d and %d", c.Model, len(g.Inputs), len(g.Outputs))
	}
	in := g.Inputs[0]
	if len(in.Shape) != 4 || in.Shape[0] != 1 || in.Shape[1] != 1 || in.Shape[2] != in.Shape[3] {
		return fmt.Errorf("%s: run classifies one grey square image, but the model takes %s%s", c.Model, in.DType, in.Shape)
	}
	pixels, label, err := c.image()
	if err != nil {
		return err
	}
	res := in.Shape[2]
	if res != data.Rows {
		resized := make([]float32, res*res)
		data.Resize(resized, res, res, pixels, data.Rows, data.Cols)
		pixels = resized
	}
	x := interp.Tensor{Shape: in.Shape, Data: pixels}
	if in.DType.IsInteger() {
		quantizeInput(x.Data, in.Quant)
	}
	it, err := interp.New(g)
	if err != nil {
		return err
	}
	out, err := it.Run(x)
	if err != nil {
		return err
	}
	printScores(e, out[0].Data, label, c.Top)
	return nil
}

// image returns the normalised 28x28 input and, for a test-set image, its
// label (-1 otherwise).
func (c *runCmd) image() ([]float32, int, error) {
	idx, err := strconv.Atoi(c.Input)
	if err != nil {
		px, err := data.LoadImage(c.Input)
		return px, -1, err
	}
	images, err := data.ReadImagesFile(filepath.Join(c.Data, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, 0, err
	}
	labels, err := data.ReadLabelsFile(filepath.Join(c.Data, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, 0, err
	}
	if idx < 0 || idx >= images.N || idx >= len(labels) {
		return nil, 0, usageError{fmt.Errorf("--input %d is not an index into the %d test images", idx, images.N)}
	}
	if images.Rows != data.Rows || images.Cols != data.Cols {
		return nil, 0, fmt.Errorf("test images are %dx%d, want %dx%d", images.Rows, images.Cols, data.Rows, data.Cols)
	}
	n := images.Rows * images.Cols
	px := make([]float32, n)
	for i, p := range images.Pix[idx*n : (idx+1)*n] {
		px[i] = data.Normalize(float32(p))
	}
	return px, int(labels[idx]), nil
}

func quantizeInput(d []float32, q *ir.Quant) {
	s, z := q.ScaleAt(0)
	for i, v := range d {
		d[i] = float32(min(max(math.RoundToEven(float64(v/s))+float64(z), -128), 127))
	}
}

// printScores lists the best classes with softmax probabilities.
func printScores(e *env, scores []float32, label, top int) {
	probs := softmax(scores)
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	name := func(i int) string {
		if len(scores) == data.NumClasses {
			return data.ClassNames[i]
		}
		return "class " + strconv.Itoa(i)
	}
	best := order[0]
	verdict := ""
	if label >= 0 {
		verdict = fmt.Sprintf(" (label: %s, %s)", name(label), map[bool]string{true: "correct", false: "wrong"}[best == label])
	}
	fmt.Fprintf(e.stdout, "prediction: %d %s%s\n", best, name(best), verdict)
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "class\tname\tscore\tprobability")
	for _, i := range order[:min(top, len(order))] {
		fmt.Fprintf(w, "%d\t%s\t%s\t%.4f\n", i, name(i), strconv.FormatFloat(float64(scores[i]), 'f', 4, 32), probs[i])
	}
	w.Flush()
}

func softmax(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
