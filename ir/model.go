package ir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"

	"github.com/ofac-dev/ofac/internal/atomicfile"
)

// The model file holds one graph and its weights:
//
//	magic    8 bytes  "OFACMODL"
//	version  uint32   little-endian, ModelVersion
//	textLen  uint32   length of the text IR that follows
//	text     textLen bytes of canonical text IR (Print)
//	dataLen  uint64   length of the weight data that follows
//	data     every constant's elements in declaration order, little-endian
//	crc      uint32   CRC-32C (Castagnoli) of every byte before it
//
// Keeping the graph as text means a model can be read with `ofac inspect` or
// diffed after `strings`, and the one parser serves both forms.
const (
	modelMagic = "OFACMODL"
	// ModelVersion is the model file version this ofac writes and reads.
	ModelVersion = 1
	maxTextLen   = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeModel serialises a verified graph whose constants all carry data.
func EncodeModel(g *Graph) ([]byte, error) {
	if err := Verify(g); err != nil {
		return nil, fmt.Errorf("cannot save an invalid graph: %w", err)
	}
	text := Print(g)
	var data bytes.Buffer
	for _, c := range g.Consts {
		if c.Data == nil {
			return nil, fmt.Errorf("cannot save: constant %s has no data", c.Ref())
		}
		if err := binary.Write(&data, binary.LittleEndian, c.Data); err != nil {
			return nil, fmt.Errorf("cannot save constant %s: %w", c.Ref(), err)
		}
	}
	var b bytes.Buffer
	b.WriteString(modelMagic)
	binary.Write(&b, binary.LittleEndian, uint32(ModelVersion))
	binary.Write(&b, binary.LittleEndian, uint32(len(text)))
	b.WriteString(text)
	binary.Write(&b, binary.LittleEndian, uint64(data.Len()))
	b.Write(data.Bytes())
	binary.Write(&b, binary.LittleEndian, crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes(), nil
}

// DecodeModel reads a model file's bytes. Every failure is a one-line error
// saying what is wrong: not a model file, another version, truncated,
// corrupted, or an invalid graph.
func DecodeModel(b []byte) (*Graph, error) {
	if len(b) < len(modelMagic) || string(b[:len(modelMagic)]) != modelMagic {
		return nil, errors.New("not an ofac model file (it does not start with " + modelMagic + ")")
	}
	r := reader{b: b, pos: len(modelMagic)}
	version, err := r.uint32("version")
	if err != nil {
		return nil, err
	}
	if version != ModelVersion {
		return nil, fmt.Errorf("model file version %d is not supported (this ofac reads version %d)", version, ModelVersion)
	}
	textLen, err := r.uint32("text length")
	if err != nil {
		return nil, err
	}
	if textLen > maxTextLen {
		return nil, fmt.Errorf("model file is corrupted: text length %d is implausible", textLen)
	}
	text, err := r.bytes(uint64(textLen), "graph text")
	if err != nil {
		return nil, err
	}
	dataLen, err := r.uint64("weight length")
	if err != nil {
		return nil, err
	}
	data, err := r.bytes(dataLen, "weights")
	if err != nil {
		return nil, err
	}
	end := r.pos
	sum, err := r.uint32("checksum")
	if err != nil {
		return nil, err
	}
	if r.pos != len(b) {
		return nil, fmt.Errorf("model file is corrupted: %d unexpected bytes after the checksum", len(b)-r.pos)
	}
	if crc32.Checksum(b[:end], castagnoli) != sum {
		return nil, errors.New("model file is corrupted: checksum mismatch")
	}
	g, err := Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("model file holds an invalid graph: %w", err)
	}
	if err := fillConsts(g, data); err != nil {
		return nil, err
	}
	return g, nil
}

// fillConsts cuts the weight data into the graph's constants.
func fillConsts(g *Graph, data []byte) error {
	var need uint64
	for _, c := range g.Consts {
		need += uint64(c.Shape.NumElements()) * uint64(c.DType.Size())
	}
	if need != uint64(len(data)) {
		return fmt.Errorf("model file is corrupted: constants need %d bytes of weights, file has %d", need, len(data))
	}
	le := binary.LittleEndian
	for _, c := range g.Consts {
		n := c.Shape.NumElements()
		switch c.DType {
		case F32:
			d := make([]float32, n)
			for i := range d {
				d[i] = math.Float32frombits(le.Uint32(data[4*i:]))
			}
			c.Data = d
		case I32:
			d := make([]int32, n)
			for i := range d {
				d[i] = int32(le.Uint32(data[4*i:]))
			}
			c.Data = d
		case I8:
			d := make([]int8, n)
			for i := range d {
				d[i] = int8(data[i])
			}
			c.Data = d
		}
		data = data[n*c.DType.Size():]
	}
	return nil
}

type reader struct {
	b   []byte
	pos int
}

func (r *reader) bytes(n uint64, what string) ([]byte, error) {
	if n > uint64(len(r.b)-r.pos) {
		return nil, fmt.Errorf("model file is truncated: %s needs %d bytes, %d remain", what, n, len(r.b)-r.pos)
	}
	out := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return out, nil
}

func (r *reader) uint32(what string) (uint32, error) {
	b, err := r.bytes(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) uint64(what string) (uint64, error) {
	b, err := r.bytes(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// ReadModelFile reads and verifies a model file; errors start with the path.
func ReadModelFile(path string) (*Graph, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := DecodeModel(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// WriteModelFile saves g to path atomically: it writes a temporary file in
// the same folder and renames it, so a crash never leaves half a model.
func WriteModelFile(path string, g *Graph) error {
	b, err := EncodeModel(g)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b)
}
