package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ofac-dev/ofac/internal/atomicfile"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// A checkpoint file is
//
//	magic "OFACCKPT", uint32 version, uint32 header length, JSON header,
//	float32 little-endian blocks (see Checkpoint), uint32 CRC-32C of all
//	bytes before it.
//
// The header names every block with its length, so a reader can refuse a
// file that does not match the space before touching the data.
const (
	ckptMagic   = "OFACCKPT"
	ckptVersion = 1
	maxHeader   = 16 << 20
)

// State is where a run stands: the phase it is in, the epochs of that phase
// already done, and the learning curve so far.
type State struct {
	Phase   int           `json:"phase"`
	Epoch   int           `json:"epoch"`
	History []EpochRecord `json:"history"`
}

// Done reports whether every phase has run.
func (s State) Done(c Config) bool { return s.Phase >= len(c.Phases) }

// EpochRecord is one line of the learning curve.
type EpochRecord struct {
	Phase     string  `json:"phase"`
	Epoch     int     `json:"epoch"` // 1-based within the phase
	LR        float64 `json:"lr"`    // at the end of the epoch
	Loss      float64 `json:"loss"`
	TrainAcc  float64 `json:"train_acc"`
	ValAcc    float64 `json:"val_acc"` // largest subnet of the phase, BN recalibrated
	Seconds   float64 `json:"seconds"`
	ImagesSec float64 `json:"images_per_sec"`
	// GFLOPS counts forward and backward of every sampled subnet and the
	// teacher's forward pass; learning curves written before ofac train
	// --teacher existed leave the teacher out.
	GFLOPS float64 `json:"gflops"`
}

// Checkpoint is everything needed to continue a run exactly: the weights and
// running statistics, the optimiser's momentum, the teacher (once the full
// phase is over), the config and the state. Random streams are derived from
// (seed, phase, epoch, step), so no generator state needs saving.
type Checkpoint struct {
	Config   Config
	State    State
	Net      *ofa.Net
	Momentum [][]float32 // one per parameter; nil before the first step
	// Teachers are the networks a distilling phase learns from, the mean of
	// their softmax outputs (an ensemble teaches better than its best
	// member when its members err on different images; bench/ensemble
	// measures that). Nil until the full phase ends, which freezes the
	// trained network as the one teacher, unless given from outside.
	Teachers []*ofa.Net
	// TeacherFiles, one per teacher when set, names the files teachers
	// given from outside come from: the checkpoint then refers to them
	// instead of holding copies, and Teachers stays nil after loading until
	// ReadTeachers.
	TeacherFiles []TeacherFile
}

type ckptHeader struct {
	Version  int             `json:"version"`
	Space    ofa.SearchSpace `json:"space"`
	Config   Config          `json:"config"`
	State    State           `json:"state"`
	Params   []int           `json:"params"` // lengths, in Net.Params order
	BNs      []int           `json:"bns"`    // channel counts, in Net.BatchNorms order
	Momentum bool            `json:"momentum"`
	Teacher  bool            `json:"teacher"`
	// Teachers counts them when there are more than one; files written
	// before ensembles existed say only Teacher.
	Teachers int `json:"teachers,omitempty"`
	// TeacherFiles name teachers held outside the file; Teacher and
	// Teachers then count none.
	TeacherFiles []TeacherFile `json:"teacher_files,omitempty"`
}

// MaxTeachers bounds the teachers of a run, so a corrupt header cannot ask
// for unbounded memory; each costs a forward pass a step.
const MaxTeachers = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode serialises a checkpoint.
func (c *Checkpoint) Encode() ([]byte, error) {
	embedded := c.Teachers
	if len(c.TeacherFiles) > 0 {
		if len(c.Teachers) > 0 && len(c.Teachers) != len(c.TeacherFiles) {
			return nil, fmt.Errorf("checkpoint: %d teachers, %d teacher files", len(c.Teachers), len(c.TeacherFiles))
		}
		for _, f := range c.TeacherFiles {
			if err := f.valid(); err != nil {
				return nil, fmt.Errorf("checkpoint: %w", err)
			}
		}
		embedded = nil
	}
	h := ckptHeader{Version: ckptVersion, Space: c.Net.Space, Config: c.Config, State: c.State,
		Momentum: c.Momentum != nil, Teacher: len(embedded) > 0, TeacherFiles: c.TeacherFiles}
	if len(embedded) > 1 {
		h.Teachers = len(embedded)
	}
	if n := max(len(c.Teachers), len(c.TeacherFiles)); n > MaxTeachers {
		return nil, fmt.Errorf("checkpoint: %d teachers, at most %d", n, MaxTeachers)
	}
	for _, p := range c.Net.Params() {
		h.Params = append(h.Params, len(p.Data))
	}
	for _, bn := range c.Net.BatchNorms() {
		h.BNs = append(h.BNs, len(bn.RunningMean))
	}
	head, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(ckptMagic)
	binary.Write(&b, binary.LittleEndian, uint32(ckptVersion))
	binary.Write(&b, binary.LittleEndian, uint32(len(head)))
	b.Write(head)
	writeNet(&b, c.Net)
	if c.Momentum != nil {
		if len(c.Momentum) != len(h.Params) {
			return nil, fmt.Errorf("checkpoint: %d momentum buffers for %d parameters", len(c.Momentum), len(h.Params))
		}
		for _, m := range c.Momentum {
			writeFloats(&b, m)
		}
	}
	for _, t := range embedded {
		writeNet(&b, t)
	}
	binary.Write(&b, binary.LittleEndian, crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes(), nil
}

func writeNet(b *bytes.Buffer, n *ofa.Net) {
	for _, p := range n.Params() {
		writeFloats(b, p.Data)
	}
	for _, bn := range n.BatchNorms() {
		writeFloats(b, bn.RunningMean)
		writeFloats(b, bn.RunningVar)
	}
}

func writeFloats(b *bytes.Buffer, f []float32) {
	var tmp [4]byte
	for _, v := range f {
		binary.LittleEndian.PutUint32(tmp[:], math.Float32bits(v))
		b.Write(tmp[:])
	}
}

// Save writes the checkpoint atomically, naming its teacher files relative
// to the folder of path.
func (c *Checkpoint) Save(path string) error {
	rel := *c
	if len(c.TeacherFiles) > 0 {
		var err error
		if rel.TeacherFiles, err = teacherFilesRelativeTo(c.TeacherFiles, filepath.Dir(path)); err != nil {
			return err
		}
	}
	b, err := rel.Encode()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b)
}

// LoadCheckpoint reads a checkpoint file; errors start with the path. The
// paths of its teacher files come back usable from the working directory,
// the files unread (ReadTeachers).
func LoadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := DecodeCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.TeacherFiles = teacherFilesIn(c.TeacherFiles, filepath.Dir(path))
	return c, nil
}

// DecodeCheckpoint parses and checks a checkpoint's bytes; the paths of its
// teacher files stay as written, relative to the file's folder.
func DecodeCheckpoint(b []byte) (*Checkpoint, error) {
	if len(b) < len(ckptMagic)+12 || string(b[:len(ckptMagic)]) != ckptMagic {
		return nil, errors.New("not an ofac checkpoint (it does not start with " + ckptMagic + ")")
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != ckptVersion {
		return nil, fmt.Errorf("checkpoint version %d is not supported (this ofac reads version %d)", v, ckptVersion)
	}
	n := le.Uint32(b[12:])
	if n > maxHeader || int(n) > len(b)-20 {
		return nil, errors.New("checkpoint is truncated or corrupted: bad header length")
	}
	end := len(b) - 4
	if crc32.Checksum(b[:end], castagnoli) != le.Uint32(b[end:]) {
		return nil, errors.New("checkpoint is corrupted: checksum mismatch")
	}
	var h ckptHeader
	dec := json.NewDecoder(bytes.NewReader(b[16 : 16+n]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("checkpoint header is invalid: %v", err)
	}
	if err := validSpace(h.Space); err != nil {
		return nil, fmt.Errorf("checkpoint header is invalid: %v", err)
	}
	if st := h.State; st.Phase < 0 || st.Phase > len(h.Config.Phases) || st.Epoch < 0 {
		// Commands index the phases by the state, so a crafted file must not get that far.
		return nil, fmt.Errorf("checkpoint header is invalid: state phase %d, epoch %d does not fit its %d phases", st.Phase, st.Epoch, len(h.Config.Phases))
	}
	r := floatReader{b: b[16+n : end]}
	net := ofa.New(h.Space, 0)
	if err := r.net(net, h); err != nil {
		return nil, err
	}
	c := &Checkpoint{Config: h.Config, State: h.State, Net: net}
	if h.Momentum {
		for _, p := range net.Params() {
			m := make([]float32, len(p.Data))
			if err := r.floats(m); err != nil {
				return nil, err
			}
			c.Momentum = append(c.Momentum, m)
		}
	}
	teachers := h.Teachers
	if h.Teacher && teachers == 0 {
		teachers = 1
	}
	if teachers < 0 || teachers > MaxTeachers || teachers > 0 && !h.Teacher {
		return nil, fmt.Errorf("checkpoint header is invalid: %d teachers (teacher %v), want 0-%d", h.Teachers, h.Teacher, MaxTeachers)
	}
	if len(h.TeacherFiles) > 0 && (h.Teacher || len(h.TeacherFiles) > MaxTeachers) {
		return nil, fmt.Errorf("checkpoint header is invalid: %d teacher files (teacher %v), want 0-%d and no teacher held", len(h.TeacherFiles), h.Teacher, MaxTeachers)
	}
	for _, f := range h.TeacherFiles {
		if err := f.valid(); err != nil {
			return nil, fmt.Errorf("checkpoint header is invalid: %w", err)
		}
	}
	c.TeacherFiles = h.TeacherFiles
	for range teachers {
		t := ofa.New(h.Space, 0)
		if err := r.net(t, h); err != nil {
			return nil, err
		}
		c.Teachers = append(c.Teachers, t)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("checkpoint is corrupted: %d bytes left over", len(r.b))
	}
	return c, nil
}

// validSpace bounds a space read from a file before a network is built
// from it, so a corrupt header cannot ask for unbounded memory.
func validSpace(s ofa.SearchSpace) error {
	small := func(v, lo, hi int) bool { return v >= lo && v <= hi }
	if !small(s.Stem, 1, 1024) || !small(s.First, 1, 1024) || !small(s.Head, 1, 8192) || !small(s.Classes, 1, 10000) ||
		!small(len(s.Stages), 1, 16) || len(s.Kernels) == 0 || len(s.Expands) == 0 || len(s.Depths) == 0 || len(s.Resolutions) == 0 {
		return errors.New("search space out of range")
	}
	for _, st := range s.Stages {
		if !small(st.Width, 1, 2048) || !small(st.Stride, 1, 2) {
			return errors.New("stage out of range")
		}
	}
	for i, k := range s.Kernels {
		if !small(k, 1, 7) || k%2 == 0 || (i > 0 && k <= s.Kernels[i-1]) {
			return errors.New("kernels must be increasing odd sizes up to 7")
		}
	}
	if s.Kernels[len(s.Kernels)-1] != 7 && len(s.Kernels) > 1 {
		return errors.New("elastic kernels need a largest kernel of 7")
	}
	for i, e := range s.Expands {
		if !small(e, 1, 8) || (i > 0 && e <= s.Expands[i-1]) {
			return errors.New("expands must be increasing, at most 8")
		}
	}
	for i, d := range s.Depths {
		if !small(d, 1, 8) || (i > 0 && d <= s.Depths[i-1]) {
			return errors.New("depths must be increasing, at most 8")
		}
	}
	for _, r := range s.Resolutions {
		if !small(r, 4, 256) {
			return errors.New("resolution out of range")
		}
	}
	return nil
}

type floatReader struct{ b []byte }

func (r *floatReader) floats(dst []float32) error {
	if len(r.b) < 4*len(dst) {
		return errors.New("checkpoint is truncated: weights end early")
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.b[4*i:]))
	}
	r.b = r.b[4*len(dst):]
	return nil
}

func (r *floatReader) net(n *ofa.Net, h ckptHeader) error {
	ps, bns := n.Params(), n.BatchNorms()
	if len(ps) != len(h.Params) || len(bns) != len(h.BNs) {
		return fmt.Errorf("checkpoint holds %d parameters and %d batch norms, its space needs %d and %d", len(h.Params), len(h.BNs), len(ps), len(bns))
	}
	for i, p := range ps {
		if len(p.Data) != h.Params[i] {
			return fmt.Errorf("checkpoint parameter %s has %d values, its space needs %d", p.Name, h.Params[i], len(p.Data))
		}
		if err := r.floats(p.Data); err != nil {
			return err
		}
	}
	for _, bn := range bns {
		if err := r.floats(bn.RunningMean); err != nil {
			return err
		}
		if err := r.floats(bn.RunningVar); err != nil {
			return err
		}
	}
	return nil
}

// StripTimings zeroes the wall-clock figures of the learning curve, the only
// part of a checkpoint that differs between two runs of the same command.
func (c *Checkpoint) StripTimings() {
	for i := range c.State.History {
		h := &c.State.History[i]
		h.Seconds, h.ImagesSec, h.GFLOPS = 0, 0, 0
	}
}

// Release drops what only a continuing run needs, the optimiser's momentum
// and the distillation teachers, leaving the weights, config and learning
// curve: the form the supernet ships in (about a third of the size).
func (c *Checkpoint) Release() {
	c.Momentum = nil
	c.Teachers = nil
	c.TeacherFiles = nil
}

// Remaining estimates how long the run still needs: each epoch left at the
// mean time of its phase's finished epochs or, for a phase not started yet,
// at the last finished epoch's time scaled by how much more (or less)
// arithmetic an image costs in that phase: the elastic phases sample up to
// four subnets of very different sizes per step and add the teacher's
// forward pass, so their epochs are not priced like the full phase's. It is
// zero when the run is done or no epoch has finished.
func (c *Checkpoint) Remaining() time.Duration {
	h := c.State.History
	if len(h) == 0 {
		return 0
	}
	lastRec := h[len(h)-1]
	base := -1.0 // work per image of lastRec's phase, priced when first needed
	var secs float64
	for i := c.State.Phase; i < len(c.Config.Phases); i++ {
		ph := c.Config.Phases[i]
		left := ph.Epochs
		if i == c.State.Phase {
			left -= c.State.Epoch
		}
		if left <= 0 {
			continue
		}
		per, n := 0.0, 0
		for _, r := range h {
			if r.Phase == ph.Name {
				per += r.Seconds
				n++
			}
		}
		if n > 0 {
			per /= float64(n)
		} else {
			if base < 0 {
				base = c.phaseWork(lastRec.Phase)
			}
			per = lastRec.Seconds
			if base > 0 {
				per *= c.imageWork(ph) / base
			}
		}
		secs += float64(left) * per
	}
	return time.Duration(secs * float64(time.Second))
}

// phaseWork is imageWork of the phase named name, or 0 when it cannot be
// priced (no network, or no such phase).
func (c *Checkpoint) phaseWork(name string) float64 {
	if c.Net == nil {
		return 0
	}
	for _, ph := range c.Config.Phases {
		if ph.Name == name {
			return c.imageWork(ph)
		}
	}
	return 0
}

// imageWork is the expected multiply-accumulates one training image costs
// in phase ph: forward and backward (about three forward passes) of every
// subnet a step samples, plus each teacher's forward passes (two when it
// also sees the mirror images) when the phase distils. The expectation is
// over a fixed draw of the phase's subnets and resolutions, so the
// estimate is the same every time it is asked for.
func (c *Checkpoint) imageWork(ph Phase) float64 {
	if len(ph.Resolutions) == 0 || ph.Fixed == nil && (len(ph.Kernels) == 0 || len(ph.Expands) == 0 || len(ph.Depths) == 0) {
		return 0 // not a valid phase; Validate says why
	}
	const draws = 64
	rng := rand.New(rand.NewPCG(1, 1))
	var work float64
	for range draws {
		res := ph.Resolutions[rng.IntN(len(ph.Resolutions))]
		for i := range ph.Samples {
			work += 3 * float64(c.Net.MACs(c.sample(ph, rng, res, i)))
		}
		if ph.Distill && c.Config.KDRatio > 0 {
			teacher := c.Net.Space.Largest()
			teacher.R = c.Config.teacherRes(res)
			views := 1
			if c.Config.TeacherFlip {
				views = 2
			}
			work += float64(c.Net.MACs(teacher)) * float64(max(1, len(c.Teachers), len(c.TeacherFiles))*views)
		}
	}
	return work / draws
}

// TrainedResolutions lists, in increasing order, the input resolutions the
// run behind c has trained at: those of every phase with at least one epoch
// in its learning curve. A network trained at one resolution alone does not
// work at the others (MODELS.md, ps14: 94.33% at 28 pixels, 74.83% at 20), so
// a run that starts from it needs to know.
func (c *Checkpoint) TrainedResolutions() []int {
	seen := map[int]bool{}
	for _, h := range c.State.History {
		for _, p := range c.Config.Phases {
			if p.Name == h.Phase {
				for _, r := range p.Resolutions {
					seen[r] = true
				}
			}
		}
	}
	rs := make([]int, 0, len(seen))
	for r := range seen {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}
