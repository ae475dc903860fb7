package routes

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/todo-app/todo/models"
)

// FuzzPreconditionHeaders feeds arbitrary If-Match and If-None-Match values
// for a task. No panic; If-Match reads as "any version" (nil) only when it
// is empty or "*", since anything else turning into "any" would make a
// conditional update unconditional; the versions it names are real ones; and
// If-None-Match agrees with If-Match about which version a header names.
func FuzzPreconditionHeaders(f *testing.F) {
	for _, seed := range []string{
		`"7-3"`, `W/"7-3"`, `3`, `"3"`, `"7-3", "7-4"`, `*`, `"7-3", *`, ` `, `,`, `"8-3"`, `"7-0"`, `"7-2147483648"`,
		`"7-+3"`, `"-3"`, `"7-3-4"`, `W/W/"7-3"`, `"7-99999999999999999999"`, "\"7-3\"\x00", `""`, `"`,
	} {
		f.Add(seed, int64(7), 3)
	}
	f.Fuzz(func(t *testing.T, header string, id int64, version int) {
		vs := ifMatchVersions(header, id)
		items := strings.Split(header, ",")
		star := slices.ContainsFunc(items, func(s string) bool { return strings.TrimSpace(s) == "*" })
		if (vs == nil) != (strings.TrimSpace(header) == "" || star) {
			t.Fatalf("If-Match %q read as %v", header, vs)
		}
		for _, v := range vs {
			if v < 1 || v > 1<<31-1 || !strings.Contains(header, strconv.Itoa(v)) {
				t.Fatalf("If-Match %q names version %d", header, v)
			}
		}
		task := &models.Task{ID: id, Version: version}
		if noneMatch(header, task) != (star || slices.Contains(vs, version)) {
			t.Fatalf("If-None-Match %q for %d-%d disagrees with If-Match %v", header, id, version, vs)
		}
		if id > 0 && version > 0 {
			etag := taskETag(task)
			if !slices.Contains(ifMatchVersions(etag, id), version) || !noneMatch("W/"+etag, task) {
				t.Fatalf("the task's own ETag %s does not match it", etag)
			}
		}
	})
}

// FuzzPathAndQueryValues feeds arbitrary text to the readers of the task id
// path segment and the dashboard's tz parameter: no panic, an id is the
// decimal form of a positive number, and a time zone is never the server's
// own (Local) nor read from outside the zone database.
func FuzzPathAndQueryValues(f *testing.F) {
	for _, seed := range []string{"1", "007", "0", "-1", "+1", "9223372036854775807", "9223372036854775808", "1e3", "",
		"UTC", "Europe/Berlin", "Local", "../../../etc/passwd", "/etc/localtime", "Europe\\Berlin", "Etc/GMT+5", "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if id, ok := parseTaskID(s); ok {
			if id < 1 || strings.TrimLeft(s, "0") != strconv.FormatInt(id, 10) {
				t.Fatalf("id %q read as %d", s, id)
			}
		}
		if loc, ok := dashboardLocation(s); ok {
			if loc == nil || (s != "" && loc.String() != s) || (loc == time.Local && time.Local != time.UTC) ||
				strings.Contains(s, "..") || strings.HasPrefix(s, "/") {
				t.Fatalf("tz %q read as %v", s, loc)
			}
		}
	})
}
