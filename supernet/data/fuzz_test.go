package data

import (
	"bytes"
	"testing"
)

// FuzzReadIDX: any input yields either a consistent IDX or an error, never a
// panic, hang or outsized allocation.
func FuzzReadIDX(f *testing.F) {
	for _, gz := range []bool{false, true} {
		f.Add(idxBytes(MagicImages, []uint32{2, 3, 3}, make([]byte, 18), gz))
		f.Add(idxBytes(MagicLabels, []uint32{4}, []byte{0, 1, 9, 3}, gz))
		f.Add(idxBytes(MagicLabels, []uint32{4}, []byte{0, 1}, gz))
		f.Add(idxBytes(0x00000802, []uint32{2, 2}, []byte{1, 2, 3, 4}, gz))
		f.Add(idxBytes(MagicImages, []uint32{1 << 20, 1 << 10, 1 << 10}, nil, gz))
	}
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			return
		}
		size := 1
		for _, d := range x.Dims {
			size *= d
		}
		if len(x.Data) != size || len(x.Dims) != int(x.Magic&0xff) {
			t.Fatalf("inconsistent result: magic %#x dims %v, %d bytes", x.Magic, x.Dims, len(x.Data))
		}
		// The typed readers must not panic either.
		ReadImages(bytes.NewReader(b))
		ReadLabels(bytes.NewReader(b))
	})
}

// FuzzReadPGM: any input yields a consistent image or an error.
func FuzzReadPGM(f *testing.F) {
	f.Add(pgm(false, 3, 2, 255, []int{0, 1, 2, 3, 4, 255}))
	f.Add(pgm(true, 3, 2, 255, []int{0, 1, 2, 3, 4, 255}))
	f.Add(pgm(false, 2, 1, 65535, []int{0, 65535}))
	f.Add(pgm(true, 2, 1, 7, []int{0, 7}))
	f.Add([]byte("P5 4000 4000 255\n"))
	f.Add([]byte("P2 # c\n1 1 1\n1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ReadPGM(bytes.NewReader(b))
		if err != nil {
			return
		}
		if g.W < 1 || g.H < 1 || len(g.Pix) != g.W*g.H {
			t.Fatalf("inconsistent image %dx%d with %d pixels", g.W, g.H, len(g.Pix))
		}
		for i, v := range g.Pix {
			if !(v >= 0 && v <= 255) {
				t.Fatalf("pixel %d = %v outside 0..255", i, v)
			}
		}
		// And the network input built from it is well formed.
		if len(g.Input()) != Rows*Cols {
			t.Fatal("wrong input size")
		}
	})
}
