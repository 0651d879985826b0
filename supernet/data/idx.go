package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// IDX magic numbers for unsigned-byte files: 0x00 0x00, element type 0x08,
// then the number of dimensions.
const (
	MagicImages uint32 = 0x00000803 // N x rows x cols
	MagicLabels uint32 = 0x00000801 // N
)

// maxIDXBytes bounds the payload a header may announce. Fashion-MNIST's
// largest file holds 47 MB; the bound keeps a corrupt header from asking for
// terabytes and keeps the size arithmetic far from overflow.
const maxIDXBytes = 1 << 30

// IDX is a decoded unsigned-byte IDX file.
type IDX struct {
	Magic uint32 // 0x000008NN, NN = len(Dims)
	Dims  []int  // outermost first
	Data  []byte // row-major, len = product of Dims
}

// FileError is the error for a data file: one line, naming the file and what
// is wrong with it. Err, when set, is the underlying cause (fs.ErrNotExist
// for a missing file, so errors.Is works).
type FileError struct {
	Path string
	Msg  string
	Err  error
}

func (e *FileError) Error() string { return "fashion-mnist: " + e.Path + ": " + e.Msg }

// Unwrap returns the underlying cause, if any.
func (e *FileError) Unwrap() error { return e.Err }

// ReadIDX decodes an unsigned-byte IDX stream. The stream may be gzip
// compressed; that is recognised by its magic bytes (1f 8b), not by the file
// name, so renamed or pre-decompressed files work too. The payload must be
// exactly as long as the header says: a short stream, trailing bytes or a
// gzip checksum failure are errors. Errors do not name the file; the
// *File functions add the path.
//
// ReadIDX never allocates much more than the stream actually delivers, so a
// header that lies about its size cannot exhaust memory.
func ReadIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(2)
	if len(head) == 0 {
		if err == io.EOF || err == nil {
			return nil, errors.New("empty file")
		}
		return nil, err
	}
	var src io.Reader = br
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("bad gzip header: %v", err)
		}
		defer zr.Close()
		src = zr
	}

	var hdr [4]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return nil, readErr("header", err)
	}
	magic := binary.BigEndian.Uint32(hdr[:])
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, fmt.Errorf("bad magic 0x%08x: not an IDX file", magic)
	}
	if hdr[2] != 0x08 {
		return nil, fmt.Errorf("bad magic 0x%08x: element type 0x%02x, only unsigned byte (0x08) is supported", magic, hdr[2])
	}
	nd := int(hdr[3])
	if nd == 0 {
		return nil, fmt.Errorf("bad magic 0x%08x: zero dimensions", magic)
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(src, raw); err != nil {
		return nil, readErr("dimensions", err)
	}
	dims := make([]int, nd)
	size := 1
	for i := range dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		dims[i] = int(d)
		// Checked before multiplying, so size stays <= maxIDXBytes and
		// can never overflow.
		if d != 0 && size > maxIDXBytes/int(d) {
			return nil, fmt.Errorf("dimensions %v exceed %d bytes", dimsOf(raw), maxIDXBytes)
		}
		size *= int(d)
	}
	data, err := readN(src, size)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("truncated: dimensions %v need %d data bytes, file has %d", dims, size, len(data))
		}
		return nil, readErr("data", err)
	}
	// Reading to the end also makes gzip verify its checksum and length.
	var one [1]byte
	switch n, err := io.ReadFull(src, one[:]); {
	case n > 0:
		return nil, fmt.Errorf("trailing data after the %d bytes that dimensions %v describe", size, dims)
	case err != io.EOF:
		return nil, readErr("end of data", err)
	}
	return &IDX{Magic: magic, Dims: dims, Data: data}, nil
}

// dimsOf decodes the raw dimension words for an error message.
func dimsOf(raw []byte) []uint32 {
	d := make([]uint32, len(raw)/4)
	for i := range d {
		d[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return d
}

// readErr turns a read failure into a one-line message.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated %s", what)
	}
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		return fmt.Errorf("corrupt gzip data (%s): %v", what, err)
	}
	return fmt.Errorf("reading %s: %v", what, err)
}

// readN reads exactly n bytes. The buffer grows geometrically with what has
// actually arrived rather than being sized from n up front, so a lying header
// costs at most twice the real input in memory.
func readN(r io.Reader, n int) ([]byte, error) {
	const first = 1 << 20
	buf := make([]byte, 0, min(n, first))
	for len(buf) < n {
		want := min(n, max(2*len(buf), first))
		buf = slices.Grow(buf, want-len(buf))
		got, err := io.ReadFull(r, buf[len(buf):want])
		buf = buf[:len(buf)+got]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// Images is a decoded IDX image file: N images of Rows x Cols bytes,
// row-major, 0 = background.
type Images struct {
	N, Rows, Cols int
	Pix           []uint8
}

// ReadImages decodes an IDX image stream (magic 0x00000803, non-empty
// images).
func ReadImages(r io.Reader) (*Images, error) {
	x, err := ReadIDX(r)
	if err != nil {
		return nil, err
	}
	if x.Magic != MagicImages {
		return nil, fmt.Errorf("magic 0x%08x has %d dimensions, want an image file (0x%08x, 3 dimensions)", x.Magic, len(x.Dims), MagicImages)
	}
	if x.Dims[1] == 0 || x.Dims[2] == 0 {
		return nil, fmt.Errorf("images are %dx%d, want non-empty", x.Dims[1], x.Dims[2])
	}
	return &Images{N: x.Dims[0], Rows: x.Dims[1], Cols: x.Dims[2], Pix: x.Data}, nil
}

// ReadLabels decodes an IDX label stream (magic 0x00000801) and checks every
// label is a class in 0..NumClasses-1.
func ReadLabels(r io.Reader) ([]uint8, error) {
	x, err := ReadIDX(r)
	if err != nil {
		return nil, err
	}
	if x.Magic != MagicLabels {
		return nil, fmt.Errorf("magic 0x%08x has %d dimensions, want a label file (0x%08x, 1 dimension)", x.Magic, len(x.Dims), MagicLabels)
	}
	for i, l := range x.Data {
		if int(l) >= NumClasses {
			return nil, fmt.Errorf("label %d at index %d out of range 0..%d", l, i, NumClasses-1)
		}
	}
	return x.Data, nil
}

// ReadImagesFile reads an IDX image file, gzip-compressed or plain.
func ReadImagesFile(path string) (*Images, error) {
	var im *Images
	err := withFile(path, func(r io.Reader) (err error) {
		im, err = ReadImages(r)
		return err
	})
	return im, err
}

// ReadLabelsFile reads an IDX label file, gzip-compressed or plain.
func ReadLabelsFile(path string) ([]uint8, error) {
	var l []uint8
	err := withFile(path, func(r io.Reader) (err error) {
		l, err = ReadLabels(r)
		return err
	})
	return l, err
}

// withFile opens path, runs read on it and wraps any failure in a
// *FileError naming path.
func withFile(path string, read func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return openErr(path, err)
	}
	defer f.Close()
	if err := read(f); err != nil {
		return &FileError{Path: path, Msg: err.Error(), Err: err}
	}
	return nil
}

// openErr describes a failed open without repeating the path that
// *os.PathError would add.
func openErr(path string, err error) error {
	return &FileError{Path: path, Msg: openMsg(err), Err: err}
}

func openMsg(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
