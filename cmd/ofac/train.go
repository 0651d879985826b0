package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ofac-dev/ofac/internal/atomicfile"
	"github.com/ofac-dev/ofac/internal/humanize"

	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/optim"
	"github.com/ofac-dev/ofac/supernet/train"
)

type trainCmd struct {
	Out    string `short:"o" default:"supernet.ckpt" help:"Checkpoint file, written atomically after every epoch."`
	Resume bool   `help:"Continue the run saved in --out exactly where it stopped (its saved settings apply)."`
	Arch   string `placeholder:"ARCH" help:"Train this one architecture from scratch instead of progressive shrinking: largest, smallest, random:SEED or a JSON file."`
	Epochs int    `default:"20" help:"Epochs for --arch training."`
	Space  string `default:"default" enum:"${spaces}" help:"Search space: default, the reference's shape; tiny for smoke tests; fine, default with less downsampling (the shipped supernet's); wide, fine at 1.5 times the width; near, fine at resolutions 24-30 (MODELS.md) (${enum})."`
	Init   string `placeholder:"CKPT" help:"Start from the weights (and, if it has one, the distillation teacher) of this checkpoint (same space): the largest network trained with --arch largest as the full phase, or a supernet to continue with later phases only."`

	Teacher     []string `placeholder:"CKPT" help:"Distil every phase, the full one included, from the largest network of this checkpoint (same space), shown every batch at that subnet's resolution (28 pixels), instead of from the network this run's full phase trains: for example one trained with --arch largest (MODELS.md). Several, comma-separated, teach together: the mean of their softmax outputs (measure first that they beat their best member: go run ./bench/ensemble). The run's checkpoint names these files, relative to its folder, instead of holding copies: keep them until the run ends, since --resume reads them again and refuses one that has changed."`
	TeacherFlip bool     `help:"Show every teacher each batch's mirror image too, and teach the mean of its outputs over both views: a second opinion of one network for a second forward pass (MODELS.md: a network that reads 93.81% on the test set alone reads 94.14% with its mirror; measure with go run ./bench/ensemble -flip)."`

	PhaseEpochs map[string]int     `placeholder:"PHASE=N;..." help:"Epochs per progressive-shrinking phase, e.g. full=12;kernel=3 (phases: full, kernel, depth1, depth2, expand1, expand2; 0 skips one)."`
	PhaseLR     map[string]float64 `name:"phase-lr" placeholder:"PHASE=LR;..." help:"Peak learning rate per phase."`
	Resolutions []int              `placeholder:"R" help:"Input resolutions every phase samples from, one per batch, each entry equally likely (default: all of the space's, once each). Name one twice to sample it twice as often, e.g. 20,24,28,28,32 for the resolution of --arch largest in two batches of five (MODELS.md)."`
	BatchSize   int                `default:"128" help:"Images per step."`
	Seed        uint64             `default:"1" help:"Seed of weights, data order, augmentation and subnet sampling."`
	KDRatio     float64            `name:"kd-ratio" default:"1" help:"Weight of the distillation loss against the full network."`
	Subset      int                `help:"Train on only the first N training images (quick experiments)."`
	ValImages   int                `name:"val-images" placeholder:"N" help:"Hold out N of the 60,000 official training images for validation instead of 10,000, and train on the rest: more images to learn from, a noisier validation figure (MODELS.md). The smaller set is part of the standard one. Every command that reads this supernet's validation split (eval --split val, accuracy-data, build) uses its N."`

	optim.Config `embed:""`

	Data  string `placeholder:"DIR" default:"${default_data}" help:"Folder with the Fashion-MNIST files."`
	Quiet bool   `short:"q" help:"No progress bar."`
	Log   string `placeholder:"FILE" help:"Append one JSON line per epoch to FILE, for scripts."`
	CSV   string `placeholder:"FILE" help:"Write the learning curve as CSV to FILE after every epoch."`
}

func (c *trainCmd) Help() string {
	return `Trains the supernet by progressive shrinking (full network, then elastic
kernel, depth and expand ratio, distilling from the full network), or with
--arch one fixed architecture from scratch. A checkpoint is saved after every
epoch; stop at any time and continue with --resume. After every epoch a line
gives its loss, accuracy and speed and about how long the run still needs.

Examples:
  ofac train -o supernet.ckpt                         the default schedule
  ofac train --arch largest --epochs 20 -o big.ckpt   one network from scratch
  ofac train -o supernet.ckpt --resume                continue after a stop
  ofac train --teacher big.ckpt -o supernet.ckpt      distil from big.ckpt's network`
}

func (c *trainCmd) Run(e *env) error {
	// Hours of training must not end in a log that cannot be written: check
	// both outputs' folders first, before any data is read.
	for _, f := range []struct{ flag, path string }{{"--log", c.Log}, {"--csv", c.CSV}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(filepath.Dir(f.path)); err != nil || !st.IsDir() {
			return usageError{fmt.Errorf("%s %s: folder %s does not exist", f.flag, f.path, filepath.Dir(f.path))}
		}
	}
	var (
		ck  *train.Checkpoint
		err error
	)
	if c.Resume {
		ck, err = train.LoadCheckpoint(c.Out)
		if errors.Is(err, fs.ErrNotExist) {
			return usageError{fmt.Errorf("--resume: %s does not exist; start without --resume", c.Out)}
		}
		if err != nil {
			return err
		}
		if ck.State.Done(ck.Config) {
			fmt.Fprintf(e.stdout, "%s: training already finished\n", c.Out)
			return nil
		}
		if err := ck.ReadTeachers(); err != nil {
			return err
		}
	} else {
		if _, err := os.Stat(c.Out); err == nil {
			return usageError{fmt.Errorf("%s exists: pass --resume to continue it, or choose another --out", c.Out)}
		}
		if ck, err = c.fresh(e.stderr); err != nil {
			return err
		}
	}
	all, err := data.Load(c.Data)
	if err != nil {
		return err
	}
	splits, err := all.HoldOut(ck.Config.ValImages)
	if err != nil {
		return usageError{fmt.Errorf("--val-images: %w", err)}
	}
	if c.Subset > 0 && c.Subset < splits.Train.Len() {
		idx := make([]int32, c.Subset)
		for i := range idx {
			idx[i] = int32(i)
		}
		splits.Train = splits.Train.Subset("train-subset", idx)
	}
	var prog train.Progress = &progress{out: e.stderr, quiet: c.Quiet, ck: ck}
	if c.Log != "" || c.CSV != "" {
		prog = &logged{Progress: prog, log: c.Log, csv: c.CSV, ck: ck, errOut: e.stderr}
	}
	start := time.Now()
	if err := train.Run(ck, splits, c.Out, prog); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "trained %s in %s; checkpoint %s\n", phaseList(ck.Config), time.Since(start).Round(time.Second), c.Out)
	return nil
}

// fresh builds the config and network of a new run from the flags; advice
// about the --init network goes to warn.
func (c *trainCmd) fresh(warn io.Writer) (*train.Checkpoint, error) {
	space := ofa.Spaces[c.Space]
	cfg := train.DefaultConfig(space)
	cfg.Optim = c.Config
	cfg.BatchSize, cfg.Seed, cfg.KDRatio, cfg.TeacherFlip = c.BatchSize, c.Seed, c.KDRatio, c.TeacherFlip
	cfg.ValImages = c.ValImages
	if c.Arch != "" {
		a, err := space.ResolveArch(c.Arch)
		if err != nil {
			return nil, usageError{err}
		}
		cfg.Phases = []train.Phase{train.FixedPhase(a, c.Epochs, c.LR)}
	}
	if len(c.Resolutions) > 0 {
		if c.Arch != "" {
			return nil, usageError{errors.New("--resolutions: --arch trains at its architecture's own resolution (\"r\" in the JSON)")}
		}
		for _, r := range c.Resolutions {
			if !slices.Contains(space.Resolutions, r) {
				return nil, usageError{fmt.Errorf("--resolutions: %d is not a resolution of the %s space (%s)", r, c.Space, joinInts(space.Resolutions))}
			}
		}
		for i := range cfg.Phases {
			cfg.Phases[i].Resolutions = slices.Clone(c.Resolutions)
		}
	}
	for name, n := range c.PhaseEpochs {
		p := findPhase(cfg.Phases, name)
		if p == nil {
			return nil, usageError{fmt.Errorf("--phase-epochs: unknown phase %q (phases: %s)", name, phaseList(cfg))}
		}
		p.Epochs = n
	}
	for name, lr := range c.PhaseLR {
		p := findPhase(cfg.Phases, name)
		if p == nil {
			return nil, usageError{fmt.Errorf("--phase-lr: unknown phase %q (phases: %s)", name, phaseList(cfg))}
		}
		p.LR = lr
	}
	if len(c.Teacher) > train.MaxTeachers {
		return nil, usageError{fmt.Errorf("--teacher: %d checkpoints, at most %d", len(c.Teacher), train.MaxTeachers)}
	}
	if len(c.Teacher) > 0 {
		for i := range cfg.Phases {
			cfg.Phases[i].Distill = true
		}
		// The resolution of --arch largest: where a teacher trained that
		// way knows most (28 pixels in every space but tiny).
		cfg.TeacherRes = space.Largest().R
	}
	if err := cfg.Validate(space); err != nil {
		return nil, usageError{err}
	}
	if c.TeacherFlip && !distils(cfg) {
		return nil, usageError{errors.New("--teacher-flip: no phase of this run distils (--arch trains without a teacher unless --teacher names one)")}
	}
	var (
		teachers     []*ofa.Net
		teacherFiles []train.TeacherFile
	)
	for _, path := range c.Teacher {
		from, err := c.loadSameSpace("--teacher", path)
		if err != nil {
			return nil, err
		}
		teacher := ofa.New(space, 0)
		if err := teacher.CopyFrom(from.Net); err != nil {
			return nil, fmt.Errorf("--teacher %s: %w", path, err)
		}
		if !slices.Contains(from.TrainedResolutions(), cfg.TeacherRes) {
			fmt.Fprintf(warn, "warning: --teacher %s has not trained at %d pixels, where it teaches\n", path, cfg.TeacherRes)
		}
		teachers = append(teachers, teacher)
		teacherFiles = append(teacherFiles, train.NewTeacherFile(path, teacher))
	}
	net := ofa.New(space, c.Seed)
	if c.Init != "" {
		from, err := c.loadSameSpace("--init", c.Init)
		if err != nil {
			return nil, err
		}
		if err := net.CopyFrom(from.Net); err != nil {
			return nil, fmt.Errorf("--init %s: %w", c.Init, err)
		}
		if c.Arch == "" {
			warnUntrainedResolutions(warn, c.Init, from.TrainedResolutions(), cfg.Phases)
		}
		// A supernet checkpoint past its full phase carries the frozen
		// teacher (or those it was given); keep them, so a schedule can
		// continue with later phases only (--phase-epochs full=0;...) and
		// still distil from the network the full phase trained.
		if teachers == nil {
			if err := from.ReadTeachers(); err != nil {
				return nil, fmt.Errorf("--init %s: %w", c.Init, err)
			}
			teachers, teacherFiles = from.Teachers, from.TeacherFiles
		}
	}
	return &train.Checkpoint{Config: cfg, Net: net, Teachers: teachers, TeacherFiles: teacherFiles}, nil
}

// distils reports whether any phase of cfg that runs learns from a teacher.
func distils(cfg train.Config) bool {
	for _, p := range cfg.Phases {
		if p.Distill && p.Epochs > 0 && cfg.KDRatio > 0 {
			return true
		}
	}
	return false
}

// loadSameSpace reads the checkpoint named by flag and refuses one of
// another search space than the run's.
func (c *trainCmd) loadSameSpace(flag, path string) (*train.Checkpoint, error) {
	from, err := train.LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if name := from.Net.Space.Name(); name != "" && name != c.Space {
		return nil, usageError{fmt.Errorf("%s %s is a network of the %s space; train with --space %s", flag, path, name, name)}
	}
	return from, nil
}

// warnUntrainedResolutions warns when a supernet run starts from a network
// that has not trained at some resolution its phases sample, and has no full
// phase to catch up: the elastic phases share their steps among four
// resolutions and many subnets, and did not bring such a network back
// (MODELS.md, ps14: 74.83% at 20 pixels before, 89.57% after 11 epochs,
// against 91.46% for a network whose full phase saw every resolution).
func warnUntrainedResolutions(w io.Writer, init string, trained []int, phases []train.Phase) {
	if len(trained) == 0 {
		return // no learning curve to tell
	}
	running := slices.DeleteFunc(slices.Clone(phases), func(p train.Phase) bool { return p.Epochs == 0 })
	if len(running) == 0 || running[0].Name == "full" {
		return // the full network catches up before anything else runs
	}
	var untrained []int
	for _, p := range running {
		for _, r := range p.Resolutions {
			if !slices.Contains(trained, r) && !slices.Contains(untrained, r) {
				untrained = append(untrained, r)
			}
		}
	}
	if len(untrained) == 0 {
		return
	}
	slices.Sort(untrained)
	fmt.Fprintf(w, "warning: --init %s has trained at %s pixels only; this run also samples %s, where it starts untrained. "+
		"Give it a full phase first, e.g. --phase-epochs \"full=6;...\" (MODELS.md, ps14).\n",
		init, joinInts(trained), joinInts(untrained))
}

// joinInts writes 20, 24 and 32.
func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func findPhase(ps []train.Phase, name string) *train.Phase {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i]
		}
	}
	return nil
}

func phaseList(c train.Config) string {
	var names []string
	for _, p := range c.Phases {
		names = append(names, fmt.Sprintf("%s(%d)", p.Name, p.Epochs))
	}
	return strings.Join(names, ", ")
}

// progress draws one bar per epoch with loss, accuracy and ETA, and after
// each epoch a line with its figures and the time the whole run still needs.
type progress struct {
	out   io.Writer
	quiet bool
	ck    *train.Checkpoint
	bar   *progressbar.ProgressBar
}

func (p *progress) Step(phase string, epoch, epochs, step, steps int, loss, acc float64) {
	if p.quiet {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(steps,
			progressbar.OptionSetWriter(p.out),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
		)
	}
	p.bar.Describe(fmt.Sprintf("%s %d/%d  loss %.4f  acc %.2f%%", phase, epoch, epochs, loss, 100*acc))
	p.bar.Set(step)
}

func (p *progress) Epoch(r train.EpochRecord) {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
		fmt.Fprintln(p.out)
	}
	if !p.quiet {
		left := ""
		if d := p.ck.Remaining(); d >= time.Second {
			left = "; about " + humanize.Duration(d) + " left"
		}
		fmt.Fprintf(p.out, "%s epoch %d: loss %.4f, train %.2f%%, val %.2f%% (largest, BN recalibrated), %.0fs, %.0f img/s, %.1f GFLOP/s%s\n",
			r.Phase, r.Epoch, r.Loss, 100*r.TrainAcc, 100*r.ValAcc, r.Seconds, r.ImagesSec, r.GFLOPS, left)
	}
}

// logged adds the JSON-lines log and the CSV learning curve.
type logged struct {
	train.Progress
	log, csv string
	ck       *train.Checkpoint
	errOut   io.Writer // where write failures are reported
}

func (l *logged) Epoch(r train.EpochRecord) {
	l.Progress.Epoch(r)
	if l.log != "" {
		// A log that cannot be written must not stop hours of training,
		// but the user is told.
		if err := appendLine(l.log, r); err != nil {
			fmt.Fprintf(l.errOut, "ofac: --log: %v\n", err)
		}
	}
	if l.csv != "" {
		var b strings.Builder
		b.WriteString("phase,epoch,lr,loss,train_acc,val_acc,seconds,images_per_sec,gflops\n")
		for _, h := range l.ck.State.History {
			fmt.Fprintf(&b, "%s,%d,%.6g,%.6f,%.6f,%.6f,%.1f,%.1f,%.2f\n", h.Phase, h.Epoch, h.LR, h.Loss, h.TrainAcc, h.ValAcc, h.Seconds, h.ImagesSec, h.GFLOPS)
		}
		// Atomic, so a script reading the curve never sees half of it.
		if err := atomicfile.Write(l.csv, []byte(b.String())); err != nil {
			fmt.Fprintf(l.errOut, "ofac: --csv: %v\n", err)
		}
	}
}

// appendLine appends v as one JSON line to the file at path.
func appendLine(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
