package data

import (
	"fmt"
	"runtime"
	"sync"
)

// A Classifier maps one image (res x res, normalised as in training) to
// its class scores.
type Classifier func(x []float32) ([]float32, error)

// Top1 is the share of the first n images of set (all of them when n <= 0
// or n is larger) whose highest score from a classifier is their label.
// Images go one at a time to one classifier per core, each made by
// newClassifier, so a classifier need not be safe for concurrent use. The
// first error stops the count.
func Top1(set *Dataset, res, n int, newClassifier func() (Classifier, error)) (float64, error) {
	if n <= 0 || n > set.Len() {
		n = set.Len()
	}
	if n == 0 {
		return 0, fmt.Errorf("top-1 of %s: the data set has no images", set.Name)
	}
	workers := runtime.GOMAXPROCS(0)
	correct := make([]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			classify, err := newClassifier()
			if err != nil {
				errs[w] = err
				return
			}
			ep := NewLoader(set, 1, false, 0).Epoch(0)
			x := make([]float32, res*res)
			labels := make([]int, 1)
			for i := w; i < n; i += workers {
				ep.Fill(i, res, x, labels)
				scores, err := classify(x)
				if err != nil {
					errs[w] = err
					return
				}
				best := 0
				for j, s := range scores {
					if s > scores[best] {
						best = j
					}
				}
				if best == labels[0] {
					correct[w]++
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for w := range correct {
		if errs[w] != nil {
			return 0, errs[w]
		}
		total += correct[w]
	}
	return float64(total) / float64(n), nil
}
