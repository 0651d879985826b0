package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// idxBytes builds an IDX file: magic, dimensions, payload, optionally
// gzip-compressed.
func idxBytes(magic uint32, dims []uint32, payload []byte, gz bool) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(payload)
	if !gz {
		return b.Bytes()
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b.Bytes())
	w.Close()
	return z.Bytes()
}

// fixture is a small synthetic data set whose pixels encode the image index
// (see fixtureIndex), so tests can tell which image landed where.
type fixture struct {
	pix    []byte
	labels []byte
}

func makeFixture(n, rows, cols int) fixture {
	f := fixture{pix: make([]byte, n*rows*cols), labels: make([]byte, n)}
	for i := range n {
		f.labels[i] = byte(i % NumClasses)
		img := f.pix[i*rows*cols : (i+1)*rows*cols]
		for p := range img {
			img[p] = byte(i*7 + p*3)
		}
		// The first two pixels spell the index.
		img[0] = byte(i)
		if len(img) > 1 {
			img[1] = byte(i >> 8)
		}
	}
	return f
}

// writeDataDir writes a Fashion-MNIST-shaped folder with nTrain and nTest
// images of 28x28 into a temporary directory.
func writeDataDir(t *testing.T, nTrain, nTest int, gz bool) string {
	t.Helper()
	dir := t.TempDir()
	tr, te := makeFixture(nTrain, Rows, Cols), makeFixture(nTest, Rows, Cols)
	files := []struct {
		name  string
		magic uint32
		dims  []uint32
		data  []byte
	}{
		{TrainImagesFile, MagicImages, []uint32{uint32(nTrain), Rows, Cols}, tr.pix},
		{TrainLabelsFile, MagicLabels, []uint32{uint32(nTrain)}, tr.labels},
		{TestImagesFile, MagicImages, []uint32{uint32(nTest), Rows, Cols}, te.pix},
		{TestLabelsFile, MagicLabels, []uint32{uint32(nTest)}, te.labels},
	}
	for _, f := range files {
		name := f.name
		if !gz {
			name = name[:len(name)-len(".gz")]
		}
		writeFile(t, filepath.Join(dir, name), idxBytes(f.magic, f.dims, f.data, gz))
	}
	return dir
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testDataset is an in-memory data set for loader tests.
func testDataset(n, rows, cols int) *Dataset {
	f := makeFixture(n, rows, cols)
	return &Dataset{Name: "test", Rows: rows, Cols: cols, Pix: f.pix, Labels: f.labels}
}

func newTestPCG() *rand.PCG { return rand.NewPCG(1, 2) }

// fixtureIndex decodes the index of a fixture image.
func fixtureIndex(img []uint8) int { return int(img[0]) | int(img[1])<<8 }
