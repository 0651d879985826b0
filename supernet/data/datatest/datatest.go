// Package datatest writes small synthetic data sets in the Fashion-MNIST
// file layout, so training and CLI tests run without the real data set.
package datatest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/ofac-dev/ofac/supernet/data"
)

// Write creates the four gzip IDX files in dir with train and test images.
// Each class is a bright bar at its own position plus noise, so a network
// can learn it in a few steps.
func Write(dir string, train, test int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, set := range []struct {
		images, labels string
		n              int
	}{{data.TrainImagesFile, data.TrainLabelsFile, train}, {data.TestImagesFile, data.TestLabelsFile, test}} {
		pix := make([]byte, set.n*data.Rows*data.Cols)
		labels := make([]byte, set.n)
		for i := range labels {
			c := rng.IntN(data.NumClasses)
			labels[i] = byte(c)
			img := pix[i*data.Rows*data.Cols : (i+1)*data.Rows*data.Cols]
			for p := range img {
				img[p] = byte(rng.IntN(40))
			}
			row := 2 + c*2
			for y := row; y < row+3; y++ {
				for x := 4; x < 24; x++ {
					img[y*data.Cols+x] = byte(180 + rng.IntN(60))
				}
			}
		}
		if err := writeIDX(filepath.Join(dir, set.images), data.MagicImages, []int{set.n, data.Rows, data.Cols}, pix); err != nil {
			return err
		}
		if err := writeIDX(filepath.Join(dir, set.labels), data.MagicLabels, []int{set.n}, labels); err != nil {
			return err
		}
	}
	return nil
}

func writeIDX(path string, magic uint32, dims []int, payload []byte) error {
	var raw bytes.Buffer
	binary.Write(&raw, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&raw, binary.BigEndian, uint32(d))
	}
	raw.Write(payload)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(raw.Bytes())
	if err := w.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, gz.Bytes(), 0o644)
}
