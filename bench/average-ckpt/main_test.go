package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

func save(t *testing.T, dir, name string, space ofa.SearchSpace, seed uint64) (string, *ofa.Net) {
	t.Helper()
	net := ofa.New(space, seed)
	p := filepath.Join(dir, name)
	if err := (&train.Checkpoint{Net: net}).Save(p); err != nil {
		t.Fatal(err)
	}
	return p, net
}

// The output's every parameter is the mean of the inputs'; a checkpoint of
// another space is refused.
func TestAverage(t *testing.T) {
	dir := t.TempDir()
	a, na := save(t, dir, "a.ckpt", ofa.Tiny, 1)
	b, nb := save(t, dir, "b.ckpt", ofa.Tiny, 2)
	out := filepath.Join(dir, "avg.ckpt")
	if err := average(out, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	ck, err := train.LoadCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for i, p := range ck.Net.Params() {
		for j, v := range p.Data {
			x, y := na.Params()[i].Data[j], nb.Params()[i].Data[j]
			if want := float32((float64(x) + float64(y)) / 2); v != want {
				t.Fatalf("parameter %d[%d] = %g, want the mean of %g and %g", i, j, v, x, y)
			}
			if x != y {
				differ++
			}
		}
	}
	if differ == 0 {
		t.Fatal("the two inputs are equal: the test shows nothing")
	}
	c, _ := save(t, dir, "c.ckpt", ofa.Default, 1)
	if err := average(filepath.Join(dir, "bad.ckpt"), []string{a, c}); err == nil || !strings.Contains(err.Error(), "not the same network") {
		t.Errorf("tiny and default averaged: %v", err)
	}
}
