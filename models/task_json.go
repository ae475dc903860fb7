package models

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the task's JSON form (the API's Task object) to b. It
// writes exactly what encoding/json writes for Task, field for field and
// byte for byte (a test holds it to that), without reflection: lists of
// tasks are the largest responses the server sends.
func (t *Task) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, t.ID, 10)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, t.Title)
	b = append(b, `,"description":`...)
	b = appendOptionalString(b, t.Description)
	b = append(b, `,"status":`...)
	b = strconv.AppendBool(b, t.Status)
	b = append(b, `,"category":`...)
	b = appendOptionalString(b, t.Category)
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(t.Priority), 10)
	b = append(b, `,"due_date":`...)
	b = appendOptionalTime(b, t.DueDate)
	b = append(b, `,"completed_at":`...)
	b = appendOptionalTime(b, t.CompletedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(t.Version), 10)
	b = append(b, `,"created_at":`...)
	b = t.CreatedAt.appendJSON(b)
	b = append(b, `,"updated_at":`...)
	b = t.UpdatedAt.appendJSON(b)
	b = append(b, `,"user_id":`...)
	b = appendJSONString(b, t.UserID)
	return append(b, '}')
}

// MarshalJSON lets encoding/json (the realtime events) use AppendJSON.
func (t Task) MarshalJSON() ([]byte, error) {
	return t.AppendJSON(make([]byte, 0, 256)), nil
}

func (t Time) appendJSON(b []byte) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"')
}

func appendOptionalTime(b []byte, t *Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return t.appendJSON(b)
}

func appendOptionalString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does by default: ", \ and
// control characters escaped (\b \f \n \r \t by name), <, > and & as
// \u003c, \u003e and \u0026 so the JSON is safe inside HTML, U+2028 and
// U+2029 escaped for JavaScript, and invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
