package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
)

// Limits on a decoded image. A classifier input is tiny; the limits keep a
// hostile or corrupt header from demanding gigabytes.
const (
	maxImageSide   = 1 << 14
	maxImagePixels = 1 << 24
	maxImageBytes  = 64 << 20
)

// Gray is a single-channel image with float pixel values on the raw 0..255
// scale of the data set (0 = black), whatever the source file's depth.
type Gray struct {
	W, H int
	Pix  []float32 // row-major, H*W
}

// LoadImage reads a PGM (P2 or P5) or PNG file (grey or colour, converted to
// grey) and returns it as one Rows x Cols network input, normalised exactly
// like the training data: bilinear resize (see Resize) when the size
// differs, then Normalize. Fashion-MNIST garments are light on a black
// background; a photo of a dark object on white should be inverted first,
// which this function does not do.
func LoadImage(path string) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %s", path, openMsg(err))
	}
	defer f.Close()
	g, err := DecodeImage(f)
	if err != nil {
		return nil, fmt.Errorf("image %s: %v", path, err)
	}
	return g.Input(), nil
}

// Input returns g as a Rows x Cols normalised network input.
func (g *Gray) Input() []float32 {
	out := make([]float32, Rows*Cols)
	if g.W == Cols && g.H == Rows {
		for i, v := range g.Pix {
			out[i] = Normalize(v)
		}
		return out
	}
	newResizer(g.H, g.W, Rows, Cols).resize(out, g.Pix, make([]float32, g.H*Cols), true)
	return out
}

// DecodeImage decodes a PGM (P2 or P5) or PNG image, recognised by its
// magic bytes rather than a file name.
func DecodeImage(r io.Reader) (*Gray, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(8)
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return decodePNG(br)
	case len(head) >= 2 && head[0] == 'P' && (head[1] == '2' || head[1] == '5'):
		return ReadPGM(br)
	case len(head) == 0:
		return nil, errors.New("empty file")
	}
	return nil, fmt.Errorf("not a PGM (P2/P5) or PNG file (starts with %q)", head)
}

func decodePNG(r io.Reader) (*Gray, error) {
	// Read with a cap so the config check and the decode see the same bytes
	// without trusting the stream's length.
	buf, err := io.ReadAll(io.LimitReader(r, maxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("PNG: %v", err)
	}
	if len(buf) > maxImageBytes {
		return nil, fmt.Errorf("PNG: file larger than %d bytes", maxImageBytes)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("PNG: %v", err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, fmt.Errorf("PNG: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("PNG: %v", err)
	}
	b := img.Bounds()
	g := &Gray{W: b.Dx(), H: b.Dy(), Pix: make([]float32, b.Dx()*b.Dy())}
	if gi, ok := img.(*image.Gray); ok {
		for y := range g.H {
			for x, v := range gi.Pix[y*gi.Stride : y*gi.Stride+g.W] {
				g.Pix[y*g.W+x] = float32(v)
			}
		}
		return g, nil
	}
	// Gray16Model uses the ITU-R 601 luma weights on alpha-premultiplied
	// colour, so transparent areas turn black like the data set's
	// background. 16 bits keep 16-bit files' precision; /257 maps
	// 0..65535 onto 0..255 exactly for 8-bit sources.
	for y := range g.H {
		for x := range g.W {
			c := color.Gray16Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray16)
			g.Pix[y*g.W+x] = float32(c.Y) / 257
		}
	}
	return g, nil
}

func checkSize(w, h int) error {
	if w < 1 || h < 1 || w > maxImageSide || h > maxImageSide || w*h > maxImagePixels {
		return fmt.Errorf("size %dx%d out of range (1..%d per side, %d pixels)", w, h, maxImageSide, maxImagePixels)
	}
	return nil
}

// ReadPGM decodes one PGM image: P5 (binary, 1 byte per sample, or 2
// big-endian bytes when maxval > 255) or P2 (plain decimal text). Header
// fields may be separated by any whitespace and '#' comments. Samples are
// scaled from 0..maxval onto 0..255. Bytes after the image are ignored, as
// the format allows several images per file.
func ReadPGM(r io.Reader) (*Gray, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	p := pgmReader{br}
	var magic [2]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, errors.New("PGM: truncated magic")
	}
	if magic[0] != 'P' || (magic[1] != '2' && magic[1] != '5') {
		return nil, fmt.Errorf("PGM: bad magic %q, want P2 or P5", magic[:])
	}
	if c, err := br.Peek(1); err != nil || !(isSpace(c[0]) || c[0] == '#') {
		return nil, fmt.Errorf("PGM: no whitespace after magic %q", magic[:])
	}
	plain := magic[1] == '2'
	var hdr [3]int
	for i, name := range [3]string{"width", "height", "maxval"} {
		v, err := p.number(true)
		if err != nil {
			return nil, fmt.Errorf("PGM: %s: %v", name, err)
		}
		hdr[i] = v
	}
	w, h, maxval := hdr[0], hdr[1], hdr[2]
	if err := checkSize(w, h); err != nil {
		return nil, fmt.Errorf("PGM: %v", err)
	}
	if maxval < 1 || maxval > 65535 {
		return nil, fmt.Errorf("PGM: maxval %d out of range 1..65535", maxval)
	}
	n := w * h
	// Scaled in float64, where v*255/maxval is exact enough that maxval
	// maps to exactly 255 (float32 255/77*77 is 255.00002).
	scale := func(v int) float32 { return float32(float64(v) * 255 / float64(maxval)) }
	g := &Gray{W: w, H: h}
	if plain {
		// Grow with the samples that actually arrive, not with the header's
		// claim.
		g.Pix = make([]float32, 0, min(n, 1<<16))
		for i := range n {
			v, err := p.number(false)
			if err != nil {
				return nil, fmt.Errorf("PGM: sample %d of %d: %v", i, n, err)
			}
			if v > maxval {
				return nil, fmt.Errorf("PGM: sample %d is %d, above maxval %d", i, v, maxval)
			}
			g.Pix = append(g.Pix, scale(v))
		}
		return g, nil
	}
	// Exactly one whitespace byte separates maxval from binary data;
	// number stopped right after maxval's last digit.
	if c, err := br.ReadByte(); err != nil || !isSpace(c) {
		return nil, errors.New("PGM: no whitespace after maxval")
	}
	bps := 1
	if maxval > 255 {
		bps = 2
	}
	raw, err := readN(br, n*bps)
	if err != nil {
		return nil, fmt.Errorf("PGM: truncated: %dx%d needs %d data bytes, file has %d", w, h, n*bps, len(raw))
	}
	g.Pix = make([]float32, n)
	for i := range g.Pix {
		v := int(raw[i])
		if bps == 2 {
			v = int(raw[2*i])<<8 | int(raw[2*i+1])
		}
		if v > maxval {
			return nil, fmt.Errorf("PGM: sample %d is %d, above maxval %d", i, v, maxval)
		}
		g.Pix[i] = scale(v)
	}
	return g, nil
}

type pgmReader struct{ r *bufio.Reader }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// number skips whitespace and comments and reads a decimal number of at most
// 9 digits (so it fits an int with room to spare). It leaves the byte after
// the number unread. header is only for the message.
func (p pgmReader) number(header bool) (int, error) {
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			return 0, errors.New("unexpected end of file")
		}
		if isSpace(c) {
			continue
		}
		if c == '#' {
			// A comment runs to the end of the line.
			for c != '\n' && c != '\r' {
				if c, err = p.r.ReadByte(); err != nil {
					return 0, errors.New("unexpected end of file in comment")
				}
			}
			continue
		}
		if c < '0' || c > '9' {
			what := "sample"
			if header {
				what = "header field"
			}
			return 0, fmt.Errorf("%s starts with %q, want a decimal number", what, c)
		}
		v := int(c - '0')
		for digits := 1; ; digits++ {
			next, err := p.r.Peek(1)
			if err != nil || next[0] < '0' || next[0] > '9' {
				return v, nil
			}
			if digits == 9 {
				return 0, errors.New("number too long")
			}
			v = v*10 + int(next[0]-'0')
			p.r.ReadByte()
		}
	}
}
