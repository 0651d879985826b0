package ir_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/irtest"
)

const fixturePath = "testdata/mbv3_tiny.ofac"

// TestFixtureModelIsReproducible checks the shipped model against its
// generator byte for byte: same seed, same file.
func TestFixtureModelIsReproducible(t *testing.T) {
	g, err := irtest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	want, err := ir.EncodeModel(g)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := ir.WriteModelFile(fixturePath, g); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatalf("%v (run go test ./ir -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the fixture generator's output (%d vs %d bytes)", fixturePath, len(got), len(want))
	}
}

func TestModelRoundTrip(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		g := irtest.RandomGraph(rand.New(rand.NewPCG(seed, 3)))
		b, err := ir.EncodeModel(g)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ir.DecodeModel(b)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if diff := cmp.Diff(g, back); diff != "" {
			t.Fatalf("seed %d: decode(encode(g)) != g:\n%s", seed, diff)
		}
	}
}

func TestModelRejectsBadFiles(t *testing.T) {
	good, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := []byte("# ofac\n\nThe Once-for-All compiler.\n")
	wrongVersion := append([]byte(nil), good...)
	wrongVersion[8] = 9
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not a model", readme, "not an ofac model file"},
		{"empty", nil, "not an ofac model file"},
		{"wrong version", wrongVersion, "model file version 9 is not supported (this ofac reads version 1)"},
		{"truncated", good[:len(good)-100], "model file is truncated"},
		{"corrupted", flipped, "checksum mismatch"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), "unexpected bytes after the checksum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ir.DecodeModel(tc.data)
			if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), "1 unexpected", "unexpected"), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
		})
	}
	// Every truncation is an error, never a panic.
	for n := 0; n < len(good); n += 1 + n/8 {
		if _, err := ir.DecodeModel(good[:n]); err == nil {
			t.Fatalf("a model truncated to %d bytes was accepted", n)
		}
	}
}

func TestWriteModelFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.ofac")
	g, err := irtest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.WriteModelFile(path, g); err != nil {
		t.Fatal(err)
	}
	// A graph that cannot be saved must leave the old file untouched and no
	// temporary files behind.
	g.Consts[0].Data = nil
	if err := ir.WriteModelFile(path, g); err == nil {
		t.Fatal("saved a graph with a constant lacking data")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "m.ofac" {
		t.Fatalf("folder holds %v, want only m.ofac", entries)
	}
	if _, err := ir.ReadModelFile(path); err != nil {
		t.Fatalf("the earlier model no longer reads: %v", err)
	}
	// A write into a missing folder fails cleanly.
	if err := ir.WriteModelFile(filepath.Join(dir, "missing", "m.ofac"), g); err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}

func FuzzParseText(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.ir")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("ofac-ir 1\ngraph g\ninput %x : i8[1,2] q(axis=1 scale=[0.5,1] zp=[0,1])\noutput %x\n")
	f.Fuzz(func(t *testing.T, text string) {
		g, err := ir.Parse(text)
		if err != nil {
			return
		}
		// Whatever parses must print canonically and parse back the same.
		printed := ir.Print(g)
		again, err := ir.Parse(printed)
		if err != nil {
			t.Fatalf("printed form does not parse: %v\n%s", err, printed)
		}
		if ir.Print(again) != printed {
			t.Fatalf("printing is not stable:\n%s", printed)
		}
	})
}

func FuzzReadModel(f *testing.F) {
	// Seeds are the small golden graphs saved with weights: the fuzzer works
	// far better on kilobytes than on the half-megabyte fixture.
	for _, name := range []string{"random_7.ir", "random_int8.ir"} {
		g, err := goldens[name]()
		if err != nil {
			f.Fatal(err)
		}
		b, err := ir.EncodeModel(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("OFACMODL"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ir.DecodeModel(data)
		if err != nil {
			return
		}
		if _, err := ir.EncodeModel(g); err != nil {
			t.Fatalf("a model that reads does not write: %v", err)
		}
	})
}
