// Package ui holds the operator dashboard served at /ui/: plain HTML, CSS and JavaScript
// modules embedded in the binary, with no build step and no third-party code. The page reads
// only the public API (/api/v3, /balancer); see DESIGN.md, "Dashboard".
package ui

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Asset is one embedded file, ready to serve.
type Asset struct {
	Body        []byte
	ContentType string
}

// assets are read once: they never change in a running binary.
var assets = func() map[string]Asset {
	m := map[string]Asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		m[strings.TrimPrefix(p, "static/")] = Asset{Body: b, ContentType: contentTypes[path.Ext(p)]}
		return nil
	})
	if err != nil {
		panic("ui: reading the embedded assets: " + err.Error())
	}
	return m
}()

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Lookup returns the asset at name, a path below /ui/; the empty name is the page.
func Lookup(name string) (Asset, bool) {
	if name == "" {
		name = "index.html"
	}
	a, ok := assets[name]
	return a, ok
}

// Names lists the assets, for tests.
func Names() []string {
	out := make([]string, 0, len(assets))
	for n := range assets {
		out = append(out, n)
	}
	return out
}
