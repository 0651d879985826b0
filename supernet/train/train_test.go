package train

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/data/datatest"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// tinyRun is a full progressive-shrinking schedule, one epoch per phase, on
// the tiny space and a synthetic data set.
func tinyRun(t *testing.T) (*Checkpoint, *data.Splits) {
	t.Helper()
	dir := t.TempDir()
	if err := datatest.Write(dir, 1200, 100, 1); err != nil {
		t.Fatal(err)
	}
	splits, err := data.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(ofa.Tiny)
	cfg.BatchSize = 32
	cfg.CalibImages = 200
	for i := range cfg.Phases {
		cfg.Phases[i].Epochs = 1
		cfg.Phases[i].LR = 0.2
	}
	return &Checkpoint{Config: cfg, Net: ofa.New(ofa.Tiny, 1)}, splits
}

type records struct{ epochs []EpochRecord }

func (r *records) Step(string, int, int, int, int, float64, float64) {}
func (r *records) Epoch(rec EpochRecord)                             { r.epochs = append(r.epochs, rec) }

func TestTinyProgressiveShrinking(t *testing.T) {
	ck, splits := tinyRun(t)
	path := filepath.Join(t.TempDir(), "ps.ckpt")
	var r records
	if err := Run(ck, splits, path, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.epochs) != len(PhaseNames) {
		t.Fatalf("%d epochs reported, want %d", len(r.epochs), len(PhaseNames))
	}
	for i, rec := range r.epochs {
		if rec.Phase != PhaseNames[i] {
			t.Errorf("epoch %d ran phase %s, want %s", i, rec.Phase, PhaseNames[i])
		}
	}
	if len(ck.Teachers) == 0 {
		t.Fatal("no teacher was frozen after the full phase")
	}
	back, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if !back.State.Done(back.Config) || len(back.Teachers) == 0 {
		t.Fatalf("saved checkpoint is not finished: %+v", back.State)
	}
	// Every subnet must be far above chance (0.1) after one epoch per phase.
	for _, name := range []string{"largest", "smallest", "random:3"} {
		a, _ := ofa.Tiny.ResolveArch(name)
		acc, err := Evaluate(back.Net, a, splits.Train, splits.Test, 200, 50)
		if err != nil {
			t.Fatal(err)
		}
		if acc < 0.3 {
			t.Errorf("%s subnet: test accuracy %.2f after the tiny schedule, want >= 0.3 (chance is 0.1)", name, acc)
		}
	}
}

// stopAt aborts a run at one step, as a kill would.
type stopAt struct {
	records
	phase string
	step  int
}

type stopped struct{}

func (s *stopAt) Step(phase string, _, _, step, _ int, _, _ float64) {
	if phase == s.phase && step == s.step {
		panic(stopped{})
	}
}

func TestResumeIsExact(t *testing.T) {
	ck, splits := tinyRun(t)
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.ckpt")
	if err := Run(ck, splits, whole, nil); err != nil {
		t.Fatal(err)
	}
	ck2, _ := tinyRun(t)
	part := filepath.Join(dir, "part.ckpt")
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stopped); !ok {
					panic(r)
				}
			}
		}()
		Run(ck2, splits, part, &stopAt{phase: "depth1", step: 5})
		t.Fatal("the run was not interrupted")
	}()
	resumed, err := LoadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.State.Done(resumed.Config) {
		t.Fatal("interrupted checkpoint claims to be finished")
	}
	if err := Run(resumed, splits, part, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(part)
	if !bytes.Equal(withoutTimes(t, a), withoutTimes(t, b)) {
		t.Fatal("resumed run ended with different weights or state than the uninterrupted one")
	}
}

// withoutTimes re-encodes a checkpoint with wall-clock figures zeroed: they
// are the only part of a run that may differ.
func withoutTimes(t *testing.T, b []byte) []byte {
	t.Helper()
	c, err := DecodeCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	c.StripTimings()
	out, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckpointRejectsBadFiles(t *testing.T) {
	ck := &Checkpoint{Config: DefaultConfig(ofa.Tiny), Net: ofa.New(ofa.Tiny, 1)}
	good, err := ck.Encode()
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 1
	version := append([]byte(nil), good...)
	version[8] = 7
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"not a checkpoint", []byte("hello"), "not an ofac checkpoint"},
		{"version", version, "checkpoint version 7 is not supported"},
		{"corrupted", flipped, "checksum mismatch"},
		{"truncated", good[:len(good)-9], "checksum mismatch"},
	} {
		if _, err := DecodeCheckpoint(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	back, err := DecodeCheckpoint(good)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Encode()
	if !bytes.Equal(good, again) {
		t.Fatal("decode(encode(checkpoint)) does not encode to the same bytes")
	}
}

// TestCheckpointTeachers checks every teacher of an ensemble survives a
// round trip in order, a file with one teacher is written as before
// ensembles existed, and a header asking for too many is refused.
func TestCheckpointTeachers(t *testing.T) {
	for n := range 3 {
		ck := &Checkpoint{Config: DefaultConfig(ofa.Tiny), Net: ofa.New(ofa.Tiny, 1)}
		for i := range n {
			ck.Teachers = append(ck.Teachers, ofa.New(ofa.Tiny, uint64(10+i)))
		}
		b, err := ck.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(b, []byte(`"teachers"`)); got != (n > 1) {
			t.Errorf("%d teachers: header names a count %v, want %v", n, got, n > 1)
		}
		back, err := DecodeCheckpoint(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(back.Teachers) != n {
			t.Fatalf("%d teachers written, %d read", n, len(back.Teachers))
		}
		for i, tn := range back.Teachers {
			if !slices.Equal(tn.Params()[0].Data, ck.Teachers[i].Params()[0].Data) {
				t.Fatalf("teacher %d of %d read back with other weights", i, n)
			}
		}
		if n == 2 {
			bad := bytes.Replace(b, []byte(`"teachers":2`), []byte(`"teachers":9`), 1)
			binary.LittleEndian.PutUint32(bad[len(bad)-4:], crc32.Checksum(bad[:len(bad)-4], castagnoli))
			if _, err := DecodeCheckpoint(bad); err == nil || !strings.Contains(err.Error(), "9 teachers") {
				t.Errorf("header asking for 9 teachers: err %v, want a refusal", err)
			}
		}
	}
}

// TestTeachViews checks the target of a teacher shown a batch and its
// mirror: the mirror of a row flips it, a batch equal to its mirror is
// taught as from one view (the mean of two equal outputs), and an
// asymmetric one otherwise.
func TestTeachViews(t *testing.T) {
	ws := tensor.NewArena(0)
	row := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 1, 1, 2, 3)
	if got := mirror(ws, row).Data; !slices.Equal(got, []float32{3, 2, 1, 6, 5, 4}) {
		t.Fatalf("mirror %v", got)
	}
	ck := &Checkpoint{Teachers: []*ofa.Net{ofa.New(ofa.Tiny, 3)}}
	a := ofa.Tiny.Largest()
	r := a.R
	batch := func(symmetric bool) *tensor.Tensor {
		x := tensor.New(2, 1, r, r)
		for i := range x.Data {
			col := i % r
			if symmetric {
				col = min(col, r-1-col)
			}
			x.Data[i] = float32((i/r)%5*col) / 10
		}
		return x
	}
	for _, symmetric := range []bool{true, false} {
		x := batch(symmetric)
		one := ck.teach(ws, a, []*tensor.Tensor{x}).Data
		both := ck.teach(ws, a, []*tensor.Tensor{x, mirror(ws, x)}).Data
		if slices.Equal(one, both) != symmetric {
			t.Errorf("symmetric batch %v: one view %v, with its mirror %v", symmetric, one[:4], both[:4])
		}
	}
}

func FuzzDecodeCheckpoint(f *testing.F) {
	ck := &Checkpoint{Config: DefaultConfig(ofa.Tiny), Net: ofa.New(ofa.Tiny, 1)}
	good, err := ck.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	ck.Teachers = []*ofa.Net{ofa.New(ofa.Tiny, 2), ofa.New(ofa.Tiny, 3)}
	two, err := ck.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(two)
	ck.TeacherFiles = []TeacherFile{NewTeacherFile("../a.ckpt", ck.Teachers[0]), NewTeacherFile("b.ckpt", ck.Teachers[1])}
	named, err := ck.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(named)
	f.Add([]byte("OFACCKPT\x01\x00\x00\x00\x02\x00\x00\x00{}\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := DecodeCheckpoint(b); err == nil {
			if _, err := c.Encode(); err != nil {
				t.Fatalf("a checkpoint that reads does not write: %v", err)
			}
		}
	})
}

func TestDecodeRefusesStateOutsidePhases(t *testing.T) {
	ck := &Checkpoint{Config: DefaultConfig(ofa.Tiny), Net: ofa.New(ofa.Tiny, 1)}
	for _, st := range []State{{Phase: -1}, {Phase: 7}, {Phase: 1, Epoch: -2}} {
		ck.State = st
		b, err := ck.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeCheckpoint(b); err == nil || !strings.Contains(err.Error(), "does not fit") {
			t.Errorf("state %+v: err %v, want a refusal", st, err)
		}
	}
}

func TestRemaining(t *testing.T) {
	ck := &Checkpoint{Config: Config{Phases: []Phase{{Name: "full", Epochs: 2}, {Name: "kernel", Epochs: 3}}}}
	if d := ck.Remaining(); d != 0 {
		t.Errorf("before any epoch: %v, want 0", d)
	}
	// One full epoch of 100 s done: one more full epoch and three kernel
	// epochs, the latter guessed at the last epoch's time.
	ck.State = State{Phase: 0, Epoch: 1, History: []EpochRecord{{Phase: "full", Seconds: 100}}}
	if d := ck.Remaining(); d != 400*time.Second {
		t.Errorf("after 1 full epoch: %v, want 6m40s", d)
	}
	// Into the kernel phase: its own epochs set the pace.
	ck.State = State{Phase: 1, Epoch: 1, History: []EpochRecord{{Phase: "full", Seconds: 100}, {Phase: "full", Seconds: 120}, {Phase: "kernel", Seconds: 50}}}
	if d := ck.Remaining(); d != 100*time.Second {
		t.Errorf("after 1 kernel epoch: %v, want 1m40s", d)
	}
	ck.State = State{Phase: 2, History: ck.State.History}
	if d := ck.Remaining(); d != 0 {
		t.Errorf("done: %v, want 0", d)
	}
}

// An elastic phase not started yet is priced by its arithmetic, not at the
// full phase's pace: on this 2-core machine a full epoch took 273 s, a kernel
// epoch 318-325 s and a depth1 epoch (two subnets a step, plus the teacher)
// 505 s in one run.
func TestRemainingPricesUnstartedPhases(t *testing.T) {
	cfg := DefaultConfig(ofa.Default)
	full, kernel, expand := cfg.Phases[0], cfg.Phases[1], cfg.Phases[5]
	full.Epochs, kernel.Epochs, expand.Epochs = 1, 1, 1
	cfg.Phases = []Phase{full, kernel, expand}
	ck := &Checkpoint{Config: cfg, Net: ofa.New(ofa.Default, 1),
		State: State{Phase: 0, Epoch: 1, History: []EpochRecord{{Phase: "full", Seconds: 100}}}}
	kernelSecs := 100 * ck.imageWork(kernel) / ck.phaseWork("full")
	expandSecs := 100 * ck.imageWork(expand) / ck.phaseWork("full")
	if kernelSecs < 100 || kernelSecs > 150 {
		t.Errorf("a kernel epoch priced at %.0f s after a 100 s full epoch, want 100-150 s (one subnet, no larger than the full one, plus the teacher)", kernelSecs)
	}
	if expandSecs < 150 || expandSecs > 350 {
		t.Errorf("an expand epoch priced at %.0f s after a 100 s full epoch, want 150-350 s (four smaller subnets plus the teacher)", expandSecs)
	}
	want := time.Duration((kernelSecs + expandSecs) * float64(time.Second))
	if d := ck.Remaining(); d != want {
		t.Errorf("Remaining = %v, want %v (the kernel and expand epochs)", d, want)
	}
	// Two teachers, each also shown the mirror images, are four forward
	// passes of the largest subnet at the teacher's resolution (fixed here,
	// as ofac train --teacher fixes it): three more than one teacher.
	ck.Config.TeacherRes = ofa.Default.Largest().R
	one := ck.imageWork(kernel)
	ck.Teachers = []*ofa.Net{ck.Net, ck.Net}
	ck.Config.TeacherFlip = true
	teacher := ofa.Default.Largest()
	if got, want := ck.imageWork(kernel)-one, 3*float64(ck.Net.MACs(teacher)); math.Abs(got-want) > 1e-6*want {
		t.Errorf("two teachers with mirror images add %.4g MACs an image, want %.4g (three forward passes)", got, want)
	}
}

// A sandwich phase trains the largest open subnet first in every step, in a
// step of four the smallest second, then random draws; a one-sample phase
// cannot ask for it.
func TestSandwich(t *testing.T) {
	cfg := DefaultConfig(ofa.Default)
	ck := &Checkpoint{Config: cfg, Net: ofa.New(ofa.Default, 1)}
	depth1, expand2 := cfg.Phases[2], cfg.Phases[5]
	if depth1.Name != "depth1" || !depth1.Sandwich || expand2.Name != "expand2" || !expand2.Sandwich {
		t.Fatalf("phases 2 and 5 are %s (sandwich %v) and %s (%v), want depth1 and expand2 as sandwiches",
			depth1.Name, depth1.Sandwich, expand2.Name, expand2.Sandwich)
	}
	largest, smallest := ofa.Default.Largest(), ofa.Default.Smallest()
	largest.R, smallest.R = 24, 24
	rng := stepSeed(1, 2, 0, 0)
	if a := ck.sample(depth1, rng, 24, 0); !reflect.DeepEqual(a, largest) {
		t.Errorf("depth1's first sample %s, want the largest at r24 %s", a.JSON(), largest.JSON())
	}
	if a := ck.sample(expand2, rng, 24, 0); !reflect.DeepEqual(a, largest) {
		t.Errorf("expand2's first sample %s, want the largest at r24", a.JSON())
	}
	if a := ck.sample(expand2, rng, 24, 1); !reflect.DeepEqual(a, smallest) {
		t.Errorf("expand2's second sample %s, want the smallest at r24 %s", a.JSON(), smallest.JSON())
	}
	// The other draws stay inside the phase (depth1 opens depths 3 and 4
	// only) and are neither extreme, but for chance.
	extreme := 0
	for range 50 {
		for _, a := range []ofa.Arch{ck.sample(depth1, rng, 24, 1), ck.sample(expand2, rng, 24, 2), ck.sample(expand2, rng, 24, 3)} {
			if err := ofa.Default.Validate(a); err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(a, largest) || reflect.DeepEqual(a, smallest) {
				extreme++
			}
		}
		if a := ck.sample(depth1, rng, 24, 1); slices.Min(a.D) < 3 {
			t.Fatalf("depth1 drew depths %v", a.D)
		}
	}
	if extreme > 5 {
		t.Errorf("%d of 150 random draws were the largest or smallest subnet", extreme)
	}
	kernel := cfg.Phases[1]
	kernel.Sandwich = true
	cfg.Phases = []Phase{kernel}
	if err := cfg.Validate(ofa.Default); err == nil || !strings.Contains(err.Error(), "at least 2 samples") {
		t.Errorf("one-sample sandwich phase: err %v, want a refusal", err)
	}
}

// TestOutsideTeacher checks a teacher given from outside (ofac train
// --teacher): the full phase distils from it, it is kept when the phase ends
// rather than replaced by the trained network, and it sees its own
// resolution when the config fixes one.
func TestOutsideTeacher(t *testing.T) {
	// fullEpoch trains one epoch of the full phase and returns the trained
	// network's weights and the teacher the run ends with.
	fullEpoch := func(teacher *ofa.Net, teacherRes int, more ...*ofa.Net) ([]float32, *ofa.Net) {
		ck, splits := tinyRun(t)
		ck.Config.Phases = ck.Config.Phases[:1]
		if teacher != nil {
			ck.Config.Phases[0].Distill = true
			ck.Config.TeacherRes = teacherRes
			ck.Teachers = append([]*ofa.Net{teacher}, more...)
		}
		if err := Run(ck, splits, filepath.Join(t.TempDir(), "t.ckpt"), nil); err != nil {
			t.Fatal(err)
		}
		var w []float32
		for _, p := range ck.Net.Params() {
			w = append(w, p.Data...)
		}
		return w, ck.Teachers[0]
	}
	teacher := ofa.New(ofa.Tiny, 7)
	before := teacher.Clone()
	alone, _ := fullEpoch(nil, 0)
	taught, kept := fullEpoch(teacher, 0)
	fixed, _ := fullEpoch(teacher, 12)
	if kept != teacher {
		t.Fatal("the full phase's end replaced the outside teacher")
	}
	for i, p := range teacher.Params() {
		if !slices.Equal(p.Data, before.Params()[i].Data) {
			t.Fatalf("teacher weights %s changed during the run", p.Name)
		}
	}
	if slices.Equal(alone, taught) {
		t.Error("distilling from the outside teacher left the full phase's weights as without it")
	}
	if slices.Equal(taught, fixed) {
		t.Error("teacher resolution 12 trained the same weights as the student's (8 and 12 drawn per batch)")
	}
	// Two teachers teach the mean of their softmax outputs: a teacher
	// twice over teaches what it does alone (halving is exact in floating
	// point), and another beside it changes what is learnt.
	twice, _ := fullEpoch(teacher, 0, teacher)
	if !slices.Equal(twice, taught) {
		t.Error("the same teacher twice trained other weights than once")
	}
	other := ofa.New(ofa.Tiny, 8)
	alongside, _ := fullEpoch(teacher, 0, other)
	otherAlone, _ := fullEpoch(other, 0)
	if slices.Equal(alongside, taught) || slices.Equal(alongside, otherAlone) {
		t.Error("an ensemble of two teachers trained the same weights as one of them alone")
	}
	// Each teacher also seeing the mirror images changes what is learnt.
	ck, splits := tinyRun(t)
	ck.Config.Phases = ck.Config.Phases[:1]
	ck.Config.Phases[0].Distill = true
	ck.Config.TeacherFlip = true
	ck.Teachers = []*ofa.Net{teacher}
	if err := Run(ck, splits, filepath.Join(t.TempDir(), "t.ckpt"), nil); err != nil {
		t.Fatal(err)
	}
	var flipped []float32
	for _, p := range ck.Net.Params() {
		flipped = append(flipped, p.Data...)
	}
	if slices.Equal(flipped, taught) {
		t.Error("a teacher shown the mirror images too trained the same weights as without them")
	}
	// A checkpoint's config is read from a file: a resolution outside the
	// space (which bounds the teacher's image buffer) is refused.
	cfg := DefaultConfig(ofa.Tiny)
	for _, r := range []int{-1, 28, 1 << 20} {
		cfg.TeacherRes = r
		if err := cfg.Validate(ofa.Tiny); err == nil {
			t.Errorf("teacher resolution %d was accepted in a space of resolutions 8 and 12", r)
		}
	}
}

// TestTeacherFiles checks that teachers given from outside are saved by
// name, relative to the checkpoint's folder, read back only when asked,
// and refused once their file holds another network.
func TestTeacherFiles(t *testing.T) {
	dir := t.TempDir()
	teacherPath := filepath.Join(dir, "teachers", "a.ckpt")
	if err := os.Mkdir(filepath.Dir(teacherPath), 0o755); err != nil {
		t.Fatal(err)
	}
	teacher := &Checkpoint{Config: DefaultConfig(ofa.Tiny), Net: ofa.New(ofa.Tiny, 7)}
	if err := teacher.Save(teacherPath); err != nil {
		t.Fatal(err)
	}
	ck := &Checkpoint{Config: DefaultConfig(ofa.Tiny), Net: ofa.New(ofa.Tiny, 1),
		Teachers: []*ofa.Net{teacher.Net.Clone()}, TeacherFiles: []TeacherFile{NewTeacherFile(teacherPath, teacher.Net)}}
	runPath := filepath.Join(dir, "run", "s.ckpt")
	if err := os.Mkdir(filepath.Dir(runPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ck.Save(runPath); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(runPath)
	if err != nil {
		t.Fatal(err)
	}
	held := &Checkpoint{Config: ck.Config, Net: ck.Net, Teachers: ck.Teachers}
	hb, err := held.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `"path":"../teachers/a.ckpt","sha256":"` + NetDigest(teacher.Net) + `"`; !bytes.Contains(b, []byte(want)) {
		t.Fatalf("header does not name the teacher as %s", want)
	}
	var weights bytes.Buffer
	writeNet(&weights, teacher.Net)
	if saved := len(hb) - len(b); saved < weights.Len()-256 {
		t.Fatalf("%d bytes naming the teacher, %d holding it: %d saved of the teacher's %d", len(b), len(hb), saved, weights.Len())
	}
	// A header naming a teacher by anything but a SHA-256 is refused.
	bad := bytes.Replace(b, []byte(NetDigest(teacher.Net)), bytes.Repeat([]byte("z"), 64), 1)
	binary.LittleEndian.PutUint32(bad[len(bad)-4:], crc32.Checksum(bad[:len(bad)-4], castagnoli))
	if _, err := DecodeCheckpoint(bad); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("teacher file without a digest: err %v, want a refusal", err)
	}
	back, err := LoadCheckpoint(runPath)
	if err != nil {
		t.Fatal(err)
	}
	if back.Teachers != nil || len(back.TeacherFiles) != 1 || filepath.Clean(back.TeacherFiles[0].Path) != teacherPath {
		t.Fatalf("loaded: %d teachers, files %+v; want none read and %s", len(back.Teachers), back.TeacherFiles, teacherPath)
	}
	splits := &data.Splits{}
	if err := Run(back, splits, runPath, nil); err == nil || !strings.Contains(err.Error(), "not read") {
		t.Fatalf("training with the teachers unread: err %v", err)
	}
	if err := back.ReadTeachers(); err != nil {
		t.Fatal(err)
	}
	if len(back.Teachers) != 1 || NetDigest(back.Teachers[0]) != NetDigest(teacher.Net) {
		t.Fatal("the teacher read back is not the one saved")
	}
	// Saved again elsewhere, the path is relative to the new folder.
	again := filepath.Join(dir, "t.ckpt")
	if err := back.Save(again); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(again); !bytes.Contains(b, []byte(`"path":"teachers/a.ckpt"`)) {
		t.Fatal("saved in another folder, the teacher's path is not relative to it")
	}
	// The teacher's file trained on: the run refuses it.
	teacher.Net = ofa.New(ofa.Tiny, 8)
	if err := teacher.Save(teacherPath); err != nil {
		t.Fatal(err)
	}
	changed, err := LoadCheckpoint(runPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := changed.ReadTeachers(); err == nil || !strings.Contains(err.Error(), "has changed") {
		t.Fatalf("teacher file holding another network: err %v", err)
	}
	if err := os.Remove(teacherPath); err != nil {
		t.Fatal(err)
	}
	if err := changed.ReadTeachers(); err == nil || !strings.Contains(err.Error(), teacherPath) {
		t.Fatalf("teacher file gone: err %v, want one naming it", err)
	}
	// Release drops the names with the teachers.
	changed.Release()
	if rb, _ := changed.Encode(); bytes.Contains(rb, []byte("teacher_files")) {
		t.Fatal("a released checkpoint still names teacher files")
	}
}
