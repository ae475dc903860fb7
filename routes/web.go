package routes

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/web"
)

// Cache policies of the web app's files. index.html is revalidated on every
// load so a new release is picked up at once; files under /assets/ carry a
// content hash in their name, so a URL never changes meaning.
const (
	webCacheIndex  = "no-cache"
	webCacheAssets = "public, max-age=31536000, immutable"
)

// webFile is one file of the built app, held in memory.
type webFile struct {
	body        []byte
	contentType string
	etag        string
}

// WebApp serves the embedded single-page app (web.Dist). Mount it last, after
// every /api route: it answers
//   - /api and /api/... paths no route claimed with the JSON 404 problem;
//   - methods other than GET and HEAD with the same 404 problem;
//   - /assets/... with the hashed file (immutable) or a 404 problem;
//   - any other path with the file of that name when the build has one, and
//     otherwise index.html (no-cache), so the app's own routes (/tasks/7,
//     /dashboard) work on reload and from bookmarks.
func WebApp() fiber.Handler {
	h, err := NewWebApp(web.Dist())
	if err != nil {
		panic(err)
	}
	return h
}

// NewWebApp builds the web app handler on a built app's files, which must
// include index.html. Every file is read once, here.
func NewWebApp(dist fs.FS) (fiber.Handler, error) {
	files := map[string]*webFile{}
	err := fs.WalkDir(dist, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(dist, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		files["/"+p] = &webFile{
			body:        body,
			contentType: webContentType(p),
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web app: %w", err)
	}
	index := files["/index.html"]
	if index == nil {
		return nil, fmt.Errorf("web app: the build has no index.html")
	}
	return func(c *fiber.Ctx) error {
		p := c.Path()
		if unescaped, err := url.PathUnescape(p); err == nil {
			p = unescaped
		}
		p = path.Clean("/" + p)
		// The request as sent counts too: the server normalises
		// /api/../x to /x, but the client asked for an API path.
		if webIsAPI(p) || webIsAPI(string(c.Request().URI().PathOriginal())) {
			return fiber.ErrNotFound
		}
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			// Nothing outside /api accepts anything but GET and HEAD; the
			// answer stays the 404 problem these paths gave before the app.
			return fiber.ErrNotFound
		}
		f, cache := files[p], webCacheIndex
		switch {
		case strings.HasPrefix(p, "/assets/"):
			if f == nil {
				return fiber.ErrNotFound
			}
			cache = webCacheAssets
		case f == nil || p == "/index.html":
			f = index
		}
		c.Set(fiber.HeaderCacheControl, cache)
		c.Set(fiber.HeaderETag, f.etag)
		c.Set(fiber.HeaderContentType, f.contentType)
		if webETagMatches(c.Get(fiber.HeaderIfNoneMatch), f.etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		return c.Send(f.body)
	}, nil
}

// webContentType is the media type of a built file, by extension.
func webContentType(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json", ".map":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// webETagMatches reports whether an If-None-Match list names etag (weak
// comparison, RFC 9110) or is "*".
func webETagMatches(header, etag string) bool {
	for _, item := range strings.Split(header, ",") {
		item = strings.TrimSpace(item)
		if item != "" && (item == "*" || strings.TrimPrefix(item, "W/") == etag) {
			return true
		}
	}
	return false
}

// webIsAPI reports whether p is /api or under it, in any letter case (the
// router matches paths case-insensitively).
func webIsAPI(p string) bool {
	lower := strings.ToLower(p)
	return lower == "/api" || strings.HasPrefix(lower, "/api/")
}
