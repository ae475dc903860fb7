package routes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/server/servertest"
	"github.com/todo-app/todo/models"
	"github.com/todo-app/todo/routes"
)

// Task API tests, on both engines. Identifiers carry a "tk" prefix because
// other files of this package are written independently.

var tkUsers atomic.Int64

// tkUser is a signed-in client and its user id.
type tkUser struct {
	*servertest.Client
	ID    string
	Token string
}

func tkSignUp(t *testing.T, srv *servertest.Server) *tkUser {
	t.Helper()
	c := srv.Client(t)
	n := tkUsers.Add(1)
	r := c.SignUp(fmt.Sprintf("Task User %d", n), fmt.Sprintf("tasks%d@example.com", n), "correct horse battery")
	body := r.JSON()
	return &tkUser{Client: c, ID: body["user"].(map[string]any)["id"].(string), Token: body["token"].(string)}
}

// tkTask is the API's Task object, timestamps kept as sent.
type tkTask = servertest.TaskJSON

type tkList struct {
	Tasks  []tkTask `json:"tasks"`
	Total  int64    `json:"total"`
	Limit  int      `json:"limit"`
	Offset int64    `json:"offset"`
}

func tkDecode[T any](t *testing.T, r *servertest.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return v
}

func tkPath(id int64) string { return "/api/tasks/" + strconv.FormatInt(id, 10) }

func tkETag(task tkTask) string { return fmt.Sprintf(`"%d-%d"`, task.ID, task.Version) }

// tkCreate posts body and insists on 201.
func (u *tkUser) tkCreate(t *testing.T, body any) tkTask {
	t.Helper()
	r := u.Request("POST", "/api/tasks", body, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("create %v: %d %s", body, r.Status, r.Body)
	}
	return tkDecode[tkTask](t, r)
}

// tkDo sends a request that must answer want, and decodes a task from it.
func (u *tkUser) tkDo(t *testing.T, method, path string, body any, hdr map[string]string, want int) tkTask {
	t.Helper()
	r := u.Request(method, path, body, hdr)
	if r.Status != want {
		t.Fatalf("%s %s %v: %d %s", method, path, body, r.Status, r.Body)
	}
	if want != http.StatusOK && want != http.StatusCreated {
		return tkTask{}
	}
	return tkDecode[tkTask](t, r)
}

func (u *tkUser) tkList(t *testing.T, query string) tkList {
	t.Helper()
	r := u.Request("GET", "/api/tasks?"+query, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list ?%s: %d %s", query, r.Status, r.Body)
	}
	return tkDecode[tkList](t, r)
}

func tkIDs(tasks []tkTask) []int64 {
	ids := make([]int64, len(tasks))
	for i, task := range tasks {
		ids[i] = task.ID
	}
	return ids
}

// tkWantProblem checks an RFC 9457 answer and, for 422, the fields named.
func tkWantProblem(t *testing.T, r *servertest.Response, status int, fields ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type %q", ct)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil || p.Status != status || p.Title == "" || p.Type == "" {
		t.Errorf("not a problem: %s", r.Body)
	}
	if status != http.StatusUnprocessableEntity {
		return
	}
	var got []string
	for _, e := range p.Errors {
		if e.Message == "" {
			t.Errorf("field %q has no message", e.Field)
		}
		got = append(got, e.Field)
	}
	slices.Sort(got)
	want := slices.Clone(fields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("invalid fields %v, want %v: %s", got, want, r.Body)
	}
}

func tkStr(s string) *string { return &s }

func tkEqualPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func tkTime(t *testing.T, s string) time.Time {
	t.Helper()
	if len(s) != len(models.TimeLayout) || !strings.HasSuffix(s, "Z") {
		t.Errorf("timestamp %q is not in %s", s, models.TimeLayout)
	}
	v, err := time.Parse(models.TimeLayout, s)
	if err != nil {
		t.Fatalf("timestamp %q: %v", s, err)
	}
	return v
}

func TestTaskCRUD(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		u := tkSignUp(t, srv)

		// Defaults, shape and headers of a minimal task.
		r := u.Request("POST", "/api/tasks", map[string]any{"title": "  Buy milk \n\t"}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		wantKeys(t, r.JSON(), "id", "title", "description", "status", "category", "priority", "due_date",
			"completed_at", "version", "created_at", "updated_at", "user_id")
		task := tkDecode[tkTask](t, r)
		if task.Title != "Buy milk" || task.Description != nil || task.Category != nil || task.Priority != 2 ||
			task.Status || task.DueDate != nil || task.CompletedAt != nil || task.Version != 1 || task.UserID != u.ID {
			t.Errorf("new task = %+v", task)
		}
		if task.CreatedAt != task.UpdatedAt {
			t.Errorf("created_at %s != updated_at %s", task.CreatedAt, task.UpdatedAt)
		}
		if d := time.Since(tkTime(t, task.CreatedAt)); d < -time.Minute || d > time.Minute {
			t.Errorf("created_at %s is not now", task.CreatedAt)
		}
		if loc := r.Header.Get("Location"); loc != tkPath(task.ID) {
			t.Errorf("Location %q", loc)
		}
		if etag := r.Header.Get("ETag"); etag != tkETag(task) {
			t.Errorf("ETag %q, want %q", etag, tkETag(task))
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		stored, err := srv.Store.TaskByID(context.Background(), u.ID, task.ID)
		if err != nil || stored.Title != "Buy milk" {
			t.Errorf("stored title %q, %v", stored.Title, err)
		}

		// Every field, priority by name, a date-only and an offset due date.
		full := u.tkCreate(t, map[string]any{"title": "Report", "description": "Quarterly\r\nnumbers",
			"category": "Work", "priority": "HIGH", "status": true, "due_date": "2026-12-24"})
		if *full.Description != "Quarterly\r\nnumbers" || *full.Category != "Work" || full.Priority != 3 || !full.Status ||
			*full.DueDate != "2026-12-24T00:00:00.000Z" || full.CompletedAt == nil || full.Version != 1 {
			t.Errorf("full task = %+v", full)
		}
		offset := u.tkCreate(t, map[string]any{"title": "Call", "due_date": "2026-03-10T09:30:00.123456+09:00", "priority": 1})
		if *offset.DueDate != "2026-03-10T00:30:00.123Z" || offset.Priority != 1 {
			t.Errorf("offset due date = %v, priority %d", *offset.DueDate, offset.Priority)
		}
		lower := u.tkCreate(t, map[string]any{"title": "Lower", "due_date": "2026-03-10t09:30:00.5-05:30"})
		if *lower.DueDate != "2026-03-10T15:00:00.500Z" {
			t.Errorf("lower-case t due date = %v", *lower.DueDate)
		}
		for _, due := range []string{"0001-01-01", "9999-12-31T23:59:59.999Z", "1969-07-20T20:17:40z", "2026-01-01T00:00:00.123456789-23:59"} {
			got := u.tkCreate(t, map[string]any{"title": "Far", "due_date": due})
			back := u.tkDo(t, "GET", tkPath(got.ID), nil, nil, 200)
			if tkTime(t, *back.DueDate) != tkTime(t, *got.DueDate) || !strings.HasPrefix(*back.DueDate, due[:10]) {
				t.Errorf("due %s came back as %s / %s", due, *got.DueDate, *back.DueDate)
			}
		}

		// GET one, by both paths' spelling; ETag on it.
		r = u.Request("GET", tkPath(full.ID), nil, nil)
		if r.Status != 200 || !tkSame(tkDecode[tkTask](t, r), full) {
			t.Errorf("get: %d %s", r.Status, r.Body)
		}
		if r.Header.Get("ETag") != tkETag(full) {
			t.Errorf("get ETag %q", r.Header.Get("ETag"))
		}

		// Trailing slash: list and create.
		viaSlash := u.tkDo(t, "POST", "/api/tasks/", map[string]any{"title": "slash"}, nil, 201)
		r = u.Request("GET", "/api/tasks/", nil, nil)
		if r.Status != 200 || !slices.Contains(tkIDs(tkDecode[tkList](t, r).Tasks), viaSlash.ID) {
			t.Errorf("GET /api/tasks/: %d %s", r.Status, r.Body)
		}
		wantKeys(t, r.JSON(), "tasks", "total", "limit", "offset")

		// PUT changes only the fields present.
		time.Sleep(3 * time.Millisecond)
		put := u.tkDo(t, "PUT", tkPath(full.ID), map[string]any{"title": " Annual report "}, nil, 200)
		if put.Title != "Annual report" || !tkEqualPtr(put.Description, full.Description) || !tkEqualPtr(put.Category, full.Category) ||
			put.Priority != 3 || !put.Status || !tkEqualPtr(put.DueDate, full.DueDate) || !tkEqualPtr(put.CompletedAt, full.CompletedAt) ||
			put.Version != 2 || put.CreatedAt != full.CreatedAt || !tkTime(t, put.UpdatedAt).After(tkTime(t, full.UpdatedAt)) {
			t.Errorf("PUT title: %+v, was %+v", put, full)
		}

		// PATCH with null clears the optional fields; other fields stay.
		time.Sleep(3 * time.Millisecond)
		cleared := u.tkDo(t, "PATCH", tkPath(full.ID), map[string]any{"description": nil, "category": nil, "due_date": nil}, nil, 200)
		if cleared.Description != nil || cleared.Category != nil || cleared.DueDate != nil || cleared.Title != "Annual report" ||
			cleared.Priority != 3 || !cleared.Status || cleared.Version != 3 || !tkTime(t, cleared.UpdatedAt).After(tkTime(t, put.UpdatedAt)) {
			t.Errorf("PATCH nulls: %+v", cleared)
		}

		// The same values again change nothing: no new version, same updated_at.
		for _, method := range []string{"PUT", "PATCH"} {
			for _, body := range []map[string]any{
				{},
				{"title": "Annual report", "description": nil, "status": true, "priority": "high", "category": nil, "due_date": nil},
				{"title": "\tAnnual report  ", "version": 99, "id": 5},
			} {
				same := u.tkDo(t, method, tkPath(full.ID), body, nil, 200)
				if !tkSame(same, cleared) {
					t.Errorf("%s %v changed the task: %+v, was %+v", method, body, same, cleared)
				}
			}
		}
		// A due date given with another offset but naming the same instant is no change.
		withDue := u.tkDo(t, "PATCH", tkPath(full.ID), map[string]any{"due_date": "2027-01-01T09:00:00+09:00"}, nil, 200)
		again := u.tkDo(t, "PATCH", tkPath(full.ID), map[string]any{"due_date": "2027-01-01T00:00:00.000Z"}, nil, 200)
		if withDue.Version != 4 || again.Version != 4 || *again.DueDate != "2027-01-01T00:00:00.000Z" {
			t.Errorf("same instant bumped the version: %d then %d", withDue.Version, again.Version)
		}

		// status false clears completed_at; true sets a new one.
		pending := u.tkDo(t, "PATCH", tkPath(full.ID), map[string]any{"status": false}, nil, 200)
		if pending.Status || pending.CompletedAt != nil || pending.Version != 5 {
			t.Errorf("status false: %+v", pending)
		}
		time.Sleep(3 * time.Millisecond)
		done := u.tkDo(t, "PATCH", tkPath(full.ID), map[string]any{"status": true}, nil, 200)
		if !done.Status || done.CompletedAt == nil || done.Version != 6 || !tkTime(t, *done.CompletedAt).After(tkTime(t, *full.CompletedAt)) ||
			*done.CompletedAt != done.UpdatedAt {
			t.Errorf("status true: %+v", done)
		}
		// status true on a complete task keeps completed_at and version.
		if still := u.tkDo(t, "PUT", tkPath(full.ID), map[string]any{"status": true}, nil, 200); !tkSame(still, done) {
			t.Errorf("status true again changed the task: %+v", still)
		}

		// Complete is idempotent: the repeat changes nothing at all.
		time.Sleep(3 * time.Millisecond)
		r = u.Request("PATCH", tkPath(task.ID)+"/complete", nil, nil)
		first := tkDecode[tkTask](t, r)
		if r.Status != 200 || !first.Status || first.CompletedAt == nil || first.Version != 2 || *first.CompletedAt != first.UpdatedAt ||
			r.Header.Get("ETag") != tkETag(first) {
			t.Fatalf("complete: %d %s", r.Status, r.Body)
		}
		time.Sleep(3 * time.Millisecond)
		for _, body := range []any{nil, map[string]any{"status": false}, "not json"} {
			second := u.tkDo(t, "PATCH", tkPath(task.ID)+"/complete", body, nil, 200)
			if !tkSame(second, first) {
				t.Errorf("repeated complete changed the task: %+v, was %+v", second, first)
			}
		}

		// DELETE answers 204 with no body; the task is gone.
		r = u.Request("DELETE", tkPath(task.ID), nil, nil)
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("delete: %d %q", r.Status, r.Body)
		}
		tkWantProblem(t, u.Request("GET", tkPath(task.ID), nil, nil), 404)
		tkWantProblem(t, u.Request("DELETE", tkPath(task.ID), nil, nil), 404)
		tkWantProblem(t, u.Request("PATCH", tkPath(task.ID), map[string]any{"title": "x"}, nil), 404)
		tkWantProblem(t, u.Request("PATCH", tkPath(task.ID)+"/complete", nil, nil), 404)
	})
}

// tkSame compares two task JSONs field by field.
func tkSame(a, b tkTask) bool {
	return a.ID == b.ID && a.Title == b.Title && tkEqualPtr(a.Description, b.Description) && a.Status == b.Status &&
		tkEqualPtr(a.Category, b.Category) && a.Priority == b.Priority && tkEqualPtr(a.DueDate, b.DueDate) &&
		tkEqualPtr(a.CompletedAt, b.CompletedAt) && a.Version == b.Version && a.CreatedAt == b.CreatedAt &&
		a.UpdatedAt == b.UpdatedAt && a.UserID == b.UserID
}

func TestTaskValidation(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		u := tkSignUp(t, srv)
		existing := u.tkCreate(t, map[string]any{"title": "existing", "description": "keep", "category": "keep"})

		x := strings.Repeat
		// Every case but "title missing" answers the same to PUT and PATCH.
		cases := []struct {
			name   string
			body   string
			status int
			fields []string // for 422
		}{
			{"truncated JSON", `{"title":`, 400, nil},
			{"trailing garbage", `{"title":"a"} x`, 400, nil},
			{"two objects", `{"title":"a"}{"title":"b"}`, 400, nil},
			{"array", `[{"title":"a"}]`, 400, nil},
			{"string", `"title"`, 400, nil},
			{"null body", `null`, 400, nil},
			{"empty body", ``, 400, nil},
			{"invalid UTF-8", "{\"title\":\"caf\xe9 \xff\"}", 422, []string{"body"}},
			{"invalid UTF-8 in unknown field", "{\"title\":\"ok\",\"x\":\"\xc3\x28\"}", 422, []string{"body"}},

			{"title missing", `{"description":"d"}`, 422, []string{"title"}},
			{"title empty", `{"title":""}`, 422, []string{"title"}},
			{"title only white space", `{"title":" \t\n\u00a0\u3000 "}`, 422, []string{"title"}},
			{"title 201 characters", `{"title":"` + x("a", 201) + `"}`, 422, []string{"title"}},
			{"title 201 multi-byte characters", `{"title":"` + x("é", 201) + `"}`, 422, []string{"title"}},
			{"title number", `{"title":5}`, 422, []string{"title"}},
			{"title array", `{"title":["a"]}`, 422, []string{"title"}},
			{"title null", `{"title":null}`, 422, []string{"title"}},
			{"title NUL", `{"title":"a\u0000b"}`, 422, []string{"title"}},
			{"title BEL", `{"title":"a\u0007b"}`, 422, []string{"title"}},
			{"title CR", `{"title":"a\rb"}`, 422, []string{"title"}},
			{"title CRLF", `{"title":"a\r\nb"}`, 422, []string{"title"}},
			{"title DEL", `{"title":"a\u007fb"}`, 422, []string{"title"}},
			{"title C1 control", `{"title":"a\u0085b"}`, 422, []string{"title"}},
			{"title escape", `{"title":"a\u001b[31mb"}`, 422, []string{"title"}},
			{"title lone high surrogate", `{"title":"a\ud800b"}`, 422, []string{"title"}},
			{"title lone low surrogate", `{"title":"\udc00"}`, 422, []string{"title"}},
			{"title reversed surrogates", `{"title":"\ude00\ud83d"}`, 422, []string{"title"}},

			{"description 1001 characters", `{"title":"t","description":"` + x("d", 1001) + `"}`, 422, []string{"description"}},
			{"description number", `{"title":"t","description":1}`, 422, []string{"description"}},
			{"description object", `{"title":"t","description":{}}`, 422, []string{"description"}},
			{"description lone CR", `{"title":"t","description":"a\rb"}`, 422, []string{"description"}},
			{"description trailing CR", `{"title":"t","description":"a\r"}`, 422, []string{"description"}},
			{"description vertical tab", `{"title":"t","description":"a\u000bb"}`, 422, []string{"description"}},
			{"category 101 characters", `{"title":"t","category":"` + x("c", 101) + `"}`, 422, []string{"category"}},
			{"category boolean", `{"title":"t","category":true}`, 422, []string{"category"}},
			{"category newline OK but form feed not", `{"title":"t","category":"a\fb"}`, 422, []string{"category"}},

			{"priority 0", `{"title":"t","priority":0}`, 422, []string{"priority"}},
			{"priority 4", `{"title":"t","priority":4}`, 422, []string{"priority"}},
			{"priority -1", `{"title":"t","priority":-1}`, 422, []string{"priority"}},
			{"priority 2.5", `{"title":"t","priority":2.5}`, 422, []string{"priority"}},
			{"priority 2.0", `{"title":"t","priority":2.0}`, 422, []string{"priority"}},
			{"priority 2e0", `{"title":"t","priority":2e0}`, 422, []string{"priority"}},
			{"priority digit string", `{"title":"t","priority":"2"}`, 422, []string{"priority"}},
			{"priority unknown name", `{"title":"t","priority":"urgent"}`, 422, []string{"priority"}},
			{"priority padded name", `{"title":"t","priority":" high"}`, 422, []string{"priority"}},
			{"priority boolean", `{"title":"t","priority":true}`, 422, []string{"priority"}},
			{"priority null", `{"title":"t","priority":null}`, 422, []string{"priority"}},
			{"status string", `{"title":"t","status":"true"}`, 422, []string{"status"}},
			{"status number", `{"title":"t","status":1}`, 422, []string{"status"}},
			{"status null", `{"title":"t","status":null}`, 422, []string{"status"}},

			{"due month 13", `{"title":"t","due_date":"2026-13-01"}`, 422, []string{"due_date"}},
			{"due 30 February", `{"title":"t","due_date":"2026-02-30"}`, 422, []string{"due_date"}},
			{"due day first", `{"title":"t","due_date":"24/12/2026"}`, 422, []string{"due_date"}},
			{"due space separator", `{"title":"t","due_date":"2026-12-24 10:00:00"}`, 422, []string{"due_date"}},
			{"due without zone", `{"title":"t","due_date":"2026-12-24T10:00:00"}`, 422, []string{"due_date"}},
			{"due hour 24", `{"title":"t","due_date":"2026-12-24T24:00:00Z"}`, 422, []string{"due_date"}},
			{"due one-digit hour", `{"title":"t","due_date":"2026-12-24T1:00:00Z"}`, 422, []string{"due_date"}},
			{"due decimal comma", `{"title":"t","due_date":"2026-12-24T10:00:00,5Z"}`, 422, []string{"due_date"}},
			{"due empty fraction", `{"title":"t","due_date":"2026-12-24T10:00:00.Z"}`, 422, []string{"due_date"}},
			{"due offset +24:00", `{"title":"t","due_date":"2026-12-24T10:00:00+24:00"}`, 422, []string{"due_date"}},
			{"due offset without colon", `{"title":"t","due_date":"2026-12-24T10:00:00+0100"}`, 422, []string{"due_date"}},
			{"due leap second", `{"title":"t","due_date":"2026-12-31T23:59:60Z"}`, 422, []string{"due_date"}},
			{"due signed year", `{"title":"t","due_date":"+2026-12-24"}`, 422, []string{"due_date"}},
			{"due word", `{"title":"t","due_date":"tomorrow"}`, 422, []string{"due_date"}},
			{"due empty", `{"title":"t","due_date":""}`, 422, []string{"due_date"}},
			{"due number", `{"title":"t","due_date":1767225600}`, 422, []string{"due_date"}},
			{"due year 0", `{"title":"t","due_date":"0000-06-01"}`, 422, []string{"due_date"}},
			{"due past year 9999 in UTC", `{"title":"t","due_date":"9999-12-31T23:30:00-01:00"}`, 422, []string{"due_date"}},

			{"every field at once", `{"title":" ","description":7,"category":[],"priority":"x","status":"x","due_date":"x"}`,
				422, []string{"title", "description", "category", "priority", "status", "due_date"}},
		}
		before := u.tkList(t, "").Total
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tkWantProblem(t, u.Request("POST", "/api/tasks", tc.body, nil), tc.status, tc.fields...)
				if tc.name == "title missing" {
					return // updates do not need a title
				}
				for _, method := range []string{"PUT", "PATCH"} {
					tkWantProblem(t, u.Request(method, tkPath(existing.ID), tc.body, nil), tc.status, tc.fields...)
				}
			})
		}
		if after := u.tkList(t, "").Total; after != before {
			t.Errorf("refused bodies stored tasks: %d -> %d", before, after)
		}
		if got := u.tkDo(t, "GET", tkPath(existing.ID), nil, nil, 200); !tkSame(got, existing) {
			t.Errorf("refused updates changed the task: %+v", got)
		}

		// Content-Type must be JSON (parameters allowed).
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/jsonx", "multipart/form-data"} {
			tkWantProblem(t, u.Request("POST", "/api/tasks", `{"title":"t"}`, map[string]string{"Content-Type": ct}), 415)
			tkWantProblem(t, u.Request("PATCH", tkPath(existing.ID), `{"title":"t"}`, map[string]string{"Content-Type": ct}), 415)
		}
		u.tkDo(t, "POST", "/api/tasks", `{"title":"charset"}`, map[string]string{"Content-Type": "application/json; charset=utf-8"}, 201)

		// Accepted edges: lengths count characters, not bytes.
		for _, tc := range []struct{ name, field, value string }{
			{"200 ASCII", "title", x("a", 200)},
			{"200 two-byte", "title", x("é", 200)},
			{"200 four-byte", "title", x("😀", 200)},
			{"200 after trimming", "title", "  " + x("t", 200) + "\n "},
			{"1000 three-byte description", "description", x("日", 1000)},
			{"100 four-byte category", "category", x("🏷", 100)},
			{"empty description", "description", ""},
			{"empty category", "category", ""},
			{"tab and newline", "description", "a\tb\nc\r\n"},
			{"zero-width and bidi", "title", "a\u200bb\u202ec\u2028d"},
			{"surrogate pair", "title", "\U0001F600"},
		} {
			body := map[string]any{"title": "t", tc.field: tc.value}
			got := u.tkCreate(t, body)
			want := tc.value
			if tc.field == "title" {
				want = strings.TrimSpace(want)
			}
			var have string
			switch tc.field {
			case "title":
				have = got.Title
			case "description":
				have = *got.Description
			case "category":
				have = *got.Category
			}
			if have != want {
				t.Errorf("%s: %q came back as %q", tc.name, want, have)
			}
		}
		// Escaped surrogate pairs decode to the character.
		got := u.tkCreate(t, `{"title":"\ud83d\ude00 \u00e9"}`)
		if got.Title != "😀 é" {
			t.Errorf("surrogate pair title = %q", got.Title)
		}

		// Priorities by number and by name in any case.
		for in, want := range map[any]int{1: 1, 2: 2, 3: 3, "low": 1, "Medium": 2, "HIGH": 3, "hIgH": 3} {
			if got := u.tkCreate(t, map[string]any{"title": "p", "priority": in}); got.Priority != want {
				t.Errorf("priority %v = %d, want %d", in, got.Priority, want)
			}
		}

		// Unknown and read-only fields are ignored, whatever their type.
		r := u.Request("POST", "/api/tasks", `{"title":"ro","id":999999,"user_id":"someone-else","version":42,
			"created_at":"garbage","updated_at":5,"completed_at":"2020-01-01T00:00:00Z","owner":{"x":[1]},"tags":null}`, nil)
		ro := tkDecode[tkTask](t, r)
		if r.Status != 201 || ro.ID == 999999 || ro.UserID != u.ID || ro.Version != 1 || ro.CompletedAt != nil {
			t.Errorf("read-only fields: %d %s", r.Status, r.Body)
		}
		upd := u.tkDo(t, "PATCH", tkPath(ro.ID), `{"id":1,"user_id":"x","version":9,"created_at":"2000-01-01T00:00:00.000Z","completed_at":"x"}`, nil, 200)
		if !tkSame(upd, ro) {
			t.Errorf("read-only fields changed the task: %+v", upd)
		}

		// Path ids: anything but a positive decimal integer is a 422 on id.
		for _, id := range []string{"abc", "1.5", "-1", "0", "+1", "1e3", "0x10", "99999999999999999999", "9223372036854775808", "%20"} {
			for _, m := range []struct {
				method, suffix string
				body           any
			}{{"GET", "", nil}, {"PUT", "", map[string]any{"title": "t"}}, {"PATCH", "", map[string]any{}},
				{"DELETE", "", nil}, {"PATCH", "/complete", nil}} {
				tkWantProblem(t, u.Request(m.method, "/api/tasks/"+id+m.suffix, m.body, nil), 422, "id")
			}
		}
		tkWantProblem(t, u.Request("GET", "/api/tasks/9223372036854775807", nil, nil), 404)
		if got := u.tkDo(t, "GET", "/api/tasks/000"+strconv.FormatInt(existing.ID, 10), nil, nil, 200); got.ID != existing.ID {
			t.Errorf("leading zeros found %d", got.ID)
		}
	})
}

func TestTaskTextIsData(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		u := tkSignUp(t, srv)
		payloads := []string{
			"'; DROP TABLE task; --",
			"<script>alert(1)</script>",
			`%_\`,
			`Robert'); DELETE FROM "user";--`,
			`" OR 1=1 --`,
			"$1 ? ?? :name ?TableAlias",
			`back\slash \\ \n \u0000`,
			"emoji 😀 ünïcödé ÅÄÖ ß",
			"&amp; &lt;b&gt; <img src=x onerror=alert(1)>",
			"{{.}} ${x} `rm -rf`",
		}
		ids := map[string]int64{}
		for _, p := range payloads {
			created := u.tkCreate(t, map[string]any{"title": p, "description": p, "category": p})
			ids[p] = created.ID
			back := u.tkDo(t, "GET", tkPath(created.ID), nil, nil, 200)
			if back.Title != p || *back.Description != p || *back.Category != p {
				t.Errorf("%q came back as %q / %q / %q", p, back.Title, *back.Description, *back.Category)
			}
			stored, err := srv.Store.TaskByID(context.Background(), u.ID, created.ID)
			if err != nil || stored.Title != p || *stored.Description != p || *stored.Category != p {
				t.Errorf("%q stored as %+v (%v)", p, stored, err)
			}
			// category filters by exact text.
			l := u.tkList(t, "category="+url.QueryEscape(p))
			if l.Total != 1 || l.Tasks[0].ID != created.ID {
				t.Errorf("category=%q found %v", p, tkIDs(l.Tasks))
			}
		}
		// Decoys holding one pattern character each.
		decoy := func(title string) int64 { return u.tkCreate(t, map[string]any{"title": title}).ID }
		percent, under, slash, plain := decoy("50% off"), decoy("snake_case"), decoy(`C:\dir`), decoy("plain words")

		search := func(q string) []int64 {
			ids := tkIDs(u.tkList(t, "limit=200&q="+url.QueryEscape(q)).Tasks)
			slices.Sort(ids)
			return ids
		}
		sorted := func(ids ...int64) []int64 { slices.Sort(ids); return ids }
		for _, tc := range []struct {
			q    string
			want []int64
		}{
			{`%_\`, sorted(ids[`%_\`])},
			{"%", sorted(ids[`%_\`], percent)},
			{"_", sorted(ids[`%_\`], under)},
			{`\`, sorted(ids[`%_\`], ids[`back\slash \\ \n \u0000`], slash)},
			{"drop table", sorted(ids["'; DROP TABLE task; --"])},
			{"'; DROP", sorted(ids["'; DROP TABLE task; --"])},
			{"<SCRIPT>", sorted(ids["<script>alert(1)</script>"])},
			{"?TableAlias", sorted(ids["$1 ? ?? :name ?TableAlias"])},
			{"PLAIN", sorted(plain)},
			{"ünïcödé", sorted(ids["emoji 😀 ünïcödé ÅÄÖ ß"])},
			{"😀", sorted(ids["emoji 😀 ünïcödé ÅÄÖ ß"])},
			{"no such text", sorted()},
		} {
			if got := search(tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("q=%q found %v, want %v", tc.q, got, tc.want)
			}
		}
		// The table is intact and still holds every task.
		if l := u.tkList(t, ""); l.Total != int64(len(payloads)+4) {
			t.Errorf("total %d after payloads", l.Total)
		}
		// The JSON escapes markup, so no response carries a live tag.
		r := u.Request("GET", tkPath(ids["<script>alert(1)</script>"]), nil, nil)
		if strings.Contains(string(r.Body), "<script>") {
			t.Errorf("raw markup in JSON: %s", r.Body)
		}
	})
}

func TestTaskIsolation(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		owner, other := tkSignUp(t, srv), tkSignUp(t, srv)
		task := owner.tkCreate(t, map[string]any{"title": "secret plan", "category": "private", "priority": 3})
		mine := other.tkCreate(t, map[string]any{"title": "my own"})
		missing := max(task.ID, mine.ID) + 1000

		requests := []struct {
			method, suffix string
			body           any
			hdr            map[string]string
		}{
			{"GET", "", nil, nil},
			{"GET", "", nil, map[string]string{"If-None-Match": `"` + strconv.FormatInt(task.ID, 10) + `-1"`}},
			{"PUT", "", map[string]any{"title": "stolen"}, nil},
			{"PATCH", "", map[string]any{"status": true}, nil},
			{"PATCH", "", map[string]any{"title": "stolen"}, map[string]string{"If-Match": "*"}},
			{"PATCH", "", map[string]any{"title": "stolen"}, map[string]string{"If-Match": "1"}},
			{"PATCH", "/complete", nil, nil},
			{"PATCH", "/complete", nil, map[string]string{"If-Match": `"999-9"`}},
			{"DELETE", "", nil, nil},
			{"DELETE", "", nil, map[string]string{"If-Match": "1"}},
		}
		for _, rq := range requests {
			theirs := other.Request(rq.method, tkPath(task.ID)+rq.suffix, rq.body, rq.hdr)
			gone := other.Request(rq.method, tkPath(missing)+rq.suffix, rq.body, rq.hdr)
			tkWantProblem(t, theirs, 404)
			if theirs.Status != gone.Status || string(theirs.Body) != string(gone.Body) ||
				theirs.Header.Get("Content-Type") != gone.Header.Get("Content-Type") || theirs.Header.Get("ETag") != "" {
				t.Errorf("%s %s: another user's task %d %s differs from a missing one %d %s",
					rq.method, rq.suffix, theirs.Status, theirs.Body, gone.Status, gone.Body)
			}
		}
		// Invalid bodies get the same 422 for either.
		a := other.Request("PATCH", tkPath(task.ID), map[string]any{"title": ""}, nil)
		b := other.Request("PATCH", tkPath(missing), map[string]any{"title": ""}, nil)
		if a.Status != 422 || string(a.Body) != string(b.Body) {
			t.Errorf("422 differs: %s / %s", a.Body, b.Body)
		}
		// The owner's task is untouched.
		if got := owner.tkDo(t, "GET", tkPath(task.ID), nil, nil, 200); !tkSame(got, task) {
			t.Errorf("other user's requests changed the task: %+v", got)
		}
		// Lists never show another user's tasks, whatever the filter.
		for _, q := range []string{"", "status=all", "category=private", "q=secret", "priority=3", "due=none", "sort=title", "limit=200"} {
			l := other.tkList(t, q)
			for _, got := range l.Tasks {
				if got.UserID != other.ID || got.ID == task.ID {
					t.Errorf("?%s shows %+v to another user", q, got)
				}
			}
			if q == "" && (l.Total != 1 || l.Tasks[0].ID != mine.ID) {
				t.Errorf("other user's list = %+v", l)
			}
		}
		if l := owner.tkList(t, ""); l.Total != 1 || l.Tasks[0].ID != task.ID {
			t.Errorf("owner's list = %+v", l)
		}

		// Without a session every endpoint answers 401, even for bad ids.
		anon := srv.Client(t)
		for _, rq := range []struct{ method, path string }{
			{"GET", "/api/tasks"}, {"GET", "/api/tasks/"}, {"POST", "/api/tasks"}, {"POST", "/api/tasks/"},
			{"GET", tkPath(task.ID)}, {"PUT", tkPath(task.ID)}, {"PATCH", tkPath(task.ID)}, {"DELETE", tkPath(task.ID)},
			{"PATCH", tkPath(task.ID) + "/complete"}, {"GET", "/api/tasks/abc"}, {"GET", "/api/tasks?limit=0"},
		} {
			var body any
			if rq.method == "POST" || rq.method == "PUT" || rq.method == "PATCH" {
				body = map[string]any{"title": "anon"}
			}
			tkWantProblem(t, anon.Request(rq.method, rq.path, body, nil), 401)
			// A bogus bearer token is no better.
			tkWantProblem(t, anon.Request(rq.method, rq.path, body, map[string]string{"Authorization": "Bearer nope"}), 401)
		}
		if got := owner.tkDo(t, "GET", tkPath(task.ID), nil, nil, 200); !tkSame(got, task) {
			t.Errorf("anonymous requests changed the task: %+v", got)
		}
	})
}

func TestTaskPreconditions(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		u := tkSignUp(t, srv)
		task := u.tkCreate(t, map[string]any{"title": "versioned"})
		other := u.tkCreate(t, map[string]any{"title": "other"})
		etag := tkETag(task)
		if etag != fmt.Sprintf(`"%d-1"`, task.ID) {
			t.Fatalf("ETag %s", etag)
		}

		// If-None-Match: the current ETag (or *) is a 304 with no body.
		for _, inm := range []string{etag, "W/" + etag, "*", `"x", ` + etag, "1"} {
			r := u.Request("GET", tkPath(task.ID), nil, map[string]string{"If-None-Match": inm})
			if r.Status != http.StatusNotModified || len(r.Body) != 0 || r.Header.Get("ETag") != etag {
				t.Errorf("If-None-Match %s: %d %q %q", inm, r.Status, r.Body, r.Header.Get("ETag"))
			}
		}
		for _, inm := range []string{fmt.Sprintf(`"%d-2"`, task.ID), tkETag(other), `"garbage"`} {
			if r := u.Request("GET", tkPath(task.ID), nil, map[string]string{"If-None-Match": inm}); r.Status != 200 {
				t.Errorf("If-None-Match %s: %d", inm, r.Status)
			}
		}

		// If-Match with a stale or foreign tag: 412, nothing changes.
		v2 := u.tkDo(t, "PATCH", tkPath(task.ID), map[string]any{"title": "v2"}, map[string]string{"If-Match": etag}, 200)
		if v2.Version != 2 {
			t.Fatalf("version %d", v2.Version)
		}
		stale := []string{etag, "W/" + etag, "1", `"1"`, tkETag(tkTask{ID: other.ID, Version: 2}), `"garbage"`, "0", "-1", `"2-2-2"`}
		for _, im := range stale {
			hdr := map[string]string{"If-Match": im}
			tkWantProblem(t, u.Request("PATCH", tkPath(task.ID), map[string]any{"title": "lost"}, hdr), 412)
			tkWantProblem(t, u.Request("PUT", tkPath(task.ID), map[string]any{"priority": 1}, hdr), 412)
			tkWantProblem(t, u.Request("PATCH", tkPath(task.ID)+"/complete", nil, hdr), 412)
			tkWantProblem(t, u.Request("DELETE", tkPath(task.ID), nil, hdr), 412)
			// A no-op update is still refused.
			tkWantProblem(t, u.Request("PATCH", tkPath(task.ID), map[string]any{}, hdr), 412)
		}
		if got := u.tkDo(t, "GET", tkPath(task.ID), nil, nil, 200); !tkSame(got, v2) {
			t.Fatalf("412s changed the task: %+v", got)
		}
		// Current tags match in every accepted form.
		cur := v2
		for _, form := range []func(tkTask) string{
			tkETag,
			func(c tkTask) string { return "W/" + tkETag(c) },
			func(tkTask) string { return "*" },
			func(c tkTask) string { return `"junk", ` + tkETag(c) },
			func(c tkTask) string { return strconv.Itoa(c.Version) },
			func(c tkTask) string { return `"` + strconv.Itoa(c.Version) + `"` },
		} {
			im := form(cur)
			next := u.tkDo(t, "PATCH", tkPath(task.ID), map[string]any{"title": "t" + strconv.Itoa(cur.Version)}, map[string]string{"If-Match": im}, 200)
			if next.Version != cur.Version+1 {
				t.Errorf("If-Match %s: version %d", im, next.Version)
			}
			cur = next
		}
		completed := u.tkDo(t, "PATCH", tkPath(task.ID)+"/complete", nil, map[string]string{"If-Match": tkETag(cur)}, 200)
		// An idempotent complete with the current tag keeps the version.
		if again := u.tkDo(t, "PATCH", tkPath(task.ID)+"/complete", nil, map[string]string{"If-Match": tkETag(completed)}, 200); !tkSame(again, completed) {
			t.Errorf("complete again: %+v", again)
		}
		tkWantProblem(t, u.Request("DELETE", tkPath(task.ID), nil, map[string]string{"If-Match": tkETag(cur)}), 412)
		u.tkDo(t, "DELETE", tkPath(task.ID), nil, map[string]string{"If-Match": tkETag(completed)}, 204)
		// If-Match on a missing task is its 404.
		tkWantProblem(t, u.Request("PATCH", tkPath(task.ID), map[string]any{}, map[string]string{"If-Match": "*"}), 404)

		// Concurrent writers holding the same version: exactly one wins.
		race := u.tkCreate(t, map[string]any{"title": "race"})
		const writers = 8
		var wg sync.WaitGroup
		statuses := make([]int, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = u.Request("PATCH", tkPath(race.ID), map[string]any{"title": fmt.Sprintf("writer %d", i)},
					map[string]string{"If-Match": tkETag(race)}).Status
			}()
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case 200:
				won++
			case 412:
			default:
				t.Errorf("concurrent PATCH: %d", s)
			}
		}
		if final := u.tkDo(t, "GET", tkPath(race.ID), nil, nil, 200); won != 1 || final.Version != 2 {
			t.Errorf("%d writers won, final version %d (statuses %v)", won, final.Version, statuses)
		}
		// Without If-Match concurrent updates all apply, one version each.
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = u.Request("PATCH", tkPath(race.ID), map[string]any{"title": fmt.Sprintf("free %d", i)}, nil).Status
			}()
		}
		wg.Wait()
		if final := u.tkDo(t, "GET", tkPath(race.ID), nil, nil, 200); final.Version != 2+writers {
			t.Errorf("after %d free writers version %d (statuses %v)", writers, final.Version, statuses)
		}
	})
}

func TestTaskList(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		u := tkSignUp(t, srv)
		// Ties everywhere: equal priorities, titles and due dates.
		specs := []map[string]any{
			{"title": "banana", "priority": 1, "category": "Work", "due_date": "2026-05-01"},
			{"title": "Banana", "priority": 3, "category": "work", "due_date": "2026-05-01", "status": true},
			{"title": "apple", "priority": 2, "description": "Green APPLES", "due_date": "2026-04-01T10:00:00Z"},
			{"title": "Äpfel", "priority": 3, "category": "Work"},
			{"title": "zebra", "priority": 2, "status": true},
			{"title": "banana", "priority": 1, "due_date": "2026-05-01"},
			{"title": "cherry", "priority": 2, "category": "Home", "description": "pick cherries"},
			{"title": "apple", "priority": 3, "due_date": "2025-01-01", "status": true},
		}
		var all []tkTask
		for i, s := range specs {
			all = append(all, u.tkCreate(t, s))
			if i%3 == 0 {
				time.Sleep(2 * time.Millisecond) // some equal created_at, some not
			}
		}
		// Touch two so updated_at differs from created_at order.
		time.Sleep(2 * time.Millisecond)
		for _, i := range []int{0, 6} {
			all[i] = u.tkDo(t, "PATCH", tkPath(all[i].ID), map[string]any{"description": "touched"}, nil, 200)
		}
		// Another user's tasks never count.
		tkSignUp(t, srv).tkCreate(t, map[string]any{"title": "apple", "priority": 3})

		// Default: newest first, id descending on ties, everything.
		l := u.tkList(t, "")
		if l.Total != int64(len(all)) || l.Limit != 50 || l.Offset != 0 || len(l.Tasks) != len(all) {
			t.Fatalf("default list: total %d limit %d offset %d len %d", l.Total, l.Limit, l.Offset, len(l.Tasks))
		}
		tkCheckOrder(t, "default", l.Tasks, "created_at", true)

		// Every sort key, both directions, ties broken by id the same way.
		for _, key := range []string{"created_at", "updated_at", "priority", "title", "due_date"} {
			for _, desc := range []bool{false, true} {
				sort := key
				if desc {
					sort = "-" + key
				}
				l := u.tkList(t, "sort="+sort)
				if len(l.Tasks) != len(all) {
					t.Fatalf("sort=%s: %d tasks", sort, len(l.Tasks))
				}
				tkCheckOrder(t, "sort="+sort, l.Tasks, key, desc)
				// Pages of 3 put together are the same list.
				var paged []int64
				for off := 0; off < len(all)+3; off += 3 {
					p := u.tkList(t, fmt.Sprintf("sort=%s&limit=3&offset=%d", sort, off))
					if p.Total != int64(len(all)) || p.Limit != 3 || p.Offset != int64(off) {
						t.Errorf("page %d: %+v", off, p)
					}
					paged = append(paged, tkIDs(p.Tasks)...)
				}
				if !slices.Equal(paged, tkIDs(l.Tasks)) {
					t.Errorf("sort=%s pages %v != list %v", sort, paged, tkIDs(l.Tasks))
				}
			}
		}
		// Sort keys are case-insensitive.
		if got := u.tkList(t, "sort=-PRIORITY"); !slices.Equal(tkIDs(got.Tasks), tkIDs(u.tkList(t, "sort=-priority").Tasks)) {
			t.Errorf("sort=-PRIORITY differs")
		}
		// Title order is by code point: upper case, then lower, then Ä.
		titles := []string{}
		for _, task := range u.tkList(t, "sort=title").Tasks {
			titles = append(titles, task.Title)
		}
		if want := []string{"Banana", "apple", "apple", "banana", "banana", "cherry", "zebra", "Äpfel"}; !slices.Equal(titles, want) {
			t.Errorf("title order %q, want %q", titles, want)
		}

		// skip is offset's alias, echoed as offset; offset past the end.
		if p := u.tkList(t, "skip=2&limit=2"); p.Offset != 2 || len(p.Tasks) != 2 || p.Tasks[0].ID != l.Tasks[2].ID {
			t.Errorf("skip=2: %+v", p)
		}
		if p := u.tkList(t, "offset=1&skip=5&limit=1"); p.Offset != 1 || p.Tasks[0].ID != l.Tasks[1].ID {
			t.Errorf("offset and skip: %+v", p)
		}
		if p := u.tkList(t, "offset=100"); p.Total != int64(len(all)) || p.Tasks == nil || len(p.Tasks) != 0 || p.Offset != 100 {
			t.Errorf("offset past the end: %+v", p)
		}
		if r := u.Request("GET", "/api/tasks?offset=100", nil, nil); !strings.Contains(string(r.Body), `"tasks":[]`) {
			t.Errorf("empty page is not []: %s", r.Body)
		}
		if p := u.tkList(t, "limit=200"); p.Limit != 200 || len(p.Tasks) != len(all) {
			t.Errorf("limit=200: %+v", p)
		}
		if p := u.tkList(t, "limit=1"); p.Limit != 1 || len(p.Tasks) != 1 || p.Total != int64(len(all)) {
			t.Errorf("limit=1: %+v", p)
		}

		// Filters, checked against the same predicate applied to all.
		want := func(keep func(tkTask) bool) []int64 {
			var ids []int64
			for _, task := range all {
				if keep(task) {
					ids = append(ids, task.ID)
				}
			}
			slices.Sort(ids)
			return ids
		}
		prio := func(ps ...int) func(tkTask) bool {
			return func(task tkTask) bool { return slices.Contains(ps, task.Priority) }
		}
		cat := func(c string) func(tkTask) bool {
			return func(task tkTask) bool { return task.Category != nil && *task.Category == c }
		}
		and := func(a, b func(tkTask) bool) func(tkTask) bool {
			return func(task tkTask) bool { return a(task) && b(task) }
		}
		pending := func(task tkTask) bool { return !task.Status }
		completed := func(task tkTask) bool { return task.Status }
		everything := func(tkTask) bool { return true }
		for _, tc := range []struct {
			query string
			keep  func(tkTask) bool
		}{
			{"status=all", everything},
			{"status=pending", pending},
			{"status=false", pending},
			{"status=completed", completed},
			{"status=true", completed},
			{"status=Completed", completed},
			{"priority=1", prio(1)},
			{"priority=high", prio(3)},
			{"priority=1&priority=high", prio(1, 3)},
			{"priority=low,3", prio(1, 3)},
			{"priority=2&priority=medium,MEDIUM", prio(2)},
			{"priority=1,2,3", prio(1, 2, 3)},
			{"category=Work", cat("Work")},
			{"category=work", cat("work")},
			{"category=Nope", func(tkTask) bool { return false }},
			{"q=apple", func(task tkTask) bool {
				return strings.Contains(strings.ToLower(task.Title), "apple") ||
					task.Description != nil && strings.Contains(strings.ToLower(*task.Description), "apple")
			}},
			{"q=TOUCHED", func(task tkTask) bool { return task.Description != nil && *task.Description == "touched" }},
			{"q=cherr", func(task tkTask) bool { return strings.Contains(task.Title, "cherr") }},
			{"due=none", func(task tkTask) bool { return task.DueDate == nil }},
			{"due=overdue", func(task tkTask) bool {
				return !task.Status && task.DueDate != nil && tkTime(t, *task.DueDate).Before(time.Now())
			}},
			{"status=pending&priority=1,2&sort=title", and(pending, prio(1, 2))},
			{"category=Work&priority=3", and(cat("Work"), prio(3))},
			{"status=completed&due=overdue", func(tkTask) bool { return false }},
			{"unknown=1&foo[]=bar", everything},
			{"limit=&offset=&status=&priority=&category=&q=&due=&tz=&sort=", everything},
		} {
			l := u.tkList(t, tc.query+"&limit=200")
			got := tkIDs(l.Tasks)
			slices.Sort(got)
			if w := want(tc.keep); !slices.Equal(got, w) || l.Total != int64(len(w)) {
				t.Errorf("?%s: %v (total %d), want %v", tc.query, got, l.Total, w)
			}
			// total counts the whole filter, not the page.
			if p := u.tkList(t, tc.query+"&limit=1"); p.Total != l.Total {
				t.Errorf("?%s&limit=1: total %d, want %d", tc.query, p.Total, l.Total)
			}
		}

		// Invalid parameters: 422 naming each one.
		for _, tc := range []struct {
			query  string
			fields []string
		}{
			{"limit=0", []string{"limit"}},
			{"limit=201", []string{"limit"}},
			{"limit=-1", []string{"limit"}},
			{"limit=abc", []string{"limit"}},
			{"limit=1.5", []string{"limit"}},
			{"limit=+5", []string{"limit"}},
			{"limit=99999999999999999999999", []string{"limit"}},
			{"offset=-1", []string{"offset"}},
			{"offset=x", []string{"offset"}},
			{"offset=99999999999999999999", []string{"offset"}},
			{"skip=-3", []string{"skip"}},
			{"status=done", []string{"status"}},
			{"status=1", []string{"status"}},
			{"priority=4", []string{"priority"}},
			{"priority=1,x", []string{"priority"}},
			{"priority=1,", []string{"priority"}},
			{"priority=1&priority=urgent", []string{"priority"}},
			{"due=tomorrow", []string{"due"}},
			{"tz=Mars/Olympus_Mons", []string{"tz"}},
			{"tz=Local", []string{"tz"}},
			{"tz=../../etc/passwd", []string{"tz"}},
			{"tz=/etc/localtime", []string{"tz"}},
			{"sort=name", []string{"sort"}},
			{"sort=--title", []string{"sort"}},
			{"sort=+title", []string{"sort"}},
			{"sort=title%20", []string{"sort"}},
			{"q=a%00b", []string{"q"}},
			{"q=%ff", []string{"q"}},
			{"q=" + strings.Repeat("q", 1001), []string{"q"}},
			{"category=%c3%28", []string{"category"}},
			{"category=" + strings.Repeat("c", 101), []string{"category"}},
			{"limit=0&offset=-1&status=x&priority=9&due=x&tz=x&sort=x&q=%01", []string{"limit", "offset", "status", "priority", "due", "tz", "sort", "q"}},
		} {
			tkWantProblem(t, u.Request("GET", "/api/tasks?"+tc.query, nil, nil), 422, tc.fields...)
		}
		// Valid zones are accepted with any due filter or none.
		for _, tz := range []string{"UTC", "America/New_York", "Asia/Tokyo", "Europe/Paris", "Etc/GMT+12"} {
			u.tkList(t, "tz="+url.QueryEscape(tz))
			u.tkList(t, "due=week&tz="+url.QueryEscape(tz))
		}
	})
}

// tkCheckOrder checks that tasks are ordered by key (ties by id, in the same
// direction); due_date puts tasks without one last either way.
func tkCheckOrder(t *testing.T, name string, tasks []tkTask, key string, desc bool) {
	t.Helper()
	cmp := func(a, b tkTask) int {
		var c int
		switch key {
		case "created_at":
			c = strings.Compare(a.CreatedAt, b.CreatedAt)
		case "updated_at":
			c = strings.Compare(a.UpdatedAt, b.UpdatedAt)
		case "priority":
			c = a.Priority - b.Priority
		case "title":
			c = strings.Compare(a.Title, b.Title)
		case "due_date":
			switch {
			case a.DueDate == nil && b.DueDate == nil:
			case a.DueDate == nil:
				return 1 // after, whatever the direction
			case b.DueDate == nil:
				return -1
			default:
				c = strings.Compare(*a.DueDate, *b.DueDate)
			}
		}
		if c == 0 {
			c = int(a.ID - b.ID)
		}
		if desc {
			c = -c
		}
		return c
	}
	if !slices.IsSortedFunc(tasks, cmp) {
		var got []string
		for _, task := range tasks {
			got = append(got, fmt.Sprintf("%d:%s/%d/%v/%s", task.ID, task.Title, task.Priority, tkDeref(task.DueDate), task.CreatedAt))
		}
		t.Errorf("%s: not ordered by %s (desc %v): %v", name, key, desc, got)
	}
	if key == "due_date" && len(tasks) > 0 && tasks[len(tasks)-1].DueDate != nil {
		t.Errorf("%s: last task has a due date", name)
	}
}

func tkDeref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func TestTaskDueFilters(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		// Zones from UTC-11 to UTC+14, so some day boundary is always near.
		zones := []string{"UTC", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Pago_Pago"}
		for attempt := 1; ; attempt++ {
			problems := tkDueFilterRound(t, srv, zones)
			// A day may have ended in some zone while the round ran, which
			// moves its boundaries: then try again (at most three times).
			if len(problems) == 0 || attempt == 3 {
				for _, p := range problems {
					t.Error(p)
				}
				return
			}
		}
	})
}

// tkDueFilterRound creates tasks due at, and 1 ms either side of, the
// starts of today, tomorrow and the 7th day of every zone, then checks every
// due filter in every zone against the same rule computed here. It returns
// the mismatches, or nothing when a day ended in some zone meanwhile.
func tkDueFilterRound(t *testing.T, srv *servertest.Server, zones []string) []string {
	u := tkSignUp(t, srv)
	start := time.Now().Truncate(time.Millisecond)
	type due struct {
		id     int64
		at     time.Time
		status bool
	}
	var dues []due
	add := func(at time.Time, status bool) {
		task := u.tkCreate(t, map[string]any{"title": "due", "due_date": at.UTC().Format(time.RFC3339Nano), "status": status})
		if got := tkTime(t, *task.DueDate); !got.Equal(at) {
			t.Fatalf("due %s stored as %s", at, got)
		}
		dues = append(dues, due{task.ID, at, status})
	}
	dayStart := func(name string, days int) time.Time {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		y, m, d := start.In(loc).Date()
		return time.Date(y, m, d+days, 0, 0, 0, 0, loc)
	}
	for _, name := range zones {
		for _, day := range []int{0, 1, 7} {
			b := dayStart(name, day)
			add(b.Add(-time.Millisecond), false)
			add(b, false)
			add(b.Add(time.Millisecond), true)
		}
	}
	add(start.Add(-time.Hour), true) // past due but complete: not overdue
	add(start.Add(-time.Hour), false)
	none := u.tkCreate(t, map[string]any{"title": "no due date"})

	var problems []string
	check := func(query string, keep func(d due) bool, extra ...int64) {
		var want []int64
		for _, d := range dues {
			if keep(d) {
				want = append(want, d.id)
			}
		}
		want = append(want, extra...)
		slices.Sort(want)
		l := u.tkList(t, query+"&limit=200")
		got := tkIDs(l.Tasks)
		slices.Sort(got)
		if !slices.Equal(got, want) || l.Total != int64(len(want)) {
			problems = append(problems, fmt.Sprintf("?%s: %v (total %d), want %v", query, got, l.Total, want))
		}
	}
	for _, name := range zones {
		today, tomorrow, weekEnd := dayStart(name, 0), dayStart(name, 1), dayStart(name, 7)
		q := "tz=" + url.QueryEscape(name)
		if name == "UTC" {
			q = "x=1" // the default zone
		}
		check("due=today&"+q, func(d due) bool { return !d.at.Before(today) && d.at.Before(tomorrow) })
		check("due=week&"+q, func(d due) bool { return !d.at.Before(today) && d.at.Before(weekEnd) })
		check("due=Today&status=completed&"+q, func(d due) bool { return d.status && !d.at.Before(today) && d.at.Before(tomorrow) })
		check("due=week&status=pending&"+q, func(d due) bool { return !d.status && !d.at.Before(today) && d.at.Before(weekEnd) })
		// overdue ignores the zone: pending and due before now.
		check("due=overdue&"+q, func(d due) bool { return !d.status && d.at.Before(start) })
	}
	check("due=none", func(due) bool { return false }, none.ID)
	check("due=none&status=completed", func(due) bool { return false })

	for _, name := range zones {
		if !dayStart(name, 0).Equal(tkDayStartNow(t, name)) {
			return []string{"retry: a day ended in " + name}
		}
	}
	return problems
}

func tkDayStartNow(t *testing.T, name string) time.Time {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// TestTaskDueWindow checks the day boundaries of the today and week filters
// where days are not 24 hours long.
func TestTaskDueWindow(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name, zone       string
		now              string
		due              models.DueFilter
		from, before     string
		hoursBetweenEnds float64
	}{
		// New York springs forward on 8 March 2026: a 23-hour day.
		{"spring forward today", "America/New_York", "2026-03-08T16:00:00Z", models.DueToday, "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", 23},
		{"just before midnight", "America/New_York", "2026-03-08T03:59:59.999Z", models.DueToday, "2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z", 24},
		{"just after midnight", "America/New_York", "2026-03-08T05:00:00Z", models.DueToday, "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", 23},
		{"week across spring forward", "America/New_York", "2026-03-05T12:00:00Z", models.DueWeek, "2026-03-05T05:00:00Z", "2026-03-12T04:00:00Z", 167},
		// ... and falls back on 1 November 2026: a 25-hour day.
		{"fall back today", "America/New_York", "2026-11-01T12:00:00Z", models.DueToday, "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", 25},
		{"week across fall back", "America/New_York", "2026-10-30T12:00:00Z", models.DueWeek, "2026-10-30T04:00:00Z", "2026-11-06T05:00:00Z", 169},
		// Tokyo: UTC+9, no DST; its day starts at 15:00 UTC the day before.
		{"Tokyo before its midnight", "Asia/Tokyo", "2026-03-08T14:59:59Z", models.DueToday, "2026-03-07T15:00:00Z", "2026-03-08T15:00:00Z", 24},
		{"Tokyo after its midnight", "Asia/Tokyo", "2026-03-08T15:00:00Z", models.DueToday, "2026-03-08T15:00:00Z", "2026-03-09T15:00:00Z", 24},
		{"Tokyo week", "Asia/Tokyo", "2026-03-08T15:00:00Z", models.DueWeek, "2026-03-08T15:00:00Z", "2026-03-15T15:00:00Z", 168},
		// São Paulo skipped midnight on 4 November 2018 (00:00 -> 01:00):
		// that day started at 01:00 local, 03:00 UTC.
		{"midnight skipped", "America/Sao_Paulo", "2018-11-04T12:00:00Z", models.DueToday, "2018-11-04T03:00:00Z", "2018-11-05T02:00:00Z", 23},
		{"day before skipped midnight", "America/Sao_Paulo", "2018-11-03T12:00:00Z", models.DueToday, "2018-11-03T03:00:00Z", "2018-11-04T03:00:00Z", 24},
		{"UTC", "UTC", "2026-12-31T23:59:59.999Z", models.DueWeek, "2026-12-31T00:00:00Z", "2027-01-07T00:00:00Z", 168},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, before, ok := models.DueWindow(tc.due, utc(tc.now), load(tc.zone))
			if !ok || !from.Equal(utc(tc.from)) || !before.Equal(utc(tc.before)) {
				t.Errorf("window %s .. %s (%v), want %s .. %s", from, before, ok, tc.from, tc.before)
			}
			if h := before.Sub(from.Time).Hours(); h != tc.hoursBetweenEnds {
				t.Errorf("window lasts %v hours, want %v", h, tc.hoursBetweenEnds)
			}
		})
	}
	if _, _, ok := models.DueWindow(models.DueOverdue, time.Now(), nil); ok {
		t.Error("overdue has no window")
	}
}

// tkEvents records what the task handlers publish.
type tkEvents struct {
	mu  sync.Mutex
	got []string
}

func (e *tkEvents) TaskChanged(_ context.Context, userID, kind string, task *models.Task) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, fmt.Sprintf("%s %s %d v%d", userID, kind, task.ID, task.Version))
}

func (e *tkEvents) TaskDeleted(_ context.Context, userID string, id int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, fmt.Sprintf("%s deleted %d", userID, id))
}

func (e *tkEvents) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

// TestTaskEvents checks that every committed change, and nothing else, is
// published once, with the task as the response carries it.
func TestTaskEvents(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		u := tkSignUp(t, srv)
		events := &tkEvents{}
		app := fiber.New(fiber.Config{ErrorHandler: routes.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)})
		api := app.Group("/api", routes.NewAuthn(routes.AuthnOptions{Service: srv.Auth}).Load)
		routes.RegisterTasks(api, srv.Store, events)

		do := func(method, path, body string, hdr map[string]string, want int, wantEvents ...string) tkTask {
			t.Helper()
			var r io.Reader
			if body != "" {
				r = strings.NewReader(body)
			}
			req := httptest.NewRequest(method, path, r)
			req.Header.Set("Authorization", "Bearer "+u.Token)
			req.Header.Set("Content-Type", "application/json")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := app.Test(req, 10000)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("%s %s %s: %d %s", method, path, body, resp.StatusCode, raw)
			}
			var task tkTask
			if want == 200 || want == 201 {
				_ = json.Unmarshal(raw, &task)
			}
			for i := range wantEvents {
				wantEvents[i] = strings.NewReplacer("ID", strconv.FormatInt(task.ID, 10), "USER", u.ID).Replace(wantEvents[i])
			}
			if got := events.take(); !slices.Equal(got, wantEvents) {
				t.Errorf("%s %s %s published %q, want %q", method, path, body, got, wantEvents)
			}
			return task
		}
		task := do("POST", "/api/tasks", `{"title":"evented"}`, nil, 201, "USER task.created ID v1")
		path := tkPath(task.ID)
		do("PATCH", path, `{"title":"renamed"}`, nil, 200, "USER task.updated ID v2")
		do("PUT", path, `{"title":"renamed"}`, nil, 200)
		do("PATCH", path, `{"status":true}`, nil, 200, "USER task.completed ID v3")
		do("PATCH", path+"/complete", ``, nil, 200)
		do("PATCH", path, `{"status":true,"priority":3}`, nil, 200, "USER task.updated ID v4")
		do("PATCH", path, `{"status":false}`, nil, 200, "USER task.updated ID v5")
		do("PATCH", path+"/complete", ``, nil, 200, "USER task.completed ID v6")
		do("PATCH", path, `{"title":""}`, nil, 422)
		do("PATCH", path, `{"title":"x"}`, map[string]string{"If-Match": "1"}, 412)
		do("DELETE", path, ``, map[string]string{"If-Match": "1"}, 412)
		do("GET", path, ``, nil, 200)
		do("GET", "/api/tasks", ``, nil, 200)
		do("DELETE", path, ``, nil, 204, "USER deleted "+strconv.FormatInt(task.ID, 10))
		do("DELETE", path, ``, nil, 404)
		do("PATCH", path+"/complete", ``, nil, 404)
	})
}
