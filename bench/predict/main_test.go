package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
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

// A records file gives the error by size band: the smallest subnet (3
// blocks in the tiny space) alone in the first band, the largest (6) alone
// in the last, and no records between.
func TestErrorBySize(t *testing.T) {
	space := ofa.Tiny
	recs := []search.Record{{Arch: space.Smallest(), Top1: 0.80, Images: 10}, {Arch: space.Largest(), Top1: 0.90, Images: 10}}
	p, err := search.TrainPredictor(space, append(append(recs, recs...), recs...), search.TrainOptions{Hidden: 4, Depth: 1, Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for _, r := range recs {
		b, _ := json.Marshal(r)
		lines = append(append(lines, b...), '\n')
	}
	data := filepath.Join(dir, "acc.jsonl")
	os.WriteFile(data, lines, 0o644)
	var out bytes.Buffer
	if err := predict(&out, path, []string{data}); err != nil {
		t.Fatal(err)
	}
	small := 100 * (p.Predict(space.Smallest()) - 0.80)
	large := 100 * (p.Predict(space.Largest()) - 0.90)
	want := fmt.Sprintf("%[1]s\tblocks 3-4\t1 records\tmean error %+.2[2]f\tRMSE %.2[3]f\n%[1]s\tblocks 5-5\tno records\n%[1]s\tblocks 6-6\t1 records\tmean error %+.2[4]f\tRMSE %.2[5]f\n",
		data, small, math.Abs(small), large, math.Abs(large))
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	// Records of another space with the same archs are refused, not scored.
	line, _ := json.Marshal(search.Record{Space: "fine", Arch: space.Smallest(), Top1: 0.8, Images: 10})
	os.WriteFile(data, append(line, '\n'), 0o644)
	if err := predict(&out, path, []string{data}); err == nil || !strings.Contains(err.Error(), "fine space") {
		t.Fatalf("records of the fine space: got %v", err)
	}
	os.WriteFile(data, nil, 0o644)
	if err := predict(&out, path, []string{data}); err == nil || !strings.Contains(err.Error(), "no accuracy records") {
		t.Fatalf("empty records file: got %v", err)
	}
}
