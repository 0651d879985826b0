package ofa

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCountMatchesReferenceScale(t *testing.T) {
	// (9^2 + 9^3 + 9^4)^5 subnets per resolution, as in the reference space.
	if got, want := Default.Count().String(), "21758655492572485851"; got != want {
		t.Fatalf("count = %s, want prefix %s", got, want)
	}
	if len(Default.Count().String()) < 20 { // >= 10^19
		t.Fatalf("count %s is below 10^19", Default.Count())
	}
}

func TestNamedArchs(t *testing.T) {
	for _, name := range []string{"largest", "smallest", "random:0", "random:12345"} {
		a, err := Default.ResolveArch(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := Default.Validate(a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	l, _ := Default.ResolveArch("largest")
	if l.KS[0] != 7 || l.E[0] != 6 || l.D[0] != 4 || l.R != 28 {
		t.Fatalf("largest = %s", l.JSON())
	}
	a, _ := Default.ResolveArch("random:7")
	b, _ := Default.ResolveArch("random:7")
	if a.JSON() != b.JSON() {
		t.Fatal("random:7 is not deterministic")
	}
}

func TestParseArchErrors(t *testing.T) {
	good := Default.Largest().JSON()
	tests := []struct{ text, want string }{
		{`{"ks": [7]}`, `"ks" has 1 entries, want 20`},
		{strings.Replace(good, `"r":28`, `"r":30`, 1), `"r" is 30, want one of 20, 24, 28, 32`},
		{strings.Replace(good, `"d":[4,`, `"d":[5,`, 1), `"d"[0] is 5, want one of 2, 3, 4`},
		{`{"ks": [7], "depth": 3}`, `unknown field "depth"`},
		{`not json`, `not a valid spec`},
		{good + `{}`, `unexpected data after`},
	}
	for _, tc := range tests {
		_, err := Default.ParseArch([]byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseArch(%.40q) error = %v, want %q", tc.text, err, tc.want)
		}
	}
	if _, err := Default.ParseArch([]byte(good)); err != nil {
		t.Fatal(err)
	}
}

func TestResolveArchFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.json")
	want := Default.Random(rand.New(rand.NewPCG(3, 3)))
	if err := os.WriteFile(path, []byte(want.JSON()), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Default.ResolveArch(path)
	if err != nil || got.JSON() != want.JSON() {
		t.Fatalf("got %s, %v; want %s", got.JSON(), err, want.JSON())
	}
	if _, err := Default.ResolveArch("random:x"); err == nil {
		t.Fatal("random:x accepted")
	}
	if _, err := Default.ResolveArch(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func FuzzParseArch(f *testing.F) {
	f.Add([]byte(Default.Largest().JSON()))
	f.Add([]byte(Default.Smallest().JSON()))
	f.Add([]byte(`{"ks":[3],"e":[],"d":null,"r":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Default.ParseArch(b)
		if err != nil {
			return
		}
		again, err := Default.ParseArch([]byte(a.JSON()))
		if err != nil || again.JSON() != a.JSON() {
			t.Fatalf("valid arch does not round-trip: %v", err)
		}
	})
}
