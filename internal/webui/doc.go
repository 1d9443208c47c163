// Package webui serves gantry's web UI: the single-page app under ui/ (React,
// built by Vite into dist/app and embedded in the binary) at "/". Client-side
// routes fall back to index.html; hashed assets are cached for a year and
// index.html never is; every answer carries a strict Content-Security-Policy.
// The API's prefixes are never answered with the app: a path under /api/ that
// no API claims gets a JSON 404, not index.html.
//
// The build is optional at Go build time: without it (go test ./... on a fresh
// clone) the handler answers a plain page saying to run `make ui`.
package webui
