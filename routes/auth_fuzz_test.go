package routes

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/todo-app/todo/app/auth"
)

// FuzzAuthBody feeds arbitrary sign-up and sign-in bodies, JSON or form
// (Better Auth accepts both), to the reader the auth endpoints share and then
// to the service's checks. No panic; a field error names a field that the
// endpoints read; what is accepted is exactly what was sent, and passes the
// checks only in the shape they promise (a lower-case address of the allowed
// syntax, a name without control characters, a password of 8-128
// characters).
func FuzzAuthBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Ada","email":"Ada@Example.com","password":"correct horse battery","rememberMe":false,"image":"https://x/y.png"}`,
		`{"email":"a@b.co","password":"12345678","callbackURL":"/tasks"}`,
		`{"name":null,"email":1,"password":["x"],"rememberMe":"maybe","image":{}}`,
		`{"name":"\u0000","email":" a@b.co","password":"\ud800\udc00\ud800xxxxxxx"}`,
		`{"email":"a..b@example.com","password":"` + strings.Repeat("é", 129) + `"}`,
		`{"email":"x@y.z","password":"p","email":"dup@example.com"}`,
		"name=Ada&email=ada%40example.com&password=correct+horse&rememberMe=false",
		"email=%zz&password=%00%00%00%00%00%00%00%00",
		"rememberMe=true&rememberMe=false&email=a@b.co&email=c@d.co",
		`{}`, `[]`, `null`, `"x"`, `{"a":1}}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	readFields := map[string]bool{"name": true, "email": true, "password": true, "image": true, "rememberMe": true}
	f.Fuzz(func(t *testing.T, body []byte, form bool) {
		var fs fields
		var err error
		if form {
			fs, err = formFields(body)
		} else {
			fs, err = parseJSONObject(body)
		}
		if err != nil {
			return
		}
		sent := sentStrings(t, body, form)
		for _, signUp := range []bool{true, false} {
			name, email, password, errs := credentials(fs, signUp)
			image, imageOK := fs.str("image", &errs)
			fs.boolean("rememberMe", true, &errs)
			for _, e := range errs {
				if !readFields[e.Field] || e.Message == "" {
					t.Fatalf("field error %+v", e)
				}
			}
			if len(errs) > 0 {
				continue
			}
			got := map[string]string{"email": email, "password": password}
			if signUp {
				got["name"] = name
			}
			if imageOK {
				got["image"] = image
			}
			for k, v := range got {
				if want, ok := sent[k]; !ok || v != want {
					t.Fatalf("%s read as %q, sent %q (present %v)", k, v, want, ok)
				}
			}
			if norm, err := auth.NormalizeEmail(email); err == nil {
				again, _ := auth.NormalizeEmail(norm)
				if norm != strings.ToLower(email) || again != norm || len(norm) > 254 || strings.ContainsFunc(norm, func(r rune) bool {
					return r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.IsUpper(r)
				}) {
					t.Fatalf("email %q accepted as %q", email, norm)
				}
			}
			if signUp && auth.CheckName(name) == nil {
				if !utf8.ValidString(name) || strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > auth.MaxNameLength ||
					strings.ContainsFunc(name, unicode.IsControl) {
					t.Fatalf("name %q accepted", name)
				}
			}
			if auth.CheckPassword(password) == nil {
				if n := utf8.RuneCountInString(password); !utf8.ValidString(password) || n < auth.MinPasswordLength || n > auth.MaxPasswordLength {
					t.Fatalf("password %q accepted", password)
				}
			}
		}
	})
}

// sentStrings decodes the body independently of the reader: every member
// whose value is a string, the way the client meant it.
func sentStrings(t *testing.T, body []byte, form bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	if form {
		values, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatalf("reader accepted a form encoding url.ParseQuery refuses: %v", err)
		}
		for k, v := range values {
			out[k] = v[0]
		}
		return out
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("reader accepted a body encoding/json refuses: %v", err)
	}
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[k] = s
		}
	}
	return out
}

// FuzzSafeRedirect feeds arbitrary callbackURL values to the sign-in
// redirect check. A target it allows goes back to the browser (the JSON
// "url" the client navigates to, and Location), so wherever a browser would
// take it must be this server or a trusted origin: anything else is an open
// redirect. The browser's reading is modelled on the WHATWG URL parser,
// which drops tabs and newlines anywhere, trims leading and trailing control
// characters and spaces, and takes a backslash for a slash in http(s) URLs.
func FuzzSafeRedirect(f *testing.F) {
	for _, seed := range []string{
		"/tasks", "/tasks?x=1#y", "//evil.example", "/\\evil.example", "https://app.example/welcome",
		"https://evil.example", "HTTPS://APP.EXAMPLE", "https://app.example@evil.example", "https:evil.example",
		"javascript:alert(1)", "/%2f%2fevil.example", "", " /x", "https://todo.example:443/", "\\\\evil.example",
		"/\n\\evil.example", "https://app.example\t.evil.example/",
	} {
		f.Add(seed)
	}
	app := fiber.New()
	a := NewAuthn(AuthnOptions{PublicURL: "https://todo.example", TrustedOrigins: []string{"https://app.example"}})
	allowedHosts := map[string]bool{"todo.example": true, "app.example": true}
	base, _ := url.Parse("https://todo.example/sign-in")
	f.Fuzz(func(t *testing.T, target string) {
		c := app.AcquireCtx(&fasthttp.RequestCtx{})
		defer app.ReleaseCtx(c)
		if !a.safeRedirect(c, target) {
			return
		}
		s := strings.TrimFunc(target, func(r rune) bool { return r <= 0x20 })
		s = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(s)
		if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
			return // a path on this server
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("allowed %q, which a browser reads as %q", target, s)
		}
		dest := base.ResolveReference(u)
		if !allowedHosts[strings.ToLower(dest.Hostname())] || (dest.Scheme != "https" && dest.Scheme != "http") {
			t.Fatalf("allowed %q, which a browser takes to %s", target, dest)
		}
	})
}
