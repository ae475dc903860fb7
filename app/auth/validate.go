package auth

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Codes are Better Auth's error codes, shared by both endpoint families so a
// client can tell the failures apart.
const (
	CodeInvalidEmail    = "INVALID_EMAIL"
	CodePasswordShort   = "PASSWORD_TOO_SHORT"
	CodePasswordLong    = "PASSWORD_TOO_LONG"
	CodeValidationError = "VALIDATION_ERROR"
)

// Password and name limits, counted in characters (Unicode code points).
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
	MaxNameLength     = 100
	maxEmailLength    = 254
)

// FieldError is one rejected input field.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

// ValidationError lists every rejected field of one request.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(msgs, "; ")
}

func (e *ValidationError) add(field, code, msg string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Code: code, Message: msg})
}

func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// emailPattern is the address syntax Better Auth accepts (zod's email rule),
// so an address valid on one server is valid on the other.
var emailPattern = regexp.MustCompile(`^[A-Za-z0-9_'+\-\.]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$`)

// NormalizeEmail checks an address and returns it lower-cased, the form
// Better Auth stores and looks up. Surrounding spaces are an error, not
// something to trim.
func NormalizeEmail(email string) (string, error) {
	v := &ValidationError{}
	switch {
	case email == "":
		v.add("email", CodeInvalidEmail, "is required")
	case len(email) > maxEmailLength:
		v.add("email", CodeInvalidEmail, "is longer than 254 characters")
	case strings.HasPrefix(email, ".") || strings.Contains(email, "..") || !emailPattern.MatchString(email):
		v.add("email", CodeInvalidEmail, "is not a valid email address")
	}
	if err := v.orNil(); err != nil {
		return "", err
	}
	return strings.ToLower(email), nil
}

// CheckPassword enforces the length rule on a new password. Existing
// passwords are never checked against it at sign-in.
func CheckPassword(password string) error {
	v := &ValidationError{}
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		v.add("password", CodeValidationError, "is not valid UTF-8")
	case n < MinPasswordLength:
		v.add("password", CodePasswordShort, "must be at least 8 characters")
	case n > MaxPasswordLength:
		v.add("password", CodePasswordLong, "must be at most 128 characters")
	}
	return v.orNil()
}

// CheckName requires a display name of 1 to 100 characters that is not only
// white space and holds no control characters.
func CheckName(name string) error {
	v := &ValidationError{}
	switch {
	case !utf8.ValidString(name):
		v.add("name", CodeValidationError, "is not valid UTF-8")
	case strings.TrimSpace(name) == "":
		v.add("name", CodeValidationError, "is required")
	case utf8.RuneCountInString(name) > MaxNameLength:
		v.add("name", CodeValidationError, "must be at most 100 characters")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		v.add("name", CodeValidationError, "must not contain control characters")
	}
	return v.orNil()
}
