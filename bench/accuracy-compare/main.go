// Command accuracy-compare matches the subnets of two accuracy-data files
// (`ofac accuracy-data`, the same --seed on two supernets) by architecture
// and prints how the second differs from the first: overall, per input
// resolution, and the best subnet of each resolution in both. MODELS.md's
// comparisons of one shipped supernet's accuracy data with the next come
// from it.
//
//	git show 77b926a:models/accuracy.jsonl > old.jsonl
//	go run ./bench/accuracy-compare old.jsonl models/accuracy.jsonl
package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/ofac-dev/ofac/search"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: accuracy-compare OLD.jsonl NEW.jsonl")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "accuracy-compare:", err)
		os.Exit(1)
	}
}

func run(oldPath, newPath string, w io.Writer) error {
	var files [2][]search.Record
	for i, p := range []string{oldPath, newPath} {
		recs, err := search.ReadRecords(p)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return fmt.Errorf("%s: no accuracy records (missing or empty)", p)
		}
		files[i] = recs
	}
	c, err := compare(files[0], files[1])
	if err != nil {
		return err
	}
	c.print(w)
	return nil
}

// group sums the differences (new - old, in points of top-1) of a set of
// matched subnets and keeps the best of each side.
type group struct {
	n, gained        int
	sum, min, max    float64
	bestOld, bestNew float64
}

func (g *group) add(old, new float64) {
	d := 100 * (new - old)
	if g.n == 0 || d < g.min {
		g.min = d
	}
	if g.n == 0 || d > g.max {
		g.max = d
	}
	g.n++
	g.sum += d
	if d > 0 {
		g.gained++
	}
	g.bestOld = math.Max(g.bestOld, old)
	g.bestNew = math.Max(g.bestNew, new)
}

type comparison struct {
	all   group
	byRes map[int]*group
}

// compare matches the records by architecture (the JSON form that
// accuracy-data writes, unused blocks canonical); a subnet in only one file
// is left out, and none in common is an error.
func compare(old, new []search.Record) (*comparison, error) {
	oldTop1 := map[string]float64{}
	for _, r := range old {
		oldTop1[r.Arch.JSON()] = r.Top1
	}
	c := &comparison{byRes: map[int]*group{}}
	for _, r := range new {
		o, ok := oldTop1[r.Arch.JSON()]
		if !ok {
			continue
		}
		g := c.byRes[r.Arch.R]
		if g == nil {
			g = &group{}
			c.byRes[r.Arch.R] = g
		}
		g.add(o, r.Top1)
		c.all.add(o, r.Top1)
	}
	if c.all.n == 0 {
		return nil, errors.New("the two files have no architecture in common")
	}
	return c, nil
}

func (c *comparison) print(w io.Writer) {
	line := func(name string, g *group) {
		fmt.Fprintf(w, "%-6s %4d subnets, %3d gained, mean %+.2f, min %+.2f, max %+.2f points; best %.2f%% -> %.2f%%\n",
			name, g.n, g.gained, g.sum/float64(g.n), g.min, g.max, 100*g.bestOld, 100*g.bestNew)
	}
	line("all", &c.all)
	var res []int
	for r := range c.byRes {
		res = append(res, r)
	}
	sort.Ints(res)
	for _, r := range res {
		line(fmt.Sprintf("r%d", r), c.byRes[r])
	}
}
