// Command curve draws a training learning curve (the CSV that
// `ofac train --csv` writes) as an SVG: train and validation accuracy per
// epoch, with the epochs of every phase numbered in order.
//
//	go run ./bench/curve -in run.csv -out run.svg -title "largest from scratch"
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

func main() {
	in := flag.String("in", "", "learning-curve CSV from ofac train --csv")
	out := flag.String("out", "curve.svg", "SVG to write")
	title := flag.String("title", "learning curve", "plot title")
	flag.Parse()
	if err := run(*in, *out, *title); err != nil {
		fmt.Fprintln(os.Stderr, "curve:", err)
		os.Exit(1)
	}
}

func run(in, out, title string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %v", in, err)
	}
	if len(rows) < 2 {
		return fmt.Errorf("%s: no epochs", in)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, need := range []string{"train_acc", "val_acc"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("%s: no %s column", in, need)
		}
	}
	var train, val plotter.XYs
	for i, r := range rows[1:] {
		ta, err1 := strconv.ParseFloat(r[col["train_acc"]], 64)
		va, err2 := strconv.ParseFloat(r[col["val_acc"]], 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%s: line %d: bad number", in, i+2)
		}
		train = append(train, plotter.XY{X: float64(i + 1), Y: 100 * ta})
		val = append(val, plotter.XY{X: float64(i + 1), Y: 100 * va})
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "top-1 accuracy (%)"
	p.Add(plotter.NewGrid())
	if err := plotutil.AddLinePoints(p, "train (augmented)", train, "validation (10k held out)", val); err != nil {
		return err
	}
	p.Legend.Top = false // curves rise to the top
	p.Legend.Left = false
	return p.Save(6*vg.Inch, 4*vg.Inch, out)
}
