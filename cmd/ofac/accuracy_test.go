package main

import (
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/search"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// The default, fine and wide spaces take the same architectures, so the
// predictor's space comes from the name the records carry, when they do.
func TestRecordsSpace(t *testing.T) {
	rec := func(space string) search.Record {
		return search.Record{Space: space, Arch: ofa.Default.Largest(), Top1: 0.9, Images: 10}
	}
	cases := []struct {
		recs []search.Record
		flag string
		want string // space name, or a piece of the error
	}{
		{[]search.Record{rec(""), rec("")}, "auto", "default"},
		{[]search.Record{rec("fine"), rec("fine")}, "auto", "fine"},
		{[]search.Record{rec(""), rec("wide")}, "auto", "wide"},
		{[]search.Record{rec("fine")}, "fine", "fine"},
		{[]search.Record{rec("")}, "fine", "fine"},
		{[]search.Record{rec("fine")}, "default", "measured on a supernet of the fine space"},
		{[]search.Record{rec("fine"), rec("wide")}, "auto", "two search spaces"},
		{[]search.Record{rec("")}, "tiny", "fit no search space"},
	}
	for _, c := range cases {
		sp, err := recordsSpace(c.recs, c.flag)
		got := sp.Name()
		if err != nil {
			got = err.Error()
		}
		_, wantSpace := ofa.Spaces[c.want]
		if !strings.Contains(got, c.want) || (err == nil) != wantSpace {
			t.Errorf("records %q, --space %s: got %q, want %q", []string{c.recs[0].Space, c.recs[len(c.recs)-1].Space}, c.flag, got, c.want)
		}
	}
}
