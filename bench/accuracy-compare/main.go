// Command accuracy-compare matches the subnets of two accuracy-data files
// (`ofac accuracy-data`, the same --seed on two supernets) by architecture
// and prints how the second differs from the first: overall, per input
// resolution, and the best subnet of each resolution in both. MODELS.md's
// comparisons of one shipped supernet's accuracy data with the next come
// from it. It also prints, for a ladder of MAC budgets, the best subnet of
// each file within the budget, each counted in its own search space (named
// by the records, default where they name none): one architecture costs
// more MACs in the fine space than in the default one, so a comparison by
// architecture alone hides what a search under a budget gets.
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
	"github.com/ofac-dev/ofac/supernet/ofa"
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
	var fronts [2][]best
	for i := range files {
		if fronts[i], err = frontier(files[i], macBudgets); err != nil {
			return err
		}
	}
	printFrontiers(w, macBudgets, fronts[0], fronts[1])
	return nil
}

// macBudgets spans the spaces' subnets, from below the default space's
// smallest (4.3M MACs) to above the fine space's largest (32.5M).
var macBudgets = []int64{5e6, 6e6, 7e6, 8e6, 10e6, 12e6, 15e6, 20e6, 25e6, 35e6}

// best is the most accurate subnet of a file within one MAC budget, and how
// many of the file's subnets fit that budget.
type best struct {
	top1 float64
	n    int
}

// frontier returns, per budget, the best record whose subnet's MACs, in
// the space the record names (default where it names none), fit it.
func frontier(recs []search.Record, budgets []int64) ([]best, error) {
	nets := map[string]*ofa.Net{}
	out := make([]best, len(budgets))
	for _, r := range recs {
		name := r.Space
		if name == "" {
			name = "default"
		}
		net := nets[name]
		if net == nil {
			net = ofa.New(ofa.Spaces[name], 0)
			nets[name] = net
		}
		if err := net.Space.Validate(r.Arch); err != nil {
			return nil, fmt.Errorf("a record of the %s space: %v", name, err)
		}
		macs := net.MACs(r.Arch)
		for i, b := range budgets {
			if macs <= b {
				out[i].n++
				out[i].top1 = math.Max(out[i].top1, r.Top1)
			}
		}
	}
	return out, nil
}

func printFrontiers(w io.Writer, budgets []int64, old, new []best) {
	side := func(b best) string {
		if b.n == 0 {
			return "none"
		}
		return fmt.Sprintf("%.2f%% (of %d)", 100*b.top1, b.n)
	}
	for i, b := range budgets {
		diff := ""
		if old[i].n > 0 && new[i].n > 0 {
			diff = fmt.Sprintf(", %+.2f points", 100*(new[i].top1-old[i].top1))
		}
		fmt.Fprintf(w, "MACs <= %4.1fM: best %s -> %s%s\n", float64(b)/1e6, side(old[i]), side(new[i]), diff)
	}
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
