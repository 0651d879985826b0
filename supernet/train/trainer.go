package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/optim"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// Progress receives updates during training; the CLI draws a bar from them.
type Progress interface {
	// Step reports a finished step with the running mean loss and accuracy
	// of the epoch so far.
	Step(phase string, epoch, epochs, step, steps int, loss, acc float64)
	// Epoch reports a finished, checkpointed epoch.
	Epoch(rec EpochRecord)
}

// Run trains from the checkpoint's state until every phase is done, saving
// a checkpoint to path after each epoch. A run stopped at any point and
// started again from the saved checkpoint ends with the same weights, bit
// for bit, as one never interrupted (for the same GOMAXPROCS).
func Run(ck *Checkpoint, splits *data.Splits, path string, prog Progress) error {
	if err := ck.Config.Validate(ck.Net.Space); err != nil {
		return err
	}
	if len(ck.TeacherFiles) > 0 && len(ck.Teachers) == 0 {
		return fmt.Errorf("the run's %d teachers are named by file and not read (Checkpoint.ReadTeachers)", len(ck.TeacherFiles))
	}
	// The caller holds out the run's validation images (data.Splits.HoldOut),
	// since it may also cut the training set down (ofac train --subset);
	// training on the wrong split must not go unnoticed.
	if n := ck.Config.ValImages; n != 0 && splits.Val.Len() != n {
		return fmt.Errorf("the run holds out %d validation images, the splits given %d", n, splits.Val.Len())
	}
	for !ck.State.Done(ck.Config) {
		ph := ck.Config.Phases[ck.State.Phase]
		if ck.State.Epoch >= ph.Epochs {
			if err := ck.nextPhase(); err != nil {
				return err
			}
			if err := ck.Save(path); err != nil {
				return err
			}
			continue
		}
		rec, err := ck.epoch(splits, prog)
		if err != nil {
			return err
		}
		ck.State.Epoch++
		ck.State.History = append(ck.State.History, rec)
		if err := ck.Save(path); err != nil {
			return err
		}
		if prog != nil {
			prog.Epoch(rec)
		}
	}
	return nil
}

// nextPhase moves to the following phase: the teacher is frozen when the
// full phase ends, channels are sorted if the new phase asks, and momentum
// restarts (each phase is a fresh optimiser, as in the reference).
func (ck *Checkpoint) nextPhase() error {
	ph := ck.Config.Phases[ck.State.Phase]
	if ph.Name == "full" && len(ck.Teachers) == 0 {
		ck.Teachers = []*ofa.Net{ck.Net.Clone()}
	}
	ck.State.Phase++
	ck.State.Epoch = 0
	ck.Momentum = nil
	if ck.State.Phase < len(ck.Config.Phases) && ck.Config.Phases[ck.State.Phase].SortChannels {
		ck.Net.SortChannels()
	}
	return nil
}

// stepSeed derives the random stream of one step (subnet and resolution
// sampling, dropout) from the run's seed and the step's position.
func stepSeed(seed uint64, phase, epoch, step int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(phase)<<48|uint64(epoch)<<24|uint64(step)))
}

// epoch trains one epoch of the current phase.
func (ck *Checkpoint) epoch(splits *data.Splits, prog Progress) (EpochRecord, error) {
	cfg, net := ck.Config, ck.Net
	ph := cfg.Phases[ck.State.Phase]
	params := net.Params()
	opt := optim.NewSGD(cfg.Optim, params)
	if ck.Momentum != nil {
		if err := opt.SetState(ck.Momentum); err != nil {
			return EpochRecord{}, err
		}
	}
	loader := data.NewLoader(splits.Train, cfg.BatchSize, true, cfg.Seed)
	loader.SetErasing(cfg.Optim.Erase)
	// Data order differs per phase and epoch.
	ep := loader.Epoch(ck.State.Phase*1000 + ck.State.Epoch)
	steps := loader.NumBatches()
	total := steps * ph.Epochs
	warm := 0
	if ck.State.Phase == 0 || ph.Fixed != nil {
		warm = int(cfg.Optim.WarmupEpochs * float64(steps))
	}
	maxR := 0
	for _, r := range ph.Resolutions {
		maxR = max(maxR, r)
	}
	x := make([]float32, cfg.BatchSize*maxR*maxR)
	labels := make([]int, cfg.BatchSize)
	var xt []float32 // the teacher's images, when it sees another resolution
	if cfg.TeacherRes > 0 {
		xt = make([]float32, cfg.BatchSize*cfg.TeacherRes*cfg.TeacherRes)
	}
	ws, tws := tensor.NewArena(1<<20), tensor.NewArena(1<<20)
	start := time.Now()
	var lossSum, correct, seen float64
	var flops float64
	var lr float64
	for step := 0; step < steps; step++ {
		rng := stepSeed(cfg.Seed, ck.State.Phase, ck.State.Epoch, step)
		res := ph.Resolutions[rng.IntN(len(ph.Resolutions))]
		n := ep.Fill(step, res, x, labels)
		xb := tensor.FromSlice(x[:n*res*res], n, 1, res, res)
		var teacher *tensor.Tensor
		if ph.Distill && len(ck.Teachers) > 0 && cfg.KDRatio > 0 {
			// The teachers see the student's images, at the student's
			// resolution unless the config fixes their own (the augmentation
			// of an image depends only on its position, so both fills match).
			ta, txb := ck.teacherArch(cfg.teacherRes(res)), xb
			if ta.R != res {
				ep.Fill(step, ta.R, xt, labels)
				txb = tensor.FromSlice(xt[:n*ta.R*ta.R], n, 1, ta.R, ta.R)
			}
			views := []*tensor.Tensor{txb}
			if cfg.TeacherFlip {
				views = append(views, mirror(tws, txb))
			}
			teacher = ck.teach(tws, ta, views)
			flops += 2 * float64(ck.Teachers[0].MACs(ta)) * float64(len(ck.Teachers)*len(views)*n) // forward only
		}
		opt.ZeroGrad()
		for s := 0; s < ph.Samples; s++ {
			a := ck.sample(ph, rng, res, s)
			logits, bp := net.Forward(ws, a, xb, ofa.Train, nil, float32(cfg.Optim.Dropout), rng)
			dlogits := ws.Like(logits)
			loss := nn.CrossEntropy(logits, labels[:n], float32(cfg.Optim.LabelSmoothing), 1, dlogits)
			if teacher != nil {
				loss += cfg.KDRatio * nn.SoftCrossEntropy(logits, teacher, float32(cfg.KDRatio), dlogits)
			}
			bp.Backward(dlogits)
			if s == 0 {
				lossSum += loss * float64(n)
				for i, p := range nn.Argmax(logits) {
					if p == labels[i] {
						correct++
					}
				}
				seen += float64(n)
			}
			flops += 6 * float64(net.MACs(a)) * float64(n) // forward + backward
			ws.Reset()
		}
		tws.Reset()
		if math.IsNaN(lossSum) {
			return EpochRecord{}, fmt.Errorf("phase %s epoch %d step %d: loss is NaN; lower the learning rate (--lr)", ph.Name, ck.State.Epoch+1, step)
		}
		lr = optim.CosineLR(ph.LR, ck.State.Epoch*steps+step, warm, total)
		opt.Step(float32(lr))
		if prog != nil {
			prog.Step(ph.Name, ck.State.Epoch+1, ph.Epochs, step+1, steps, lossSum/seen, correct/seen)
		}
	}
	ck.Momentum = opt.State()
	secs := time.Since(start).Seconds()
	rec := EpochRecord{Phase: ph.Name, Epoch: ck.State.Epoch + 1, LR: lr, Loss: lossSum / seen, TrainAcc: correct / seen,
		Seconds: secs, ImagesSec: seen / secs, GFLOPS: flops / secs / 1e9}
	largest := ck.largest(ph)
	acc, err := Evaluate(net, largest, splits.Train, splits.Val, cfg.CalibImages, cfg.BatchSize)
	if err != nil {
		return EpochRecord{}, err
	}
	rec.ValAcc = acc
	return rec, nil
}

// sample returns the i-th subnet of a step, at resolution res. In a
// sandwich phase the first is the largest subnet the phase opens and, in a
// step of more than two, the second the smallest; every other is drawn at
// random from the phase's choices.
func (ck *Checkpoint) sample(ph Phase, rng *rand.Rand, res, i int) ofa.Arch {
	if ph.Fixed != nil {
		return *ph.Fixed
	}
	s := ck.Net.Space
	if ph.Sandwich && (i == 0 || i == 1 && ph.Samples > 2) {
		pick := slices.Max[[]int]
		if i == 1 {
			pick = slices.Min[[]int]
		}
		return ofa.Arch{KS: fill(s.MaxBlocks(), pick(ph.Kernels)), E: fill(s.MaxBlocks(), pick(ph.Expands)),
			D: fill(len(s.Stages), pick(ph.Depths)), R: res}
	}
	a := ofa.Arch{KS: make([]int, s.MaxBlocks()), E: make([]int, s.MaxBlocks()), D: make([]int, len(s.Stages)), R: res}
	for i := range a.KS {
		a.KS[i] = ph.Kernels[rng.IntN(len(ph.Kernels))]
		a.E[i] = ph.Expands[rng.IntN(len(ph.Expands))]
	}
	for i := range a.D {
		a.D[i] = ph.Depths[rng.IntN(len(ph.Depths))]
	}
	return a
}

func fill(n, v int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = v
	}
	return xs
}

// largest is the biggest subnet a phase trains, at 28x28.
func (ck *Checkpoint) largest(ph Phase) ofa.Arch {
	if ph.Fixed != nil {
		return *ph.Fixed
	}
	return ck.Net.Space.Largest()
}

// teach returns the distillation target of a batch: the teachers' softmax
// outputs on every view of it (the images, and their mirror images when the
// config asks), averaged when there are several. A lone teacher's output
// is returned as is, so such a run trains the same weights as before
// ensembles existed.
func (ck *Checkpoint) teach(ws *tensor.Arena, a ofa.Arch, views []*tensor.Tensor) *tensor.Tensor {
	var outs [][]float32
	var p *tensor.Tensor
	for _, t := range ck.Teachers {
		for _, x := range views {
			logits, _ := t.Forward(ws, a, x, ofa.Teacher, nil, 0, nil)
			p = nn.Softmax(ws, logits)
			outs = append(outs, p.Data)
		}
	}
	if len(outs) == 1 {
		return p
	}
	mean := ws.RawLike(p)
	tensor.MeanOf(mean.Data, outs...)
	return mean
}

// mirror returns the N x C x H x W batch x flipped left to right.
func mirror(ws *tensor.Arena, x *tensor.Tensor) *tensor.Tensor {
	y := ws.RawLike(x)
	w := x.Shape[len(x.Shape)-1]
	for i := 0; i < len(x.Data); i += w {
		for j := range w {
			y.Data[i+j] = x.Data[i+w-1-j]
		}
	}
	return y
}

func (ck *Checkpoint) teacherArch(res int) ofa.Arch {
	a := ck.Teachers[0].Space.Largest()
	a.R = res
	return a
}
