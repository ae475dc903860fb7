package routes_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/server"
	"github.com/todo-app/todo/app/server/servertest"
	"github.com/todo-app/todo/routes"
)

// openAPIMethods are the operation members of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPI keeps GET /api/openapi.json true: it is served, well formed,
// documents exactly the routes the application registers, and the shapes it
// describes are the ones the API answers with.
func TestOpenAPI(t *testing.T) {
	srv := servertest.Start(t, database.SQLite, nil)
	c := srv.Client(t)

	r := c.Request("GET", "/api/openapi.json", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/openapi.json: %d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Errorf("Cache-Control = %q, want public, max-age=3600", cc)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("the served document is not JSON: %v", err)
	}

	t.Run("served", func(t *testing.T) {
		if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
			t.Errorf("openapi = %q, want 3.1.x", v)
		}
		info, _ := doc["info"].(map[string]any)
		if info["title"] != "todo" || info["version"] != "test" {
			t.Errorf("info = title %v version %v, want todo and the server's version (test)", info["title"], info["version"])
		}
		etag := r.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		again := c.Request("GET", "/api/openapi.json", nil, map[string]string{"If-None-Match": etag})
		if again.Status != http.StatusNotModified {
			t.Errorf("If-None-Match with the ETag: %d, want 304", again.Status)
		}
		// Anonymous, and the same bytes as the package hands out.
		want, err := routes.OpenAPIDocument("test")
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != string(r.Body) {
			t.Error("served document differs from routes.OpenAPIDocument")
		}
	})

	t.Run("routes", func(t *testing.T) {
		registered := registeredOperations(t, srv)
		documented := documentedOperations(doc)
		var undocumented, unregistered []string
		for op := range registered {
			if !documented[op] {
				undocumented = append(undocumented, op)
			}
		}
		for op := range documented {
			if !registered[op] {
				unregistered = append(unregistered, op)
			}
		}
		sort.Strings(undocumented)
		sort.Strings(unregistered)
		if len(undocumented) > 0 {
			t.Errorf("routes registered but missing from routes/openapi.json:\n\t%s", strings.Join(undocumented, "\n\t"))
		}
		if len(unregistered) > 0 {
			t.Errorf("operations in routes/openapi.json that the server does not register:\n\t%s", strings.Join(unregistered, "\n\t"))
		}
		if len(registered) < 20 {
			t.Errorf("only %d routes registered; is the route walk broken?", len(registered))
		}
	})

	t.Run("refs", func(t *testing.T) {
		var bad []string
		walkJSON(doc, "#", func(at string, m map[string]any) {
			ref, ok := m["$ref"].(string)
			if !ok {
				return
			}
			if !strings.HasPrefix(ref, "#/components/") {
				bad = append(bad, fmt.Sprintf("%s: $ref %q is not a component", at, ref))
			} else if _, ok := resolvePointer(doc, ref); !ok {
				bad = append(bad, fmt.Sprintf("%s: $ref %q does not resolve", at, ref))
			}
		})
		for _, b := range bad {
			t.Error(b)
		}
	})

	t.Run("operations", func(t *testing.T) {
		checkOperations(t, doc)
	})

	t.Run("shapes", func(t *testing.T) {
		checkShapes(t, srv, doc)
	})
}

// fiberParam is a Fiber path parameter (:id, or the optional :id?).
var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)\??`)

// normalizeRoute is the form operations are compared in: "METHOD /path"
// with OpenAPI parameters, and no trailing slash, since Fiber (without
// StrictRouting) serves /api/tasks/ as /api/tasks and the document lists
// each path once.
func normalizeRoute(method, path string) string {
	path = fiberParam.ReplaceAllString(path, "{$1}")
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	return strings.ToUpper(method) + " " + path
}

// registeredOperations builds the application as server.New does for
// `todo serve` (rate limiting on, so every route it adds is there too) and
// lists its routes. Middleware (USE entries, including the catch-all 404)
// is left out, as is the HEAD route Fiber adds for every GET.
func registeredOperations(t *testing.T, srv *servertest.Server) map[string]bool {
	t.Helper()
	cfg := *srv.Config
	cfg.RateLimit.Enabled = true
	cfg.Server.TrustedOrigins = []string{"https://app.example.com"}
	app, err := server.New(server.Deps{
		Config:  &cfg,
		DB:      srv.DB,
		Auth:    srv.Auth,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	// Shutting down stops the realtime hub server.New started.
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })

	all := app.GetRoutes(true)
	gets := map[string]bool{}
	for _, rt := range all {
		if rt.Method == fiber.MethodGet {
			gets[rt.Path] = true
		}
	}
	out := map[string]bool{}
	for _, rt := range all {
		if rt.Method == fiber.MethodHead && gets[rt.Path] {
			continue
		}
		if rt.Path == "*" || rt.Path == "/*" {
			continue
		}
		out[normalizeRoute(rt.Method, rt.Path)] = true
	}
	return out
}

// documentedOperations lists the document's operations as normalizeRoute does.
func documentedOperations(doc map[string]any) map[string]bool {
	out := map[string]bool{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, m := range openAPIMethods {
			if _, ok := ops[m]; ok {
				out[normalizeRoute(m, path)] = true
			}
		}
	}
	return out
}

// checkOperations checks every path item and operation: known members only,
// a unique operationId, at least one response, path parameters that match
// the template, tags and security schemes that exist.
func checkOperations(t *testing.T, doc map[string]any) {
	t.Helper()
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	tags := map[string]bool{}
	for _, tg := range asSlice(doc["tags"]) {
		if m, ok := tg.(map[string]any); ok {
			tags[fmt.Sprint(m["name"])] = true
		}
	}
	checkSecurity := func(at string, reqs any) {
		for _, req := range asSlice(reqs) {
			m, _ := req.(map[string]any)
			for name := range m {
				if schemes[name] == nil {
					t.Errorf("%s: security scheme %q is not defined", at, name)
				}
			}
		}
	}
	checkSecurity("security", doc["security"])

	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	ids := map[string]string{}
	template := regexp.MustCompile(`\{([^}]+)\}`)
	for path, raw := range paths {
		item, _ := raw.(map[string]any)
		for key := range item {
			if !slices.Contains(openAPIMethods, key) && !slices.Contains([]string{"parameters", "summary", "description", "servers"}, key) {
				t.Errorf("%s: unexpected member %q", path, key)
			}
		}
		want := map[string]bool{}
		for _, m := range template.FindAllStringSubmatch(path, -1) {
			want[m[1]] = true
		}
		pathParams := pathParameters(doc, item["parameters"])
		for _, method := range openAPIMethods {
			raw, ok := item[method]
			if !ok {
				continue
			}
			at := strings.ToUpper(method) + " " + path
			op, _ := raw.(map[string]any)
			id, _ := op["operationId"].(string)
			switch {
			case id == "":
				t.Errorf("%s: no operationId", at)
			case ids[id] != "":
				t.Errorf("%s: operationId %q is also used by %s", at, id, ids[id])
			default:
				ids[id] = at
			}
			if responses, _ := op["responses"].(map[string]any); len(responses) == 0 {
				t.Errorf("%s: no responses", at)
			}
			for _, tg := range asSlice(op["tags"]) {
				if !tags[fmt.Sprint(tg)] {
					t.Errorf("%s: tag %v is not declared", at, tg)
				}
			}
			if s, ok := op["security"]; ok {
				checkSecurity(at, s)
			}
			declared := map[string]bool{}
			for name := range pathParams {
				declared[name] = true
			}
			for name := range pathParameters(doc, op["parameters"]) {
				declared[name] = true
			}
			for name := range want {
				if !declared[name] {
					t.Errorf("%s: path parameter {%s} is not declared", at, name)
				}
			}
			for name := range declared {
				if !want[name] {
					t.Errorf("%s: declares path parameter %q that is not in the path", at, name)
				}
			}
		}
	}
}

// pathParameters returns the required in:path parameters of a parameter
// list, following $refs.
func pathParameters(doc map[string]any, list any) map[string]bool {
	out := map[string]bool{}
	for _, p := range asSlice(list) {
		m, _ := p.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			resolved, _ := resolvePointer(doc, ref)
			m, _ = resolved.(map[string]any)
		}
		if m["in"] == "path" && m["required"] == true {
			out[fmt.Sprint(m["name"])] = true
		}
	}
	return out
}

// checkShapes compares real responses with the schemas the document gives
// them: every member answered is documented, every required member is
// answered, recursively through object schemas. The client sends the
// server's own Origin, as a browser would.
func checkShapes(t *testing.T, srv *servertest.Server, doc map[string]any) {
	t.Helper()
	c := srv.Client(t)
	get := func(path string, want int) any {
		t.Helper()
		r := c.Request("GET", path, nil, nil)
		if r.Status != want {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return v
	}
	send := func(method, path string, body any, want int) any {
		t.Helper()
		r := c.Request(method, path, body, nil)
		if r.Status != want {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return v
	}

	checkShape(t, doc, "Health", get("/health", http.StatusOK))
	checkShape(t, doc, "SessionState", get("/api/auth/session", http.StatusOK))
	checkShape(t, doc, "SignedIn", send("POST", "/api/auth/signup",
		map[string]string{"name": "Shape", "email": "shape@example.com", "password": "correct horse battery"}, http.StatusCreated))
	checkShape(t, doc, "SessionState", get("/api/auth/session", http.StatusOK))
	checkShape(t, doc, "BetterAuthSessionResponse", get("/api/auth/get-session", http.StatusOK))

	task := send("POST", "/api/tasks", map[string]any{"title": "Shape", "category": "x", "due_date": "2030-01-02"}, http.StatusCreated)
	checkShape(t, doc, "Task", task)
	id := fmt.Sprint(task.(map[string]any)["id"])
	checkShape(t, doc, "Task", send("PATCH", "/api/tasks/"+id+"/complete", nil, http.StatusOK))
	checkShape(t, doc, "TaskList", get("/api/tasks?limit=5", http.StatusOK))
	checkShape(t, doc, "Stats", get("/api/dashboard/stats", http.StatusOK))
	checkShape(t, doc, "Overview", get("/api/dashboard/overview?tz=Europe/Berlin", http.StatusOK))
	checkShape(t, doc, "Problem", send("POST", "/api/tasks", map[string]any{"priority": 9}, http.StatusUnprocessableEntity))
	checkShape(t, doc, "Problem", get("/api/tasks?sort=nope", http.StatusUnprocessableEntity))
	checkShape(t, doc, "LogoutResult", send("POST", "/api/auth/logout", nil, http.StatusOK))

	checkShape(t, doc, "BetterAuthSignInResponse", send("POST", "/api/auth/sign-in/email",
		map[string]any{"email": "shape@example.com", "password": "correct horse battery"}, http.StatusOK))
	checkShape(t, doc, "BetterAuthError", send("POST", "/api/auth/sign-in/email",
		map[string]any{"email": "shape@example.com", "password": "wrong password!"}, http.StatusUnauthorized))
	checkShape(t, doc, "BetterAuthSignOutResponse", send("POST", "/api/auth/sign-out", nil, http.StatusOK))
	checkShape(t, doc, "BetterAuthSignUpResponse", send("POST", "/api/auth/sign-up/email",
		map[string]any{"name": "Shape Two", "email": "shape2@example.com", "password": "correct horse battery"}, http.StatusOK))

	// The live messages cannot be fetched as simply; their Go types are
	// compared with the schemas instead.
	checkFields(t, doc, "RealtimeMessage", reflect.TypeFor[realtime.Message]())
	checkFields(t, doc, "RealtimeHello", reflect.TypeFor[realtime.Hello]())
	checkFields(t, doc, "Problem", reflect.TypeFor[routes.Problem]())
	checkFields(t, doc, "FieldError", reflect.TypeFor[routes.FieldError]())
}

// checkShape compares a decoded JSON value with the named component schema.
func checkShape(t *testing.T, doc map[string]any, name string, v any) {
	t.Helper()
	schema, ok := resolvePointer(doc, "#/components/schemas/"+name)
	if !ok {
		t.Errorf("no schema %s", name)
		return
	}
	for _, problem := range shapeProblems(doc, schema, v, name) {
		t.Error(problem)
	}
}

// shapeProblems reports members of v that the schema does not list and
// required ones v lacks, following $refs and array items; v must fit one
// alternative of a oneOf or anyOf (ignored when the schema lists its own
// properties).
func shapeProblems(doc map[string]any, schema any, v any, at string) []string {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		resolved, _ := resolvePointer(doc, ref)
		return shapeProblems(doc, resolved, v, at)
	}
	if _, own := s["properties"]; !own {
		for _, key := range []string{"oneOf", "anyOf"} {
			alts := asSlice(s[key])
			if len(alts) == 0 {
				continue
			}
			var first []string
			for i, alt := range alts {
				problems := shapeProblems(doc, alt, v, at)
				if len(problems) == 0 {
					return nil
				}
				if i == 0 {
					first = problems
				}
			}
			return append([]string{fmt.Sprintf("%s: matches none of the %s alternatives; the first says:", at, key)}, first...)
		}
	}
	if v == nil {
		if types := typeNames(s["type"]); len(types) > 0 && !slices.Contains(types, "null") {
			return []string{fmt.Sprintf("%s: null, schema type %v", at, types)}
		}
		return nil
	}
	switch val := v.(type) {
	case map[string]any:
		props, isObject := s["properties"].(map[string]any)
		if !isObject {
			if types := typeNames(s["type"]); len(types) > 0 && !slices.Contains(types, "object") {
				return []string{fmt.Sprintf("%s: an object, schema type %v", at, types)}
			}
			return nil
		}
		var out []string
		for k, mv := range val {
			ps, ok := props[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s: member %q is not in the schema", at, k))
				continue
			}
			out = append(out, shapeProblems(doc, ps, mv, at+"."+k)...)
		}
		for _, req := range asSlice(s["required"]) {
			if _, ok := val[fmt.Sprint(req)]; !ok {
				out = append(out, fmt.Sprintf("%s: required member %q is missing", at, req))
			}
		}
		return out
	case []any:
		if types := typeNames(s["type"]); len(types) > 0 && !slices.Contains(types, "array") {
			return []string{fmt.Sprintf("%s: an array, schema type %v", at, types)}
		}
		var out []string
		for i, item := range val {
			out = append(out, shapeProblems(doc, s["items"], item, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return out
	}
	return nil
}

func typeNames(t any) []string {
	switch v := t.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return nil
}

// checkFields compares the JSON member names of a Go struct with the
// schema's properties.
func checkFields(t *testing.T, doc map[string]any, name string, typ reflect.Type) {
	t.Helper()
	schema, _ := resolvePointer(doc, "#/components/schemas/"+name)
	props, _ := schema.(map[string]any)["properties"].(map[string]any)
	fields := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		fields[tag] = true
		if _, ok := props[tag]; !ok {
			t.Errorf("schema %s lacks %s's member %q", name, typ, tag)
		}
	}
	for p := range props {
		if !fields[p] {
			t.Errorf("schema %s lists %q, which %s does not have", name, p, typ)
		}
	}
}

// walkJSON calls fn on every object in v with its JSON pointer.
func walkJSON(v any, at string, fn func(at string, m map[string]any)) {
	switch val := v.(type) {
	case map[string]any:
		fn(at, val)
		for k, x := range val {
			walkJSON(x, at+"/"+escapePointer(k), fn)
		}
	case []any:
		for i, x := range val {
			walkJSON(x, fmt.Sprintf("%s/%d", at, i), fn)
		}
	}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// resolvePointer resolves a local JSON pointer ("#/a/b") in doc.
func resolvePointer(doc map[string]any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
