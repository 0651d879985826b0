package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/search"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// Each line carries the saved predictor's own prediction for the arch the
// choice names; a choice the space cannot resolve is an error.
func TestPredict(t *testing.T) {
	space := ofa.Tiny
	recs := []search.Record{
		{Arch: space.Smallest(), Top1: 0.80},
		{Arch: space.Largest(), Top1: 0.90},
	}
	for i := 1; i <= 8; i++ {
		a, err := space.ResolveArch(fmt.Sprintf("random:%d", i))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, search.Record{Arch: a, Top1: 0.85})
	}
	p, err := search.TrainPredictor(space, recs, search.TrainOptions{Hidden: 4, Depth: 1, Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := predict(&out, path, []string{"largest", "smallest"}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("largest\t%.2f%%\nsmallest\t%.2f%%\n", 100*p.Predict(space.Largest()), 100*p.Predict(space.Smallest()))
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	if err := predict(&out, path, []string{"random:x"}); err == nil || !strings.Contains(err.Error(), "random:SEED") {
		t.Fatalf("bad arch: got %v", err)
	}
}
