package data

import (
	"errors"
	"testing"
)

func TestTop1CountsArgmaxAgainstLabels(t *testing.T) {
	f := makeFixture(50, Rows, Cols)
	set := &Dataset{Name: "fixture", Rows: Rows, Cols: Cols, Pix: f.pix, Labels: f.labels}
	always3 := func() (Classifier, error) {
		return func(x []float32) ([]float32, error) {
			if len(x) != 20*20 {
				t.Errorf("image of %d values, want 20x20", len(x))
			}
			s := make([]float32, NumClasses)
			s[3] = 1
			return s, nil
		}, nil
	}
	// Labels are i mod 10: of the first 23 images, 3 and 13 are class 3.
	got, err := Top1(set, 20, 23, always3)
	if err != nil || got != 2.0/23 {
		t.Fatalf("Top1 = %v, %v; want 2/23", got, err)
	}
	if got, err := Top1(set, 20, 0, always3); err != nil || got != 5.0/50 {
		t.Fatalf("Top1 over all = %v, %v; want 5/50", got, err)
	}
	if _, err := Top1(set.Subset("empty", nil), 20, 0, always3); err == nil {
		t.Fatal("Top1 of an empty data set gave no error")
	}
	boom := errors.New("boom")
	failing := func() (Classifier, error) {
		return func([]float32) ([]float32, error) { return nil, boom }, nil
	}
	if _, err := Top1(set, 20, 0, failing); !errors.Is(err, boom) {
		t.Fatalf("a classifier's error came back as %v", err)
	}
	if _, err := Top1(set, 20, 0, func() (Classifier, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("newClassifier's error came back as %v", err)
	}
}
