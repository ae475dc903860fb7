// Package web holds the single-page web app: its source (TypeScript, built
// with Vite) and the committed build in dist/, which is embedded here so that
// `go build` needs no Node.js. Rebuild with `npm ci && npm run build` in this
// directory; CI fails when the committed build is stale.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built app, rooted at dist/ (index.html, assets/...).
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// Unreachable: "dist" is a valid path and is embedded above.
		panic(err)
	}
	return sub
}
