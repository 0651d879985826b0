package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ofac-dev/ofac/supernet/data/datatest"
	"github.com/ofac-dev/ofac/supernet/train"
)

// TestMain lets a test start this test binary as the ofac command, so a
// real process can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("OFAC_TEST_ARGS"); args != "" {
		os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestTrainKillAndResume(t *testing.T) {
	dir := t.TempDir()
	if err := datatest.Write(dir, 1200, 60, 2); err != nil {
		t.Fatal(err)
	}
	args := func(out string) []string {
		return []string{"train", "--space", "tiny", "--data", dir, "-o", out, "--batch-size", "32", "-q",
			"--phase-epochs", "full=2;kernel=1;depth1=1;depth2=1;expand1=1;expand2=1"}
	}
	whole := filepath.Join(dir, "whole.ckpt")
	if code, _, errOut := ofac(t, args(whole)...); code != 0 {
		t.Fatalf("uninterrupted run: exit %d: %s", code, errOut)
	}

	killed := filepath.Join(dir, "killed.ckpt")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "OFAC_TEST_ARGS="+strings.Join(args(killed), "\x1f"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill as soon as the second epoch's checkpoint lands, mid-way into the
	// third epoch.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if ck, err := train.LoadCheckpoint(killed); err == nil && len(ck.State.History) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no checkpoint after two epochs")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	ck, err := train.LoadCheckpoint(killed)
	if err != nil {
		t.Fatalf("checkpoint unreadable after SIGKILL: %v", err)
	}
	if ck.State.Done(ck.Config) {
		t.Fatal("the run finished before it was killed; the test proves nothing")
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, ".killed.ckpt.tmp*")); len(entries) > 0 {
		t.Logf("temporary files left by the kill (expected, never read): %v", entries)
	}

	resumeArgs := append(args(killed), "--resume")
	if code, _, errOut := ofac(t, resumeArgs...); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(killed)
	if !bytes.Equal(stripTimes(t, a), stripTimes(t, b)) {
		t.Fatal("killed-and-resumed run differs from the uninterrupted one")
	}

	// Starting over an existing checkpoint without --resume is refused.
	if code, _, errOut := ofac(t, args(killed)...); code != 2 || !strings.Contains(errOut, "pass --resume") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func stripTimes(t *testing.T, b []byte) []byte {
	t.Helper()
	c, err := train.DecodeCheckpoint(b)
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

func TestTrainInit(t *testing.T) {
	dir := t.TempDir()
	if err := datatest.Write(dir, 300, 30, 3); err != nil {
		t.Fatal(err)
	}
	base := []string{"train", "--space", "tiny", "--data", dir, "--batch-size", "32", "-q"}
	first := filepath.Join(dir, "first.ckpt")
	if code, _, errOut := ofac(t, append(base, "--arch", "largest", "--epochs", "1", "-o", first)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	second := filepath.Join(dir, "second.ckpt")
	args := append(base, "--init", first, "-o", second, "--phase-epochs", "full=0;kernel=1;depth1=0;depth2=0;expand1=0;expand2=0")
	code, _, errOut := ofac(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The fixed network trained at one resolution; the kernel phase samples
	// both of the tiny space's.
	if !strings.Contains(errOut, "has trained at 12 pixels only; this run also samples 8") {
		t.Errorf("no warning about the untrained resolution: %q", errOut)
	}
	a, _ := train.LoadCheckpoint(first)
	b, _ := train.LoadCheckpoint(second)
	if len(b.Teachers) != 1 || len(b.State.History) != 1 || b.State.History[0].Phase != "kernel" {
		t.Fatalf("second run: %d teachers, history %+v", len(b.Teachers), b.State.History)
	}
	// The teacher is the network it started from.
	if a.Net.Params()[0].Data[0] != b.Teachers[0].Params()[0].Data[0] {
		t.Fatal("the teacher is not the --init network")
	}
	// Continuing a supernet with later phases only distils from its
	// teacher, not from the supernet as it now is.
	third := filepath.Join(dir, "third.ckpt")
	args = append(base, "--init", second, "-o", third, "--phase-epochs", "full=0;kernel=0;depth1=0;depth2=0;expand1=0;expand2=1")
	code, _, errOut = ofac(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(errOut, "warning") {
		t.Errorf("warned though the kernel phase trained every resolution: %q", errOut)
	}
	c, _ := train.LoadCheckpoint(third)
	if len(c.Teachers) != 1 || c.Teachers[0].Params()[0].Data[0] != b.Teachers[0].Params()[0].Data[0] {
		t.Fatal("continuing run did not keep the --init checkpoint's teacher")
	}
	// Released, it keeps the weights and drops teacher and momentum.
	released := filepath.Join(dir, "released.ckpt")
	if code, _, errOut := ofac(t, "release", third, "-o", released); code != 0 {
		t.Fatalf("release: exit %d: %s", code, errOut)
	}
	r, err := train.LoadCheckpoint(released)
	if err != nil {
		t.Fatal(err)
	}
	big, _ := os.Stat(third)
	small, _ := os.Stat(released)
	if r.Teachers != nil || r.Momentum != nil || r.Net.Params()[0].Data[0] != c.Net.Params()[0].Data[0] || small.Size() >= big.Size() {
		t.Fatalf("released: %d teachers, momentum %v, %d bytes from %d", len(r.Teachers), r.Momentum != nil, small.Size(), big.Size())
	}
	// A run stopped early is released only when asked for by name.
	stopped := filepath.Join(dir, "stopped.ckpt")
	c.State.Phase, c.State.Epoch = len(c.Config.Phases)-1, 0
	if err := c.Save(stopped); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ofac(t, "release", stopped, "-o", released); code != 2 || !strings.Contains(errOut, "--stopped") {
		t.Fatalf("release of a stopped run: exit %d, %q; want exit 2 pointing to --stopped", code, errOut)
	}
	code, out, errOut := ofac(t, "release", stopped, "--stopped", "-o", released)
	if code != 0 || !strings.Contains(out, "stopped after epoch 0 of 1 of phase expand2") {
		t.Fatalf("release --stopped: exit %d, %q, %q", code, out, errOut)
	}
	bad := []string{"train", "--data", dir, "--init", first, "-o", filepath.Join(dir, "x.ckpt"), "-q"}
	if code, _, errOut := ofac(t, bad...); code != 2 || !strings.Contains(errOut, "--space tiny") {
		t.Fatalf("init from another space: exit %d, %q; want exit 2 naming --space tiny", code, errOut)
	}
}

func TestTrainRefusesUnwritableLogsBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	if err := datatest.Write(dir, 200, 20, 2); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run.ckpt")
	for _, flag := range []string{"--log", "--csv"} {
		code, _, errOut := ofac(t, "train", "--space", "tiny", "--data", dir, "-o", out, "-q",
			flag, filepath.Join(dir, "missing", "curve"))
		if code != 2 || !strings.Contains(errOut, "does not exist") {
			t.Errorf("%s into a missing folder: exit %d, %q; want exit 2 naming the folder", flag, code, errOut)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: a checkpoint was written although the run was refused", flag)
		}
	}
}

func TestWarnUntrainedResolutions(t *testing.T) {
	all := []int{20, 24, 28, 32}
	full := train.Phase{Name: "full", Epochs: 6, Resolutions: all}
	kernel := train.Phase{Name: "kernel", Epochs: 2, Resolutions: all}
	skipped := full
	skipped.Epochs = 0
	for _, tc := range []struct {
		name    string
		trained []int
		phases  []train.Phase
		want    string
	}{
		{"elastic phases only", []int{28}, []train.Phase{skipped, kernel}, "trained at 28 pixels only; this run also samples 20, 24 and 32,"},
		{"a full phase first", []int{28}, []train.Phase{full, kernel}, ""},
		{"every resolution trained", all, []train.Phase{skipped, kernel}, ""},
		{"no learning curve", nil, []train.Phase{skipped, kernel}, ""},
	} {
		var b strings.Builder
		warnUntrainedResolutions(&b, "x.ckpt", tc.trained, tc.phases)
		if got := b.String(); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestTrainTeacher runs a supernet's full phase distilled from a network
// trained apart (--teacher): the run keeps that network as its teacher and
// shows it the largest subnet's resolution.
func TestTrainTeacher(t *testing.T) {
	dir := t.TempDir()
	if err := datatest.Write(dir, 300, 30, 3); err != nil {
		t.Fatal(err)
	}
	base := []string{"train", "--space", "tiny", "--data", dir, "--batch-size", "32", "-q"}
	teacher := filepath.Join(dir, "teacher.ckpt")
	if code, _, errOut := ofac(t, append(base, "--arch", "largest", "--epochs", "1", "-o", teacher)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	student := filepath.Join(dir, "student.ckpt")
	args := append(base, "--teacher", teacher, "-o", student, "--phase-epochs", "full=1;kernel=1;depth1=0;depth2=0;expand1=0;expand2=0")
	if code, _, errOut := ofac(t, args...); code != 0 || strings.Contains(errOut, "warning") {
		t.Fatalf("exit %d: %q", code, errOut)
	}
	a, _ := train.LoadCheckpoint(teacher)
	b, err := train.LoadCheckpoint(student)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ReadTeachers(); err != nil {
		t.Fatal(err)
	}
	if len(b.Teachers) != 1 || a.Net.Params()[0].Data[0] != b.Teachers[0].Params()[0].Data[0] {
		t.Fatal("the run's teacher is not the --teacher network")
	}
	if b.Config.TeacherRes != 12 || !b.Config.Phases[0].Distill {
		t.Fatalf("teacher resolution %d, full phase distils %v; want 12 (tiny's largest) and true", b.Config.TeacherRes, b.Config.Phases[0].Distill)
	}
	// Two teachers, comma-separated, teach together, in the order given.
	second := filepath.Join(dir, "second.ckpt")
	if code, _, errOut := ofac(t, append(base, "--arch", "largest", "--epochs", "1", "--seed", "2", "-o", second)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	pair := filepath.Join(dir, "pair.ckpt")
	args = append(base, "--teacher", teacher+","+second, "--teacher-flip", "-o", pair, "--phase-epochs", "full=1;kernel=0;depth1=0;depth2=0;expand1=0;expand2=0")
	if code, _, errOut := ofac(t, args...); code != 0 {
		t.Fatalf("exit %d: %q", code, errOut)
	}
	c, _ := train.LoadCheckpoint(second)
	p, err := train.LoadCheckpoint(pair)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReadTeachers(); err != nil {
		t.Fatal(err)
	}
	if len(p.Teachers) != 2 || p.Teachers[0].Params()[0].Data[0] != a.Net.Params()[0].Data[0] || p.Teachers[1].Params()[0].Data[0] != c.Net.Params()[0].Data[0] {
		t.Fatalf("--teacher A,B: %d teachers, want A then B", len(p.Teachers))
	}
	if !p.Config.TeacherFlip || b.Config.TeacherFlip {
		t.Fatalf("teacher flip saved as %v with --teacher-flip, %v without", p.Config.TeacherFlip, b.Config.TeacherFlip)
	}
	// The checkpoint names its teachers' files rather than holding copies;
	// a resumed run reads them, and refuses one that has trained since.
	// The pair's file is one network and a header, as large as the
	// network trained with --arch (second) give or take the header's
	// few hundred bytes; holding even one teacher would double it.
	pairInfo, _ := os.Stat(pair)
	netInfo, _ := os.Stat(second)
	if pairInfo.Size() > netInfo.Size()+4096 {
		t.Fatalf("two teachers named: %d bytes, against %d for a network alone: the teachers are still held", pairInfo.Size(), netInfo.Size())
	}
	unfinished, err := train.LoadCheckpoint(pair)
	if err != nil {
		t.Fatal(err)
	}
	unfinished.Config.Phases[0].Epochs = 2 // one epoch of the full phase left
	unfinished.State.Phase, unfinished.State.Epoch = 0, 1
	if err := unfinished.Save(pair); err != nil {
		t.Fatal(err)
	}
	unfinishedBytes, err := os.ReadFile(pair)
	if err != nil {
		t.Fatal(err)
	}
	resume := append(base, "-o", pair, "--resume")
	if code, _, errOut := ofac(t, resume...); code != 0 {
		t.Fatalf("resumed with its teachers' files: exit %d, %q", code, errOut)
	}
	if done, err := train.LoadCheckpoint(pair); err != nil || len(done.State.History) != 2 || len(done.TeacherFiles) != 2 {
		t.Fatalf("resumed run: err %v, want two epochs and two teacher files", err)
	}
	// A run started from it (--init) keeps learning from the same files.
	carried := filepath.Join(dir, "carried.ckpt")
	if code, _, errOut := ofac(t, append(base, "--init", pair, "-o", carried, "--phase-epochs", "full=0;kernel=1;depth1=0;depth2=0;expand1=0;expand2=0")...); code != 0 {
		t.Fatalf("--init from a run naming its teachers: exit %d, %q", code, errOut)
	}
	if c, err := train.LoadCheckpoint(carried); err != nil || len(c.TeacherFiles) != 2 || c.TeacherFiles[1].Path != second {
		t.Fatalf("--init: err %v, want the two teacher files carried over", err)
	}
	if err := os.WriteFile(pair, unfinishedBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ofac(t, append(base, "--arch", "largest", "--epochs", "1", "--seed", "3", "-o", filepath.Join(dir, "third.ckpt"))...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if err := os.Rename(filepath.Join(dir, "third.ckpt"), second); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ofac(t, resume...); code != 1 || !strings.Contains(errOut, second) || !strings.Contains(errOut, "has changed") {
		t.Fatalf("resumed with a teacher file that changed: exit %d, %q; want exit 1 naming %s", code, errOut, second)
	}
	// Without a teacher, --arch distils nothing, so the flip is refused.
	if code, _, errOut := ofac(t, append(base, "--arch", "largest", "--teacher-flip", "-o", filepath.Join(dir, "flip.ckpt"))...); code != 2 || !strings.Contains(errOut, "--teacher-flip") {
		t.Fatalf("--arch --teacher-flip without --teacher: exit %d, %q; want exit 2", code, errOut)
	}
	many := strings.Repeat(teacher+",", train.MaxTeachers) + teacher
	if code, _, errOut := ofac(t, append(base, "--teacher", many, "-o", filepath.Join(dir, "many.ckpt"))...); code != 2 || !strings.Contains(errOut, "at most") {
		t.Fatalf("%d teachers: exit %d, %q; want exit 2", train.MaxTeachers+1, code, errOut)
	}
	bad := []string{"train", "--data", dir, "--teacher", teacher, "-o", filepath.Join(dir, "x.ckpt"), "-q"}
	if code, _, errOut := ofac(t, bad...); code != 2 || !strings.Contains(errOut, "--teacher") || !strings.Contains(errOut, "--space tiny") {
		t.Fatalf("teacher from another space: exit %d, %q; want exit 2 naming --space tiny", code, errOut)
	}
}

// TestTrainValImages checks that --val-images is saved with the run and that
// ofac eval then measures the run's validation split on that many images.
func TestTrainValImages(t *testing.T) {
	dir := t.TempDir()
	if err := datatest.Write(dir, 300, 30, 3); err != nil {
		t.Fatal(err)
	}
	base := []string{"train", "--space", "tiny", "--data", dir, "--batch-size", "32", "-q", "--arch", "largest", "--epochs", "1"}
	std, held := filepath.Join(dir, "std.ckpt"), filepath.Join(dir, "held.ckpt")
	if code, _, errOut := ofac(t, append(base, "-o", std)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := ofac(t, append(base, "--val-images", "20", "-o", held)...); code != 0 {
		t.Fatalf("--val-images 20: exit %d: %s", code, errOut)
	}
	a, _ := train.LoadCheckpoint(std)
	b, err := train.LoadCheckpoint(held)
	if err != nil {
		t.Fatal(err)
	}
	if a.Config.ValImages != 0 || b.Config.ValImages != 20 {
		t.Fatalf("saved validation images %d without the flag, %d with 20; want 0 and 20", a.Config.ValImages, b.Config.ValImages)
	}
	if a.Net.Params()[0].Data[0] == b.Net.Params()[0].Data[0] {
		t.Error("training on 30 more images left the first weight unchanged")
	}
	for _, c := range []struct {
		ckpt   string
		images string
	}{{std, `"images":50,`}, {held, `"images":20,`}} {
		code, out, errOut := ofac(t, "eval", "--supernet", c.ckpt, "--arch", "largest", "--data", dir, "--split", "val", "--json")
		if code != 0 || !strings.Contains(out, c.images) {
			t.Errorf("eval --split val of %s: exit %d, %s%s; want %s", filepath.Base(c.ckpt), code, out, errOut, c.images)
		}
	}
	if code, _, errOut := ofac(t, append(base, "--val-images", "300", "-o", filepath.Join(dir, "all.ckpt"))...); code != 2 || !strings.Contains(errOut, "--val-images") {
		t.Fatalf("--val-images 300 of 300: exit %d, %q; want exit 2 naming --val-images", code, errOut)
	}
}

// TestTrainResolutions weights the resolutions a supernet samples by
// naming one twice, and refuses one the space lacks.
func TestTrainResolutions(t *testing.T) {
	dir := t.TempDir()
	if err := datatest.Write(dir, 200, 20, 2); err != nil {
		t.Fatal(err)
	}
	base := []string{"train", "--space", "tiny", "--data", dir, "--batch-size", "32", "-q",
		"--phase-epochs", "full=1;kernel=0;depth1=0;depth2=0;expand1=0;expand2=0"}
	out := filepath.Join(dir, "run.ckpt")
	if code, _, errOut := ofac(t, append(base, "--resolutions", "8,12,12", "-o", out)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ck, err := train.LoadCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ck.Config.Phases {
		if !slices.Equal(p.Resolutions, []int{8, 12, 12}) {
			t.Errorf("phase %s samples %v, want [8 12 12]", p.Name, p.Resolutions)
		}
	}
	if got := ck.TrainedResolutions(); !slices.Equal(got, []int{8, 12}) {
		t.Errorf("trained resolutions %v, want [8 12]", got)
	}
	for _, tc := range []struct{ args, want string }{
		{"--resolutions 8,16", "16 is not a resolution of the tiny space (8 and 12)"},
		{"--resolutions 12 --arch largest", "--arch trains at its architecture's own resolution"},
	} {
		args := append(slices.Clone(base), append(strings.Fields(tc.args), "-o", filepath.Join(dir, "refused.ckpt"))...)
		if code, _, errOut := ofac(t, args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want exit 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}
