/*
Copyright 2026 The Sweep Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command soakplot draws the soak test's chart (docs/soak.png) from the
// samples TestSoak writes (docs/soak.csv): the manager's heap, RSS,
// goroutines and open file descriptors against time, one panel each, with
// the medians of the middle and last thirds that the test's growth
// criterion compares. `make test-reliability` runs it after the tests
// (`make soak-plot` on its own); it lives here, outside the main module, so
// that gonum's plotting stays out of the sweep binary's module graph.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func main() {
	in := flag.String("in", "docs/soak.csv", "the samples TestSoak wrote")
	out := flag.String("out", "docs/soak.png", "the chart to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "soakplot:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	s, err := read(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return draw4(s, out)
}

// series are the soak's samples by column: minutes since the schedules
// were created, and the four panels' values in their units.
type series struct {
	minutes                    []float64
	heap, rss, goroutines, fds []float64
}

// read parses the CSV by its header's column names, so that columns the
// test adds later do not move the ones drawn here.
func read(r io.Reader) (series, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return series{}, err
	}
	if len(rows) < 4 {
		return series{}, errors.New("fewer than three samples: nothing to draw")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	var s series
	for _, c := range []struct {
		name  string
		dst   *[]float64
		scale float64
	}{
		{"seconds", &s.minutes, 1.0 / 60},
		{"heap_inuse_bytes", &s.heap, 1.0 / (1 << 20)},
		{"rss_bytes", &s.rss, 1.0 / (1 << 20)},
		{"goroutines", &s.goroutines, 1},
		{"open_fds", &s.fds, 1},
	} {
		i, ok := col[c.name]
		if !ok {
			return series{}, fmt.Errorf("no column %q in the header %q", c.name, rows[0])
		}
		for n, row := range rows[1:] {
			v, err := strconv.ParseFloat(row[i], 64)
			if err != nil {
				return series{}, fmt.Errorf("row %d, %s: %w", n+2, c.name, err)
			}
			*c.dst = append(*c.dst, v*c.scale)
		}
	}
	return s, nil
}

// draw4 writes the four panels as one PNG.
func draw4(s series, path string) error {
	n := len(s.minutes)
	panels := []struct {
		title  string
		values []float64
	}{
		{"heap in use (MiB)", s.heap},
		{"RSS (MiB)", s.rss},
		{"goroutines", s.goroutines},
		{"open file descriptors", s.fds},
	}
	rows := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.BackgroundColor = color.White
		if i == len(panels)-1 {
			p.X.Label.Text = "minutes since the schedules were created"
		}
		xy := make(plotter.XYs, n)
		for j := range n {
			xy[j].X, xy[j].Y = s.minutes[j], pn.values[j]
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		line.Color = color.RGBA{B: 200, A: 255}
		p.Add(line)
		// The thirds TestSoak's growth criterion (soakGrowth) compares.
		for _, third := range [][2]int{{n / 3, 2 * n / 3}, {2 * n / 3, n}} {
			from, to := third[0], third[1]
			m := median(pn.values[from:to])
			med, err := plotter.NewLine(plotter.XYs{{X: s.minutes[from], Y: m}, {X: s.minutes[to-1], Y: m}})
			if err != nil {
				return err
			}
			med.Color = color.RGBA{R: 220, A: 255}
			med.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(med)
		}
		p.Y.Min = 0
		rows[i] = []*plot.Plot{p}
	}
	rows[0][0].Title.Text = "Sweep manager during the soak (red dashes: medians of the middle and last thirds)\n" + rows[0][0].Title.Text
	img := vgimg.New(8*vg.Inch, 10*vg.Inch)
	dc := draw.New(img)
	canvases := plot.Align(rows, draw.Tiles{Rows: len(rows), Cols: 1, PadX: vg.Millimeter, PadY: 2 * vg.Millimeter,
		PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 4 * vg.Millimeter}, dc)
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// median is the middle value of v (the mean of the middle two for an even
// count), as TestSoak's soakMedian computes it.
func median(v []float64) float64 {
	v = slices.Sorted(slices.Values(v))
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
