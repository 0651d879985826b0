package main

import (
	"math"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/search"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

func rec(r int, k int, top1 float64) search.Record {
	a := ofa.Default.Largest()
	a.R = r
	a.KS[0] = k
	return search.Record{Arch: a, Top1: top1, Images: 10000}
}

func TestCompareMatchesByArchitecture(t *testing.T) {
	old := []search.Record{rec(20, 3, 0.80), rec(20, 5, 0.90), rec(28, 3, 0.85), rec(32, 3, 0.70)}
	// Listed in another order, one subnet only in the new file.
	new := []search.Record{rec(28, 3, 0.84), rec(20, 5, 0.93), rec(20, 3, 0.81), rec(24, 7, 0.99)}
	c, err := compare(old, new)
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	if c.all.n != 3 || c.all.gained != 2 {
		t.Errorf("all: %d matched, %d gained; want 3 and 2", c.all.n, c.all.gained)
	}
	near("mean", c.all.sum/3, (1+3-1)/3.0)
	near("min", c.all.min, -1)
	near("max", c.all.max, 3)
	r20 := c.byRes[20]
	if r20 == nil || r20.n != 2 {
		t.Fatalf("r20: %+v, want 2 subnets", r20)
	}
	near("r20 best old", r20.bestOld, 0.90)
	near("r20 best new", r20.bestNew, 0.93)
	if c.byRes[24] != nil || c.byRes[32] != nil {
		t.Errorf("unmatched resolutions counted: %+v", c.byRes)
	}
	var b strings.Builder
	c.print(&b)
	if !strings.Contains(b.String(), "r28       1 subnets,   0 gained, mean -1.00") {
		t.Errorf("printed:\n%s", b.String())
	}
}

func TestCompareNothingInCommon(t *testing.T) {
	if _, err := compare([]search.Record{rec(20, 3, 0.8)}, []search.Record{rec(24, 3, 0.8)}); err == nil {
		t.Error("no error for files with no architecture in common")
	}
}

// One architecture costs more in the fine space: the smallest is 4.30M MACs
// in the default space and 6.54M in fine, so only the default record fits
// 5M and both fit 7M.
func TestFrontierCountsMACsInTheRecordsSpace(t *testing.T) {
	small := search.Record{Arch: ofa.Default.Smallest(), Top1: 0.90, Images: 10000}
	fine := small
	fine.Space, fine.Top1 = "fine", 0.92
	big := search.Record{Arch: ofa.Default.Largest(), Top1: 0.95, Images: 10000}
	got, err := frontier([]search.Record{small, fine, big}, []int64{4e6, 5e6, 7e6, 40e6})
	if err != nil {
		t.Fatal(err)
	}
	want := []best{{0, 0}, {0.90, 1}, {0.92, 2}, {0.95, 3}}
	if len(got) != len(want) {
		t.Fatalf("%d budgets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("budget %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	var b strings.Builder
	printFrontiers(&b, []int64{4e6, 7e6}, []best{got[0], got[2]}, []best{got[0], {0.93, 1}})
	if want := "MACs <=  4.0M: best none -> none\nMACs <=  7.0M: best 92.00% (of 2) -> 93.00% (of 1), +1.00 points\n"; b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
}
