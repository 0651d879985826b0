package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/internal/humanize"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// Report is everything `ofac build` tells about the subnet it compiled.
// It holds no times or absolute paths, so two runs with the same inputs
// write the same bytes.
type Report struct {
	Target      string             `json:"target"`
	Backend     string             `json:"backend"`
	Constraints Constraints        `json:"constraints"`
	Capacity    map[string]float64 `json:"capacity"`
	Arch        ofa.Arch           `json:"arch"`
	MACs        int64              `json:"macs"`
	Params      int64              `json:"params"`
	// PredictedTop1 is the predictor's accuracy; PredictorRMSE its error
	// on held-out data.
	PredictedTop1 float64 `json:"predicted_top1"`
	PredictorRMSE float64 `json:"predictor_rmse"`
	// MeasuredTop1 is the float subnet's top-1 on ValImages validation
	// images after batch-norm recalibration: what the predictor predicts.
	MeasuredTop1 float64 `json:"measured_top1_val"`
	ValImages    int     `json:"val_images"`
	// Int8Top1 is the int8 graph's top-1, run by the integer interpreter
	// (the reference the backends are bit-exact with), on TestImages test
	// images.
	Int8Top1   float64 `json:"int8_top1_test"`
	TestImages int     `json:"test_images"`
	// HostCheck says how the artifact itself was run on those images
	// (host build or C simulation) and that its outputs were bit-exact
	// with the integer interpreter, or why it was not run.
	HostCheck string `json:"host_check"`
	// Cost is the backend's estimate of the compiled graph.
	LatencyMs float64              `json:"latency_ms"`
	Resources map[string]float64   `json:"resources"`
	Layers    []backends.LayerCost `json:"layers"`
	Search    SearchSummary        `json:"search"`
	// Pareto is the final population's accuracy/latency front.
	Pareto []Candidate `json:"pareto"`
	// Population is the final population (for the plot).
	Population []Candidate `json:"population"`
}

// SearchSummary records how the search ran.
type SearchSummary struct {
	Population  int    `json:"population"`
	Generations int    `json:"generations"`
	Seed        uint64 `json:"seed"`
	CostCalls   int    `json:"cost_calls"`
	Predictions int    `json:"predictions"`
	// Fallback: the answer is the exact hill climb (Result.Fallback).
	Fallback bool `json:"fallback,omitempty"`
}

// JSON is the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	return append(b, '\n'), err
}

// Markdown is the human report.
func (r *Report) Markdown() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# ofac build: %s (%s backend)\n\n", r.Target, r.Backend)
	fmt.Fprintf(&b, "Budget: %s\n\n", r.Constraints)
	b.WriteString("## Chosen subnet\n\n")
	fmt.Fprintf(&b, "- arch: `%s`\n", r.Arch.JSON())
	fmt.Fprintf(&b, "- %s MACs, %s parameters\n", humanize.Count(r.MACs), humanize.Count(r.Params))
	fmt.Fprintf(&b, "- predicted top-1: %.2f%% (predictor RMSE %.2f points on held-out subnets)\n", 100*r.PredictedTop1, 100*r.PredictorRMSE)
	fmt.Fprintf(&b, "- measured top-1, float, batch norm recalibrated: %.2f%% on %d validation images\n", 100*r.MeasuredTop1, r.ValImages)
	fmt.Fprintf(&b, "- measured top-1, int8 (integer interpreter, the backends' bit-exact reference): %.2f%% on %d test images\n", 100*r.Int8Top1, r.TestImages)
	fmt.Fprintf(&b, "- artifact check: %s\n\n", r.HostCheck)
	b.WriteString("## Budget use\n\n| quantity | used | budget | capacity |\n|---|---:|---:|---:|\n")
	names := []string{LatencyKey}
	for k := range r.Resources {
		if k != "cycles" && k != "latency_cycles" {
			names = append(names, k)
		}
	}
	sort.Strings(names[1:])
	for _, k := range names {
		v := r.LatencyMs
		if k != LatencyKey {
			v = r.Resources[k]
		}
		budget, capacity := "-", "-"
		if c, ok := r.Constraints[k]; ok {
			budget = fmt.Sprintf("%s (%.1f%%)", FormatValue(k, c), pct(v, c))
		}
		if c, ok := r.Capacity[k]; ok && c > 0 {
			capacity = fmt.Sprintf("%s (%.1f%%)", FormatValue(k, c), pct(v, c))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", k, FormatValue(k, v), budget, capacity)
	}
	b.WriteString("\n## Cost per layer\n\n| # | node | op | cycles | latency ms | share |\n|---:|---|---|---:|---:|---:|\n")
	for i, l := range r.Layers {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %.4f | %.1f%% |\n", i, l.Node, l.Op, humanize.Count(int64(l.Cycles)), l.LatencyMs, pct(l.LatencyMs, r.LatencyMs))
	}
	b.WriteString("\n## Search\n\n")
	fmt.Fprintf(&b, "Evolutionary search: population %d, %d generations, seed %d, %d subnets predicted. "+
		"It evolves on a linear surrogate fitted to the backend's exact estimates of probe subnets, then prices the final "+
		"population with the exact model and keeps only what fits: %d distinct subnets priced exactly, probes included; "+
		"every cost in this report is exact.\n\n",
		r.Search.Population, r.Search.Generations, r.Search.Seed, r.Search.Predictions, r.Search.CostCalls)
	if r.Search.Fallback {
		b.WriteString("The subnet above comes from a hill climb on the exact model, not from the evolution, which predicted less: " +
			"from the smallest subnet that fits at some resolution, one choice at a time, to the neighbour with the best " +
			"predicted accuracy that still fits. Such climbs win most often near the target's floor, where the surrogate " +
			"the evolution runs on is far off.\n\n")
	}
	b.WriteString("Pareto front of the final population (pareto.svg plots it):\n\n")
	b.Write(ParetoTable(r.Pareto, r.Constraints))
	return []byte(b.String())
}

// ParetoTable is a Markdown table of candidates with their constrained
// costs.
func ParetoTable(front []Candidate, cons Constraints) []byte {
	var b strings.Builder
	cols := []string{LatencyKey}
	for _, k := range cons.Names() {
		if k != LatencyKey {
			cols = append(cols, k)
		}
	}
	b.WriteString("| predicted top-1 | " + strings.Join(cols, " | ") + " | arch |\n|---:|" + strings.Repeat("---:|", len(cols)) + "---|\n")
	for _, c := range front {
		fmt.Fprintf(&b, "| %.2f%% |", 100*c.Accuracy)
		for _, k := range cols {
			v, _ := c.Cost.Value(k)
			fmt.Fprintf(&b, " %s |", FormatValue(k, v))
		}
		fmt.Fprintf(&b, " `%s` |\n", c.Arch.JSON())
	}
	return []byte(b.String())
}

func pct(v, of float64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * v / of
}

// ParetoSVG plots predicted accuracy against latency for the population,
// with the latency budget (if any) as a vertical line and the chosen subnet
// marked.
func ParetoSVG(pop []Candidate, chosen Candidate, cons Constraints, title string) ([]byte, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "estimated latency (ms)"
	p.Y.Label.Text = "predicted top-1 (%)"
	pts := make(plotter.XYs, len(pop))
	for i, c := range pop {
		pts[i].X, pts[i].Y = c.Cost.LatencyMs, 100*c.Accuracy
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	sc.GlyphStyle.Color = color.RGBA{R: 90, G: 120, B: 200, A: 255}
	sc.GlyphStyle.Radius = vg.Points(2.5)
	p.Add(sc)
	p.Legend.Add("final population", sc)
	front := Pareto(pop)
	fpts := make(plotter.XYs, len(front))
	for i, c := range front {
		fpts[i].X, fpts[i].Y = c.Cost.LatencyMs, 100*c.Accuracy
	}
	if len(fpts) > 1 {
		ln, err := plotter.NewLine(fpts)
		if err != nil {
			return nil, err
		}
		ln.LineStyle.Color = color.RGBA{R: 90, G: 120, B: 200, A: 255}
		p.Add(ln)
		p.Legend.Add("Pareto front", ln)
	}
	lo, hi := 100.0, 0.0
	for _, pt := range pts {
		lo, hi = min(lo, pt.Y), max(hi, pt.Y)
	}
	if budget, ok := cons[LatencyKey]; ok {
		bl, err := plotter.NewLine(plotter.XYs{{X: budget, Y: lo}, {X: budget, Y: hi}})
		if err != nil {
			return nil, err
		}
		bl.LineStyle.Color = color.RGBA{R: 200, A: 255}
		bl.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(bl)
		p.Legend.Add(fmt.Sprintf("budget %s", FormatValue(LatencyKey, budget)), bl)
	}
	ch, err := plotter.NewScatter(plotter.XYs{{X: chosen.Cost.LatencyMs, Y: 100 * chosen.Accuracy}})
	if err != nil {
		return nil, err
	}
	ch.GlyphStyle.Color = color.RGBA{R: 220, G: 40, B: 40, A: 255}
	ch.GlyphStyle.Radius = vg.Points(5)
	ch.GlyphStyle.Shape = draw.CrossGlyph{}
	p.Add(ch)
	p.Legend.Add("chosen", ch)
	p.Legend.Top = false
	p.Legend.Left = false
	w, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
