// Command predict prints an accuracy predictor's top-1 for chosen subnets,
// to set it beside what `ofac eval --split val` measures: the search sees
// only the prediction, so a subnet it passes over may be one the predictor
// misranks (MODELS.md, ps16: the smallest subnet at 24 pixels under
// mcu-m7 at 80 ms).
//
//	go run ./bench/predict models/predictor.json smallest random:3 arch.json
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ofac-dev/ofac/search"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: predict PREDICTOR.json ARCH... (largest, smallest, random:SEED or a JSON file)")
		os.Exit(2)
	}
	if err := predict(os.Stdout, os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "predict:", err)
		os.Exit(1)
	}
}

// predict writes one line per arch: the choice as given and the
// predicted top-1 in percent.
func predict(w io.Writer, predictor string, choices []string) error {
	p, err := search.LoadPredictor(predictor)
	if err != nil {
		return err
	}
	for _, c := range choices {
		a, err := p.Space.ResolveArch(c)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%.2f%%\n", c, 100*p.Predict(a))
	}
	return nil
}
