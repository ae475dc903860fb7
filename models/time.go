// Package models holds the Bun models and every database query.
package models

import (
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
)

// TimeLayout is how timestamps are written on SQLite and in JSON: ISO-8601 UTC
// with milliseconds and Z, as Better Auth writes them, so text comparisons in
// SQL order correctly and both servers read each other's rows.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Time is a UTC instant with millisecond precision, stored as TimeLayout text
// on SQLite and as timestamptz on PostgreSQL.
type Time struct{ time.Time }

// NewTime truncates t to the millisecond, the precision both engines and
// Better Auth share, so a value reads back exactly as it was written.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// Now is the current time as a Time.
func Now() Time { return NewTime(time.Now()) }

// String formats the instant in TimeLayout.
func (t Time) String() string { return t.UTC().Format(TimeLayout) }

// AppendQuery writes the value into a query in the engine's own form.
func (t Time) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	if gen.Dialect().Name() == dialect.PG {
		b = append(b, '\'')
		b = t.UTC().AppendFormat(b, "2006-01-02 15:04:05.000Z07:00")
		return append(b, "'::timestamptz"...), nil
	}
	b = append(b, '\'')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '\''), nil
}

// Value serves queries that bypass Bun's formatting.
func (t Time) Value() (driver.Value, error) { return t.String(), nil }

// Scan reads text in the layouts SQLite rows may hold (this server's and
// Better Auth's, plus SQLite's own CURRENT_TIMESTAMP) or a driver time.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*t = NewTime(v)
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case nil:
		*t = Time{}
		return nil
	}
	return fmt.Errorf("scan time: unsupported type %T", src)
}

var scanLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
}

func (t *Time) parse(s string) error {
	for _, layout := range scanLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			*t = NewTime(v)
			return nil
		}
	}
	return fmt.Errorf("scan time: unrecognised timestamp %q", s)
}

// MarshalJSON writes the instant as a JSON string in TimeLayout.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// ParseTime reads a timestamp in any layout Scan accepts.
func ParseTime(s string) (Time, error) {
	var t Time
	err := t.parse(s)
	return t, err
}
