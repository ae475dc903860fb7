package routes

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// openAPISource is the OpenAPI 3.1 description of the whole HTTP API,
// written by hand. openapi_test.go keeps it true: every route the server
// registers is documented and every documented operation is registered.
// Fiber matches paths with or without a trailing slash, so each path is
// documented once, without it (/api/tasks stands for /api/tasks/ too).
//
//go:embed openapi.json
var openAPISource []byte

// openAPICacheControl lets clients and shared caches keep the document for
// an hour; the ETag makes revalidation cheap.
const openAPICacheControl = "max-age=3600"

// OpenAPIDocument is the embedded OpenAPI document, compacted, with
// info.version set to version when it is not empty. Member order is kept.
func OpenAPIDocument(version string) ([]byte, error) {
	doc := openAPISource
	if version != "" {
		v, err := json.Marshal(version)
		if err != nil {
			return nil, err
		}
		if doc, err = setJSONMember(doc, v, "info", "version"); err != nil {
			return nil, fmt.Errorf("openapi.json: %w", err)
		}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	return out.Bytes(), nil
}

// RegisterOpenAPI mounts GET /api/openapi.json under api (the /api group):
// the document with info.version set to the server's version, public and
// cacheable, revalidated by ETag. It needs no session. It panics if the
// embedded document is not valid JSON, which the tests rule out.
func RegisterOpenAPI(api fiber.Router, version string) {
	doc, err := OpenAPIDocument(version)
	if err != nil {
		panic("routes: " + err.Error())
	}
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	api.Get("/openapi.json", func(c *fiber.Ctx) error {
		// The session middleware may have re-sent a session cookie (sliding
		// refresh); such a response is for this client only.
		scope := "public, "
		if len(c.Response().Header.Peek(fiber.HeaderSetCookie)) > 0 {
			scope = "private, "
		}
		c.Set(fiber.HeaderCacheControl, scope+openAPICacheControl)
		c.Set(fiber.HeaderETag, etag)
		if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagListMatches(inm, etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(doc)
	})
}

// etagListMatches reports whether an If-None-Match list names etag, by the
// weak comparison RFC 9110 asks for, or is "*".
func etagListMatches(header, etag string) bool {
	for _, item := range strings.Split(header, ",") {
		item = strings.TrimSpace(item)
		if item == "*" || strings.TrimPrefix(item, "W/") == etag {
			return true
		}
	}
	return false
}

// setJSONMember returns the JSON object doc with the member at path (object
// keys, outermost first) replaced by value, keeping every other byte, and so
// the order of the members. The member must already exist.
func setJSONMember(doc []byte, value json.RawMessage, path ...string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if key != path[0] {
			continue
		}
		end := dec.InputOffset()
		// start is just after the key; the value follows a colon and
		// possibly white space.
		colon := bytes.IndexByte(doc[start:end], ':')
		if colon < 0 {
			return nil, errors.New("malformed member " + key)
		}
		start += int64(colon) + 1
		replacement := []byte(value)
		if len(path) > 1 {
			if replacement, err = setJSONMember(raw, value, path[1:]...); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
		out := make([]byte, 0, len(doc)-len(raw)+len(replacement)+1)
		out = append(out, doc[:start]...)
		out = append(out, ' ')
		out = append(out, replacement...)
		return append(out, doc[end:]...), nil
	}
	return nil, errors.New("no member " + path[0])
}
