package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// pgm builds a P5 (binary) or P2 (plain) PGM.
func pgm(plain bool, w, h, maxval int, samples []int) []byte {
	var b bytes.Buffer
	if plain {
		fmt.Fprintf(&b, "P2\n# a comment\n%d %d\n%d\n", w, h, maxval)
		for i, s := range samples {
			fmt.Fprintf(&b, "%d", s)
			if i%w == w-1 {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		return b.Bytes()
	}
	fmt.Fprintf(&b, "P5 %d %d %d\n", w, h, maxval)
	for _, s := range samples {
		if maxval > 255 {
			b.WriteByte(byte(s >> 8))
		}
		b.WriteByte(byte(s))
	}
	return b.Bytes()
}

func TestReadPGM(t *testing.T) {
	samples := []int{0, 1, 2, 3, 4, 5}
	for _, tc := range []struct {
		plain  bool
		maxval int
	}{{false, 255}, {true, 255}, {false, 5}, {true, 5}, {false, 1000}, {true, 65535}} {
		g, err := ReadPGM(bytes.NewReader(pgm(tc.plain, 3, 2, tc.maxval, samples)))
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if g.W != 3 || g.H != 2 {
			t.Fatalf("%+v: size %dx%d", tc, g.W, g.H)
		}
		for i, s := range samples {
			want := float64(s) * 255 / float64(tc.maxval)
			if math.Abs(float64(g.Pix[i])-want) > 1e-4 {
				t.Errorf("%+v: pixel %d = %v, want %v", tc, i, g.Pix[i], want)
			}
		}
	}
	// maxval maps to exactly 255 whatever maxval is.
	for _, m := range []int{1, 3, 77, 254, 255, 256, 1000, 65535} {
		for _, plain := range []bool{false, true} {
			g, err := ReadPGM(bytes.NewReader(pgm(plain, 1, 1, m, []int{m})))
			if err != nil || g.Pix[0] != 255 {
				t.Errorf("maxval %d plain %v: %v, %v; want 255", m, plain, g, err)
			}
		}
	}
	// Comments between every header field.
	g, err := ReadPGM(strings.NewReader("P5#c\n2#c\n1 #c\n255\nAB"))
	if err != nil || g.W != 2 || g.H != 1 || g.Pix[0] != 'A' || g.Pix[1] != 'B' {
		t.Errorf("commented header: %+v, %v", g, err)
	}
}

func TestReadPGMErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "truncated magic"},
		{"P6 1 1 255\n\x00", "bad magic \"P6\""},
		{"P5 1 1", "maxval: unexpected end of file"},
		{"P21 1 255\n0", "no whitespace after magic \"P2\""},
		{"P5 0 1 255\n", "size 0x1 out of range"},
		{"P5 100000 100000 255\n", "size 100000x100000 out of range"},
		{"P5 1 1 0\n", "maxval 0 out of range"},
		{"P5 1 1 70000\n", "maxval 70000 out of range"},
		{"P5 2 2 255\n\x00\x01\x02", "truncated: 2x2 needs 4 data bytes, file has 3"},
		{"P5 1 1 100\n\xff", "sample 0 is 255, above maxval 100"},
		{"P5 1 1 255x\x00", "no whitespace after maxval"},
		{"P2 2 1 255\n1 x", "sample 1 of 2: sample starts with 'x'"},
		{"P2 2 1 255\n1", "sample 1 of 2: unexpected end of file"},
		{"P2 1 1 9\n10", "sample 0 is 10, above maxval 9"},
		{"P2 1 1 1234567890", "number too long"},
		{"P2 -1 1 255\n", "width: header field starts with '-'"},
		{"P2 1 1 255 # no end", "unexpected end of file in comment"},
	} {
		_, err := ReadPGM(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line containing %q", tc.in, err, tc.want)
		}
	}
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodePNG(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range gray.Pix {
		gray.Pix[i] = byte(40 * i)
	}
	g, err := DecodeImage(bytes.NewReader(encodePNG(t, gray)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range gray.Pix {
		if g.Pix[i] != float32(40*i) {
			t.Errorf("grey pixel %d = %v, want %d", i, g.Pix[i], 40*i)
		}
	}
	// Colour becomes luma; equal channels stay exact.
	rgba := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	rgba.Set(0, 0, color.NRGBA{200, 200, 200, 255})
	rgba.Set(1, 0, color.NRGBA{255, 0, 0, 255})
	g, err = DecodeImage(bytes.NewReader(encodePNG(t, rgba)))
	if err != nil {
		t.Fatal(err)
	}
	if g.Pix[0] != 200 || math.Abs(float64(g.Pix[1])-0.299*255) > 0.5 {
		t.Errorf("colour pixels %v, want 200 and about %v", g.Pix, 0.299*255)
	}
	// 16-bit grey keeps its precision.
	g16 := image.NewGray16(image.Rect(0, 0, 1, 1))
	g16.SetGray16(0, 0, color.Gray16{Y: 257*100 + 128})
	g, err = DecodeImage(bytes.NewReader(encodePNG(t, g16)))
	if err != nil || math.Abs(float64(g.Pix[0])-(100+128.0/257)) > 1e-4 {
		t.Errorf("16-bit pixel %v, %v", g.Pix, err)
	}
}

func TestLoadImage(t *testing.T) {
	dir := t.TempDir()
	// A 28x28 PGM comes back normalised, pixel for pixel.
	samples := make([]int, Rows*Cols)
	for i := range samples {
		samples[i] = i % 256
	}
	path := filepath.Join(dir, "a.pgm")
	writeFile(t, path, pgm(false, Cols, Rows, 255, samples))
	x, err := LoadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range samples {
		if x[i] != normLUT[s] {
			t.Fatalf("pixel %d = %v, want %v", i, x[i], normLUT[s])
		}
	}
	// A constant 56x40 PNG is resized to a constant 28x28.
	big := image.NewGray(image.Rect(0, 0, 40, 56))
	for i := range big.Pix {
		big.Pix[i] = 77
	}
	path = filepath.Join(dir, "b.png")
	writeFile(t, path, encodePNG(t, big))
	x, err = LoadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != Rows*Cols {
		t.Fatalf("%d values, want %d", len(x), Rows*Cols)
	}
	for i, v := range x {
		if v != normLUT[77] {
			t.Fatalf("pixel %d = %v, want %v", i, v, normLUT[77])
		}
	}
	// Errors name the file.
	for name, content := range map[string][]byte{
		"bad.pgm":  []byte("P5 1 1 0\n"),
		"text.txt": []byte("hello"),
		"empty":    nil,
		"bad.png":  []byte("\x89PNG\r\n\x1a\nxxxxxxxxxxxx"),
	} {
		path := filepath.Join(dir, name)
		writeFile(t, path, content)
		if _, err := LoadImage(path); err == nil || !strings.HasPrefix(err.Error(), "image "+path+": ") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	missing := filepath.Join(dir, "missing.png")
	if _, err := LoadImage(missing); err == nil || err.Error() != "image "+missing+": no such file" {
		t.Errorf("missing: error %v", err)
	}
}
