package data

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadIDXRoundTrip(t *testing.T) {
	payload := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, gz := range []bool{false, true} {
		x, err := ReadIDX(bytes.NewReader(idxBytes(MagicImages, []uint32{2, 3, 2}, payload, gz)))
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if x.Magic != MagicImages || len(x.Dims) != 3 || x.Dims[0] != 2 || x.Dims[1] != 3 || x.Dims[2] != 2 || !bytes.Equal(x.Data, payload) {
			t.Errorf("gz=%v: got %+v", gz, x)
		}
	}
}

func TestReadIDXLarge(t *testing.T) {
	// Bigger than readN's first chunk, to exercise buffer growth.
	payload := make([]byte, 3<<20+17)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	x, err := ReadIDX(bytes.NewReader(idxBytes(MagicImages, []uint32{uint32(len(payload)), 1, 1}, payload, true)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Data, payload) {
		t.Fatal("payload mismatch")
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes(MagicLabels, []uint32{4}, []byte{0, 1, 2, 9}, true)
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-8] ^= 0xff // CRC-32 in the gzip trailer
	tests := []struct {
		name, want string
		file       []byte
		labels     bool
	}{
		{"empty", "empty file", nil, false},
		{"short header", "truncated header", []byte{0, 0, 8}, false},
		{"bad magic", "bad magic 0x12345678: not an IDX file", []byte{0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0}, false},
		{"element type", "element type 0x0d", idxBytes(0x00000d01, []uint32{1}, []byte{0, 0, 0, 0}, false), false},
		{"zero dims", "zero dimensions", idxBytes(0x00000800, nil, nil, false), false},
		{"short dims", "truncated dimensions", idxBytes(MagicImages, []uint32{1, 28}, nil, false), false},
		{"short data", "truncated: dimensions [2 2 2] need 8 data bytes, file has 5", idxBytes(MagicImages, []uint32{2, 2, 2}, []byte{1, 2, 3, 4, 5}, true), false},
		{"trailing", "trailing data after the 1 bytes", idxBytes(MagicLabels, []uint32{1}, []byte{1, 2}, false), true},
		{"huge", "exceed", idxBytes(MagicImages, []uint32{1 << 20, 1 << 10, 1 << 10}, nil, false), false},
		{"overflow", "exceed", idxBytes(0x000008ff, slices.Repeat([]uint32{0xffffffff}, 255), nil, false), false},
		{"labels as images", "want an image file (0x00000803", good, false},
		{"images as labels", "want a label file (0x00000801", idxBytes(MagicImages, []uint32{1, 1, 1}, []byte{0}, false), true},
		{"empty images", "images are 0x5", idxBytes(MagicImages, []uint32{1, 0, 5}, nil, false), false},
		{"label range", "label 10 at index 2 out of range 0..9", idxBytes(MagicLabels, []uint32{3}, []byte{0, 9, 10}, false), true},
		{"gzip checksum", "corrupt gzip data", corrupt, true},
		{"gzip header", "bad gzip header", []byte{0x1f, 0x8b, 0}, false},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			writeFile(t, path, tc.file)
			var err error
			if tc.labels {
				_, err = ReadLabelsFile(path)
			} else {
				_, err = ReadImagesFile(path)
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "fashion-mnist: "+path+": ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line naming %s and containing %q", msg, path, tc.want)
			}
		})
	}
}

func TestReadFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.gz")
	_, err := ReadImagesFile(path)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "fashion-mnist: "+path+": no such file" {
		t.Errorf("got %v", err)
	}
}
