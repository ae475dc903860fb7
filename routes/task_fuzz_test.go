package routes

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/todo-app/todo/models"
)

// FuzzTaskBody feeds arbitrary bytes to the task body reader. It must never
// panic; whatever it accepts must satisfy every rule and carry the text
// exactly as sent (the title trimmed, nothing else touched).
func FuzzTaskBody(f *testing.F) {
	for _, seed := range []string{
		`{"title":"Buy milk"}`,
		`{"title":"  padded\t","description":"a\r\nb","category":null,"priority":"HIGH","status":true,"due_date":"2026-12-24"}`,
		`{"title":"'; DROP TABLE task; --","description":"<script>alert(1)</script>","category":"%_\\"}`,
		`{"title":"\ud83d\ude00","due_date":"2026-03-10T09:30:00.123456+09:00","priority":3}`,
		`{"title":"\ud800","priority":2.0,"status":"true","due_date":"0000-01-01"}`,
		`{"title":"a\u0000b","description":"x\ry","category":"\u0085"}`,
		"{\"title\":\"\xff\"}",
		`{"title":` + `"` + strings.Repeat("é", 201) + `"}`,
		`[1,2]`, `null`, `{"title":`, `{}`, `{"id":1,"version":"x","title":" "}`,
	} {
		f.Add([]byte(seed), true)
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, create bool) {
		fs, err := parseJSONObject(body)
		if err != nil {
			return
		}
		ch, errs := parseTaskBody(fs, create)
		for _, e := range errs {
			if e.Field == "" || e.Message == "" {
				t.Fatalf("empty field error %+v", e)
			}
			if _, sent := fs[e.Field]; !sent && !(e.Field == fieldTitle && create) {
				t.Fatalf("error on a field that was not sent: %+v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		// encoding/json turns a lone escaped surrogate into U+FFFD; the
		// reader must refuse those, so U+FFFD comes only from the client.
		sentFFFD := strings.Contains(string(body), "\uFFFD") || strings.Contains(strings.ToLower(string(body)), `\ufffd`)
		noFFFD := func(s string) {
			if !sentFFFD && strings.ContainsRune(s, utf8.RuneError) {
				t.Fatalf("text %q holds U+FFFD the client did not send", s)
			}
		}
		var sent map[string]any
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("accepted a body encoding/json refuses: %v", err)
		}
		if create && ch.Title == nil {
			t.Fatal("created without a title")
		}
		if ch.Title != nil {
			want := strings.TrimSpace(sent[fieldTitle].(string))
			if *ch.Title != want {
				t.Fatalf("title %q, sent %q", *ch.Title, want)
			}
			fuzzCheckText(t, *ch.Title, models.MaxTitleLength, false)
			noFFFD(*ch.Title)
			if *ch.Title == "" {
				t.Fatal("empty title accepted")
			}
		}
		for _, tf := range []struct {
			name   string
			change models.Nullable[string]
			max    int
			crlf   bool
		}{
			{fieldDescription, ch.Description, models.MaxDescriptionLength, true},
			{fieldCategory, ch.Category, models.MaxCategoryLength, false},
		} {
			v, present := sent[tf.name]
			if present != tf.change.Set {
				t.Fatalf("%s sent %v, set %v", tf.name, present, tf.change.Set)
			}
			if !present {
				continue
			}
			if v == nil {
				if tf.change.Value != nil {
					t.Fatalf("%s null became %q", tf.name, *tf.change.Value)
				}
				continue
			}
			if tf.change.Value == nil || *tf.change.Value != v.(string) {
				t.Fatalf("%s %q did not round-trip", tf.name, v)
			}
			fuzzCheckText(t, *tf.change.Value, tf.max, tf.crlf)
			noFFFD(*tf.change.Value)
		}
		if ch.Priority != nil && (*ch.Priority < 1 || *ch.Priority > 3) {
			t.Fatalf("priority %d accepted", *ch.Priority)
		}
		if d := ch.DueDate.Value; d != nil {
			if y := d.Year(); y < 1 || y > 9999 || d.Location() != time.UTC || d.Nanosecond()%int(time.Millisecond) != 0 {
				t.Fatalf("due date %v accepted", d.Time)
			}
			if _, err := models.ParseTime(d.String()); err != nil {
				t.Fatalf("due date %s does not read back: %v", d, err)
			}
		}
	})
}

func fuzzCheckText(t *testing.T, s string, maxLen int, crlf bool) {
	t.Helper()
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxLen {
		t.Fatalf("text %q accepted: invalid or over %d characters", s, maxLen)
	}
	for i, r := range s {
		if unicode.Is(unicode.Cc, r) && r != '\t' && r != '\n' && !(crlf && r == '\r' && strings.HasPrefix(s[i:], "\r\n")) {
			t.Fatalf("text %q holds control character %U", s, r)
		}
	}
}

// FuzzTaskListQuery feeds arbitrary query strings to the list's parameter
// reader. It must never panic, and what it accepts must be in range.
func FuzzTaskListQuery(f *testing.F) {
	for _, seed := range []string{
		"",
		"limit=200&offset=0&status=pending&priority=1&priority=high&category=Work&q=%25_%5C&due=week&tz=Asia%2FTokyo&sort=-due_date",
		"skip=5&status=true&priority=low,3&due=overdue&sort=title",
		"limit=0&offset=-1&status=x&priority=9&due=x&tz=Local&sort=--x&q=%00",
		"tz=../../etc/passwd&limit=99999999999999999999&q=%ff",
		"priority=1,&priority=,2&sort=+title&tz=America/New_York",
		"q=" + strings.Repeat("x", 1001),
	} {
		f.Add(seed)
	}
	now := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, errs := parseTaskListQuery(values, now)
		if len(errs) > 0 {
			for _, e := range errs {
				if _, ok := values[e.Field]; !ok {
					t.Fatalf("error on a parameter that was not sent: %+v", e)
				}
			}
			return
		}
		fl := q.Filter
		if q.Limit < 1 || q.Limit > models.MaxTaskListLimit || fl.Limit != q.Limit {
			t.Fatalf("limit %d accepted", q.Limit)
		}
		if q.Offset < 0 || fl.Offset != q.Offset {
			t.Fatalf("offset %d accepted", q.Offset)
		}
		for _, p := range fl.Priorities {
			if p < 1 || p > 3 {
				t.Fatalf("priority %d accepted", p)
			}
		}
		if !models.ValidTaskSort(fl.Sort) {
			t.Fatalf("sort %q accepted", fl.Sort)
		}
		switch fl.Due {
		case "", models.DueOverdue, models.DueToday, models.DueWeek, models.DueNone:
		default:
			t.Fatalf("due %q accepted", fl.Due)
		}
		if fl.Location == nil || fl.Location == time.Local && time.Local != time.UTC {
			t.Fatalf("location %v accepted", fl.Location)
		}
		if fl.Due == models.DueToday || fl.Due == models.DueWeek {
			from, before, ok := models.DueWindow(fl.Due, now, fl.Location)
			if !ok || !before.After(from.Time) || now.Before(from.Time) || !now.Before(before.Time) {
				t.Fatalf("window %s..%s does not hold now in %s", from, before, fl.Location)
			}
		}
		for _, text := range []struct {
			s   string
			max int
		}{{fl.Query, maxQueryLength}, {fuzzDeref(fl.Category), models.MaxCategoryLength}} {
			if !utf8.ValidString(text.s) || utf8.RuneCountInString(text.s) > text.max || !validTaskText(text.s, false) {
				t.Fatalf("text %q accepted", text.s)
			}
		}
	})
}

func fuzzDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
