package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line of a percentile plot.
type Series struct {
	Label string
	Curve []CurvePoint
	Count uint64 // observations behind the curve; bounds its x extent
}

var palette = []color.RGBA{
	{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255},
	{255, 127, 14, 255}, {148, 103, 189, 255}, {140, 86, 75, 255},
}

// PlotPercentiles draws latency against percentile, HdrHistogram style: the x axis is
// log10(1/(1-p)) so 90 %, 99 %, 99.9 % ... are evenly spaced, the y axis is logarithmic in
// milliseconds so fast and slow series share one picture. A dashed line marks refMs (the
// p99 target of README's Targets) when it is positive.
func PlotPercentiles(path, title string, series []Series, refMs float64) error {
	const (
		W, H                     = 960, 560
		left, right, top, bottom = 70, 250, 40, 50
	)
	// The fastest tenth says little and stretches the axis down to loopback round trips.
	const minPct = 10
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)

	// Extents.
	xmax, ylo, yhi := 1.0, math.Inf(1), math.Inf(-1)
	for _, s := range series {
		if s.Count > 1 {
			xmax = max(xmax, math.Log10(float64(s.Count)))
		}
		for _, p := range s.Curve {
			if p.Ms > 0 && p.Percentile >= minPct {
				ylo, yhi = min(ylo, p.Ms), max(yhi, p.Ms)
			}
		}
	}
	if math.IsInf(ylo, 1) {
		ylo, yhi = 0.1, 10
	}
	if refMs > 0 {
		yhi = max(yhi, refMs)
	}
	xmax = math.Ceil(xmax)
	lylo, lyhi := math.Floor(math.Log10(ylo)), math.Ceil(math.Log10(yhi))
	if lyhi <= lylo {
		lyhi = lylo + 1
	}
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	px := func(x float64) int { return left + int(x/xmax*pw) }
	py := func(ms float64) int {
		return top + int((lyhi-math.Log10(ms))/(lyhi-lylo)*ph)
	}
	black, grey := color.RGBA{0, 0, 0, 255}, color.RGBA{220, 220, 220, 255}

	// Grid and tick labels.
	for x := 0.0; x <= xmax; x++ {
		X := px(x)
		line(img, X, top, X, H-bottom, grey, 1, 0)
		label := fmt.Sprintf("%.*f%%", max(0, int(x)-2), 100*(1-math.Pow(10, -x)))
		text(img, X-len(label)*7/2, H-bottom+18, label, black)
	}
	for d := lylo; d <= lyhi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if math.Log10(v) > lyhi+1e-9 {
				break
			}
			Y := py(v)
			line(img, left, Y, W-right, Y, grey, 1, 0)
			label := fmt.Sprintf("%g", v)
			text(img, left-8-len(label)*7, Y+4, label, black)
		}
	}
	line(img, left, top, left, H-bottom, black, 1, 0)
	line(img, left, H-bottom, W-right, H-bottom, black, 1, 0)
	text(img, left, top-16, title, black)
	text(img, left+int(pw)/2-40, H-12, "percentile", black)
	text(img, 8, top-16, "ms", black)

	if refMs > 0 {
		Y := py(refMs)
		line(img, left, Y, W-right, Y, color.RGBA{120, 120, 120, 255}, 1, 6)
		text(img, W-right+8, Y+4, fmt.Sprintf("%g ms target", refMs), black)
	}

	// Series.
	for i, s := range series {
		c := palette[i%len(palette)]
		prevX, prevY, have := 0, 0, false
		for _, p := range s.Curve {
			if p.Ms <= 0 || p.Percentile < minPct {
				continue
			}
			x := xmax
			if p.Percentile < 100 {
				x = min(-math.Log10(1-p.Percentile/100), xmax)
			}
			if s.Count > 1 {
				x = min(x, math.Log10(float64(s.Count)))
			}
			X, Y := px(x), py(p.Ms)
			if have {
				line(img, prevX, prevY, X, Y, c, 2, 0)
			}
			prevX, prevY, have = X, Y, true
		}
		ly := top + 20 + i*20
		line(img, W-right+10, ly-4, W-right+34, ly-4, c, 2, 0)
		text(img, W-right+40, ly, s.Label, black)
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// line draws a segment of the given width; dash > 0 draws dash-pixel dashes.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color, width, dash int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for n := 0; ; n++ {
		if dash == 0 || (n/dash)%2 == 0 {
			for w := 0; w < width; w++ {
				img.Set(x0, y0+w, c)
				img.Set(x0+w, y0, c)
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
