package routes

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// fields is a request body's top-level members, kept raw so each one can be
// type-checked on its own and reported by name.
type fields map[string]json.RawMessage

var (
	errUnsupportedMedia = NewProblem(fiber.StatusUnsupportedMediaType, "The request body must be application/json.")
	errMalformedJSON    = NewProblem(fiber.StatusBadRequest, "The request body is not valid JSON.")
	errNotAnObject      = NewProblem(fiber.StatusBadRequest, "The request body must be a JSON object.")
	errInvalidUTF8      = ValidationProblem(FieldError{Field: "body", Message: "is not valid UTF-8"})
)

// mediaType is the request's Content-Type without parameters, lower-cased.
func mediaType(c *fiber.Ctx) string {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil {
		return ""
	}
	return mt
}

// decodeJSONObject reads a JSON object body. Invalid UTF-8 is refused rather
// than let the decoder replace it, so stored text is always what was sent.
func decodeJSONObject(c *fiber.Ctx) (fields, error) {
	if mediaType(c) != fiber.MIMEApplicationJSON {
		return nil, errUnsupportedMedia
	}
	return parseJSONObject(c.Body())
}

func parseJSONObject(body []byte) (fields, error) {
	if !utf8.Valid(body) {
		return nil, errInvalidUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var f fields
	if err := dec.Decode(&f); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, errNotAnObject
		}
		return nil, errMalformedJSON
	}
	if f == nil {
		return nil, errNotAnObject
	}
	// More() misses a stray '}' or ']'; only the end of input may follow.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errMalformedJSON
	}
	return f, nil
}

// formFields turns an application/x-www-form-urlencoded body into fields
// holding JSON strings, so form and JSON bodies share one reader.
func formFields(body []byte) (fields, error) {
	if !utf8.Valid(body) {
		return nil, errInvalidUTF8
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errMalformedJSON
	}
	f := make(fields, len(values))
	for k, v := range values {
		// Percent-escapes can spell invalid UTF-8 in a valid body, which
		// json.Marshal would silently turn into U+FFFD.
		if !utf8.ValidString(k) || !utf8.ValidString(v[0]) {
			return nil, errInvalidUTF8
		}
		raw, _ := json.Marshal(v[0])
		f[k] = raw
	}
	return f, nil
}

// str reads a string member. A missing or null member returns ok=false;
// any other type is a validation error naming the member.
func (f fields) str(name string, errs *[]FieldError) (value string, ok bool) {
	raw, present := f[name]
	if !present || string(raw) == "null" {
		return "", false
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		*errs = append(*errs, FieldError{Field: name, Message: "must be a string"})
		return "", false
	}
	if replacedSurrogates(raw, value) {
		*errs = append(*errs, FieldError{Field: name, Message: "contains an unpaired surrogate escape (not valid Unicode)"})
		return "", false
	}
	return value, true
}

// replacedSurrogates reports whether decoding turned an unpaired \uD800-\uDFFF
// escape into U+FFFD: the decoder does so silently, which would store text
// other than what was sent. Every U+FFFD in the result must be accounted for
// by a literal U+FFFD or a \uFFFD escape in the input.
func replacedSurrogates(raw []byte, decoded string) bool {
	n := strings.Count(decoded, "\uFFFD")
	if n == 0 {
		return false
	}
	lower := bytes.ToLower(raw)
	return n > bytes.Count(raw, []byte("\uFFFD"))+bytes.Count(lower, []byte(`\ufffd`))
}

// boolean reads a boolean member, with def when it is missing or null.
func (f fields) boolean(name string, def bool, errs *[]FieldError) bool {
	raw, present := f[name]
	if !present || string(raw) == "null" {
		return def
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		// Form bodies carry booleans as text.
		var s string
		if json.Unmarshal(raw, &s) == nil && (s == "true" || s == "false") {
			return s == "true"
		}
		*errs = append(*errs, FieldError{Field: name, Message: "must be a boolean"})
		return def
	}
	return v
}
