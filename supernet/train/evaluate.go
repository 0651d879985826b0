package train

import (
	"math/rand/v2"

	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// calibSeed fixes which training images recalibrate batch norm, so every
// evaluation of a subnet sees the same statistics.
const calibSeed = 20200101

// Recalibrate recomputes batch-norm statistics for subnet a on calibImages
// images drawn from set (a fixed random subset): the average of per-batch
// means and variances, as the reference does after extraction.
func Recalibrate(net *ofa.Net, a ofa.Arch, set *data.Dataset, calibImages, batch int) *ofa.Stats {
	n := min(calibImages, set.Len())
	perm := rand.New(rand.NewPCG(calibSeed, 0)).Perm(set.Len())[:n]
	idx := make([]int32, n)
	for i, p := range perm {
		idx[i] = int32(p)
	}
	sub := set.Subset(set.Name+"-calib", idx)
	stats := ofa.NewStats()
	forEachBatch(sub, a.R, batch, func(x *tensor.Tensor, _ []int, ws *tensor.Arena) {
		net.Forward(ws, a, x, ofa.Calibrate, stats, 0, nil)
	})
	return stats
}

// Evaluate returns the top-1 accuracy of subnet a on evalSet after
// recalibrating batch norm on calibImages images of calibSet.
func Evaluate(net *ofa.Net, a ofa.Arch, calibSet, evalSet *data.Dataset, calibImages, batch int) (float64, error) {
	stats := Recalibrate(net, a, calibSet, calibImages, batch)
	return Top1(Logits(net, a, stats, evalSet, batch), evalSet.Labels), nil
}

// Top1 is the share of rows of scores (logits or probabilities, one row
// per image) whose largest entry is at the image's label.
func Top1(scores *tensor.Tensor, labels []uint8) float64 {
	correct := 0
	for i, p := range nn.Argmax(scores) {
		if p == int(labels[i]) {
			correct++
		}
	}
	return float64(correct) / float64(len(labels))
}

// Logits runs subnet a in inference mode (with stats, if not nil) over a
// whole data set and returns the logits, one row per image.
func Logits(net *ofa.Net, a ofa.Arch, stats *ofa.Stats, set *data.Dataset, batch int) *tensor.Tensor {
	out := tensor.New(set.Len(), net.Space.Classes)
	row := 0
	forEachBatch(set, a.R, batch, func(x *tensor.Tensor, _ []int, ws *tensor.Arena) {
		l, _ := net.Forward(ws, a, x, ofa.Eval, stats, 0, nil)
		copy(out.Data[row*net.Space.Classes:], l.Data)
		row += x.Shape[0]
	})
	return out
}

func forEachBatch(set *data.Dataset, res, batch int, f func(x *tensor.Tensor, labels []int, ws *tensor.Arena)) {
	loader := data.NewLoader(set, batch, false, 0)
	ep := loader.Epoch(0)
	x := make([]float32, batch*res*res)
	labels := make([]int, batch)
	ws := tensor.NewArena(1 << 20)
	for b := 0; b < loader.NumBatches(); b++ {
		n := ep.Fill(b, res, x, labels)
		f(tensor.FromSlice(x[:n*res*res], n, 1, res, res), labels[:n], ws)
		ws.Reset()
	}
}
