package config

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/spf13/pflag"
)

// load runs Load isolated from the machine: no search paths and an empty
// environment unless the test gives them, so tests can run in parallel.
func load(t *testing.T, opts Options) (*Config, error) {
	t.Helper()
	if opts.SearchPaths == nil {
		opts.SearchPaths = []string{}
	}
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	return Load(opts)
}

func mustLoad(t *testing.T, opts Options) *Config {
	t.Helper()
	c, err := load(t, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func get(c *Config, key string) any {
	return keyIndex[key].get(c)
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error containing %q, got nil", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, Options{})
	for _, d := range keys {
		if got := get(c, d.key); !reflect.DeepEqual(got, d.def) {
			t.Errorf("%s = %#v, want default %#v", d.key, got, d.def)
		}
		if c.Sources[d.key] != "default" {
			t.Errorf("Sources[%s] = %q, want default", d.key, c.Sources[d.key])
		}
	}
	if c.File != "" {
		t.Errorf("File = %q, want empty", c.File)
	}
	if len(c.Sources) != len(keys) {
		t.Errorf("Sources has %d entries, want %d", len(c.Sources), len(keys))
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "c.yaml", `
server:
  addr: "127.0.0.1:9000"
ratelimit:
  per_minute: 50
log:
  level: warn
`)
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("log-level", "info", "")
	fs.Int("rate", 1, "")
	if err := fs.Parse([]string{"--log-level=error"}); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, Options{
		File:     path,
		Environ:  []string{"TODO_RATELIMIT_PER_MINUTE=70", "TODO_LOG_LEVEL=debug"},
		Flags:    fs,
		FlagKeys: map[string]string{"log-level": "log.level", "rate": "ratelimit.per_minute"},
	})
	tests := []struct {
		key, src string
		want     any
	}{
		{"server.addr", "file", "127.0.0.1:9000"},
		{"ratelimit.per_minute", "env TODO_RATELIMIT_PER_MINUTE", 70}, // unchanged flag does not apply
		{"log.level", "flag --log-level", "error"},
		{"log.format", "default", "text"},
	}
	for _, tt := range tests {
		if got := get(c, tt.key); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.key, got, tt.want)
		}
		if c.Sources[tt.key] != tt.src {
			t.Errorf("Sources[%s] = %q, want %q", tt.key, c.Sources[tt.key], tt.src)
		}
	}
	if c.File != path {
		t.Errorf("File = %q, want %q", c.File, path)
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("addr", "", "")
	fs.Bool("debug", false, "")
	fs.StringSlice("origin", nil, "")
	fs.Duration("ttl", 0, "")
	fs.Int("cost", 0, "")
	fs.String("unused", "", "")
	err := fs.Parse([]string{"--addr=:9999", "--debug", "--origin=https://a.example", "--origin=http://b.example:8080", "--ttl=2h", "--cost=12"})
	if err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, Options{Flags: fs, FlagKeys: map[string]string{
		"addr": "server.addr", "debug": "debug", "origin": "server.trusted_origins",
		"ttl": "auth.session_ttl", "cost": "auth.bcrypt_cost", "unused": "log.file", "absent": "log.level",
	}})
	if c.Server.Addr != ":9999" || !c.Debug || c.Auth.SessionTTL != 2*time.Hour || c.Auth.BcryptCost != 12 {
		t.Errorf("flags not applied: %+v %+v debug=%v", c.Server, c.Auth, c.Debug)
	}
	if want := []string{"https://a.example", "http://b.example:8080"}; !reflect.DeepEqual(c.Server.TrustedOrigins, want) {
		t.Errorf("TrustedOrigins = %q, want %q", c.Server.TrustedOrigins, want)
	}
	if c.Sources["server.trusted_origins"] != "flag --origin" || c.Sources["log.file"] != "default" {
		t.Errorf("Sources = %v", c.Sources)
	}

	fs2 := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs2.Int("cost", 0, "")
	fs2.String("x", "", "")
	if err := fs2.Parse([]string{"--cost=99"}); err != nil {
		t.Fatal(err)
	}
	_, err = load(t, Options{Flags: fs2, FlagKeys: map[string]string{"cost": "auth.bcrypt_cost"}})
	wantErr(t, err, "auth.bcrypt_cost", "99", "flag --cost")
	_, err = load(t, Options{Flags: fs2, FlagKeys: map[string]string{"x": "auth.nope"}})
	wantErr(t, err, `"auth.nope"`, "--x")
}

func TestSeedNames(t *testing.T) {
	t.Parallel()
	const (
		s1 = "0123456789abcdef0123456789abcdef-one"
		s2 = "0123456789abcdef0123456789abcdef-two"
		s3 = "0123456789abcdef0123456789abcdef-three"
	)
	tests := []struct {
		name    string
		file    string
		env     []string
		key     string
		want    any
		src     string
		wantErr []string
	}{
		{name: "DATABASE_URL", env: []string{"DATABASE_URL=postgres://u@db/todo"}, key: "database.url", want: "postgres://u@db/todo", src: "env DATABASE_URL"},
		{name: "DATABASE_URL beats file", file: "database:\n  url: sqlite://./x.db\n", env: []string{"DATABASE_URL=postgresql://db/todo"}, key: "database.url", want: "postgresql://db/todo", src: "env DATABASE_URL"},
		{name: "TODO_DATABASE_URL beats DATABASE_URL", env: []string{"TODO_DATABASE_URL=sqlite://a.db", "DATABASE_URL=postgres://db/todo"}, key: "database.url", want: "sqlite://a.db", src: "env TODO_DATABASE_URL"},
		{name: "SECRET_KEY", env: []string{"SECRET_KEY=" + s1}, key: "auth.secret", want: s1, src: "env SECRET_KEY"},
		{name: "BETTER_AUTH_SECRET beats SECRET_KEY", env: []string{"BETTER_AUTH_SECRET=" + s2, "SECRET_KEY=" + s1}, key: "auth.secret", want: s2, src: "env BETTER_AUTH_SECRET"},
		{name: "TODO_AUTH_SECRET beats both", env: []string{"BETTER_AUTH_SECRET=" + s2, "SECRET_KEY=" + s1, "TODO_AUTH_SECRET=" + s3}, key: "auth.secret", want: s3, src: "env TODO_AUTH_SECRET"},
		{name: "secret taken byte-exact", env: []string{"BETTER_AUTH_SECRET= " + s1 + " "}, key: "auth.secret", want: " " + s1 + " ", src: "env BETTER_AUTH_SECRET"},
		{name: "ACCESS_TOKEN_EXPIRE_MINUTES", env: []string{"ACCESS_TOKEN_EXPIRE_MINUTES=90"}, key: "auth.session_ttl", want: 90 * time.Minute, src: "env ACCESS_TOKEN_EXPIRE_MINUTES"},
		{name: "TODO_AUTH_SESSION_TTL beats ACCESS_TOKEN_EXPIRE_MINUTES", env: []string{"ACCESS_TOKEN_EXPIRE_MINUTES=90", "TODO_AUTH_SESSION_TTL=48h"}, key: "auth.session_ttl", want: 48 * time.Hour, src: "env TODO_AUTH_SESSION_TTL"},
		{name: "ACCESS_TOKEN_EXPIRE_MINUTES not a number", env: []string{"ACCESS_TOKEN_EXPIRE_MINUTES=1h"}, wantErr: []string{"auth.session_ttl", "ACCESS_TOKEN_EXPIRE_MINUTES", `"1h"`}},
		{name: "ACCESS_TOKEN_EXPIRE_MINUTES zero", env: []string{"ACCESS_TOKEN_EXPIRE_MINUTES=0"}, wantErr: []string{"auth.session_ttl", "ACCESS_TOKEN_EXPIRE_MINUTES"}},
		{name: "ACCESS_TOKEN_EXPIRE_MINUTES negative", env: []string{"ACCESS_TOKEN_EXPIRE_MINUTES=-5"}, wantErr: []string{"auth.session_ttl", "ACCESS_TOKEN_EXPIRE_MINUTES"}},
		{name: "default update_age follows a shorter session_ttl", env: []string{"ACCESS_TOKEN_EXPIRE_MINUTES=70"}, key: "auth.update_age", want: 10 * time.Minute, src: "default"},
		{name: "update_age spelled out at its default follows too", file: "auth:\n  update_age: 24h\n", env: []string{"ACCESS_TOKEN_EXPIRE_MINUTES=70"}, key: "auth.update_age", want: 10 * time.Minute, src: "file"},
		{name: "explicit update_age over session_ttl", env: []string{"ACCESS_TOKEN_EXPIRE_MINUTES=60", "TODO_AUTH_UPDATE_AGE=2h"}, wantErr: []string{"auth.update_age", "auth.session_ttl", "env ACCESS_TOKEN_EXPIRE_MINUTES", "env TODO_AUTH_UPDATE_AGE"}},
		{name: "DEBUG", env: []string{"DEBUG=Yes"}, key: "debug", want: true, src: "env DEBUG"},
		{name: "TODO_DEBUG beats DEBUG", env: []string{"DEBUG=1", "TODO_DEBUG=false"}, key: "debug", want: false, src: "env TODO_DEBUG"},
		{name: "DEBUG bad", env: []string{"DEBUG=verbose"}, wantErr: []string{"debug", `"verbose"`, "env DEBUG"}},
		{name: "empty variable is unset", env: []string{"DATABASE_URL=", "TODO_LOG_LEVEL="}, key: "database.url", want: "sqlite://./data/todo.db", src: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Environ: tt.env}
			if tt.file != "" {
				opts.File = writeFile(t, t.TempDir(), "c.yaml", tt.file)
			}
			c, err := load(t, opts)
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := get(c, tt.key); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.key, got, tt.want)
			}
			if c.Sources[tt.key] != tt.src {
				t.Errorf("Sources[%s] = %q, want %q", tt.key, c.Sources[tt.key], tt.src)
			}
		})
	}
}

func TestSecretFileVariables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const s = "0123456789abcdef0123456789abcdef"
	lf := writeFile(t, dir, "lf", s+"\n")
	crlf := writeFile(t, dir, "crlf", s+"\r\n")
	twoNL := writeFile(t, dir, "two", s+"\n\n")
	plain := writeFile(t, dir, "plain", s)
	empty := writeFile(t, dir, "empty", "\n")
	dbURL := writeFile(t, dir, "db", "postgres://u:p@db/todo\n")
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name    string
		env     []string
		key     string
		want    string
		src     string
		wantErr []string
	}{
		{name: "BETTER_AUTH_SECRET_FILE lf", env: []string{"BETTER_AUTH_SECRET_FILE=" + lf}, key: "auth.secret", want: s, src: "env BETTER_AUTH_SECRET_FILE"},
		{name: "crlf trimmed", env: []string{"SECRET_KEY_FILE=" + crlf}, key: "auth.secret", want: s, src: "env SECRET_KEY_FILE"},
		{name: "only one newline trimmed", env: []string{"TODO_AUTH_SECRET_FILE=" + twoNL}, key: "auth.secret", want: s + "\n", src: "env TODO_AUTH_SECRET_FILE"},
		{name: "no newline", env: []string{"TODO_AUTH_SECRET_FILE=" + plain}, key: "auth.secret", want: s, src: "env TODO_AUTH_SECRET_FILE"},
		{name: "DATABASE_URL_FILE", env: []string{"DATABASE_URL_FILE=" + dbURL}, key: "database.url", want: "postgres://u:p@db/todo", src: "env DATABASE_URL_FILE"},
		{name: "TODO_DATABASE_URL_FILE beats DATABASE_URL", env: []string{"DATABASE_URL=sqlite://x.db", "TODO_DATABASE_URL_FILE=" + dbURL}, key: "database.url", want: "postgres://u:p@db/todo", src: "env TODO_DATABASE_URL_FILE"},
		{name: "file slot is the variable's slot", env: []string{"BETTER_AUTH_SECRET_FILE=" + lf, "TODO_AUTH_SECRET=" + s + "x"}, key: "auth.secret", want: s + "x", src: "env TODO_AUTH_SECRET"},
		{name: "BETTER_AUTH_SECRET_FILE beats SECRET_KEY", env: []string{"SECRET_KEY=" + s + "x", "BETTER_AUTH_SECRET_FILE=" + lf}, key: "auth.secret", want: s, src: "env BETTER_AUTH_SECRET_FILE"},
		{name: "TODO_LOG_FILE is log.file", env: []string{"TODO_LOG_FILE=/var/log/todo.log"}, key: "log.file", want: "/var/log/todo.log", src: "env TODO_LOG_FILE"},
		{name: "both set", env: []string{"BETTER_AUTH_SECRET=" + s, "BETTER_AUTH_SECRET_FILE=" + lf}, wantErr: []string{"auth.secret", "BETTER_AUTH_SECRET and BETTER_AUTH_SECRET_FILE"}},
		{name: "both set TODO", env: []string{"TODO_DATABASE_URL=sqlite://a.db", "TODO_DATABASE_URL_FILE=" + dbURL}, wantErr: []string{"database.url", "TODO_DATABASE_URL and TODO_DATABASE_URL_FILE"}},
		{name: "unreadable", env: []string{"SECRET_KEY_FILE=" + missing}, wantErr: []string{"auth.secret", "SECRET_KEY_FILE", "missing"}},
		{name: "unreadable TODO", env: []string{"TODO_AUTH_SECRET_FILE=" + dir}, wantErr: []string{"auth.secret", "TODO_AUTH_SECRET_FILE"}},
		{name: "empty file", env: []string{"DATABASE_URL_FILE=" + empty}, wantErr: []string{"database.url", "DATABASE_URL_FILE", "empty"}},
		{name: "other _FILE unknown", env: []string{"TODO_SERVER_ADDR_FILE=" + lf}, wantErr: []string{`unknown key "server.addr_file"`, "TODO_SERVER_ADDR_FILE"}},
		{name: "bad value from file names variable", env: []string{"DATABASE_URL_FILE=" + lf}, wantErr: []string{"database.url", "env DATABASE_URL_FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(t, Options{Environ: tt.env})
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := get(c, tt.key); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
			if c.Sources[tt.key] != tt.src {
				t.Errorf("Sources[%s] = %q, want %q", tt.key, c.Sources[tt.key], tt.src)
			}
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		env     []string
		wantErr []string
	}{
		{name: "file sub-key", file: "server:\n  adress: x\n", wantErr: []string{`config: unknown key "server.adress" (in `, "c.yaml"}},
		{name: "file top-level", file: "verbose: true\n", wantErr: []string{`unknown key "verbose"`}},
		{name: "file section", file: "cache:\n  size: 1\n", wantErr: []string{`unknown key "cache"`}},
		{name: "file too deep", file: "log:\n  rotate:\n    size: 1\n", wantErr: []string{`unknown key "log.rotate"`}},
		{name: "env", env: []string{"TODO_SERVER_ADRESS=x"}, wantErr: []string{`unknown key "server.adress"`, "TODO_SERVER_ADRESS"}},
		{name: "env no section", env: []string{"TODO_VERBOSE=1"}, wantErr: []string{`unknown key "verbose"`, "TODO_VERBOSE"}},
		{name: "env section only", env: []string{"TODO_SERVER=x"}, wantErr: []string{`unknown key "server"`}},
		{name: "all problems reported", file: "nope: 1\n", env: []string{"TODO_NOPE=1"}, wantErr: []string{`"nope" (in`, "env TODO_NOPE"}},
		{name: "TODO_CONFIG reserved", env: []string{EnvConfigFile + "=/etc/todo/other.yaml", "OTHER_THING=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Environ: tt.env}
			if tt.file != "" {
				opts.File = writeFile(t, t.TempDir(), "c.yaml", tt.file)
			}
			_, err := load(t, opts)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tt.wantErr...)
		})
	}
}

func TestBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     string // TODO_ variable=value
		file    string
		wantErr []string
	}{
		{name: "int", env: "TODO_RATELIMIT_PER_MINUTE=abc", wantErr: []string{`config: ratelimit.per_minute: "abc" is not an integer (from env TODO_RATELIMIT_PER_MINUTE)`}},
		{name: "int range", env: "TODO_DATABASE_MAX_OPEN_CONNS=0", wantErr: []string{"database.max_open_conns", "out of range", "TODO_DATABASE_MAX_OPEN_CONNS"}},
		{name: "int range file", file: "auth:\n  bcrypt_cost: 3\n", wantErr: []string{"auth.bcrypt_cost", "out of range", "from file "}},
		{name: "int float in file", file: "ratelimit:\n  per_minute: 1.5\n", wantErr: []string{"ratelimit.per_minute", "expected an integer", "1.5"}},
		{name: "log size", env: "TODO_LOG_MAX_SIZE_MB=0", wantErr: []string{"log.max_size_mb", "TODO_LOG_MAX_SIZE_MB"}},
		{name: "bool", env: "TODO_RATELIMIT_ENABLED=maybe", wantErr: []string{"ratelimit.enabled", `"maybe" is not a boolean`, "TODO_RATELIMIT_ENABLED"}},
		{name: "bool file", file: "database:\n  auto_migrate: 1\n", wantErr: []string{"database.auto_migrate", "expected a boolean"}},
		{name: "duration", env: "TODO_SERVER_READ_TIMEOUT=15", wantErr: []string{"server.read_timeout", `"15" is not a duration`, "TODO_SERVER_READ_TIMEOUT"}},
		{name: "duration number in file", file: "server:\n  read_timeout: 15\n", wantErr: []string{"server.read_timeout", "expected a duration"}},
		{name: "duration zero", env: "TODO_DATABASE_QUERY_TIMEOUT=0s", wantErr: []string{"database.query_timeout", "greater than 0"}},
		{name: "duration negative", env: "TODO_DATABASE_CONN_MAX_LIFETIME=-1m", wantErr: []string{"database.conn_max_lifetime", "negative"}},
		{name: "max_inflight negative", env: "TODO_SERVER_MAX_INFLIGHT=-1", wantErr: []string{"server.max_inflight", "out of range", "TODO_SERVER_MAX_INFLIGHT"}},
		{name: "queue_timeout negative", env: "TODO_SERVER_QUEUE_TIMEOUT=-1ms", wantErr: []string{"server.queue_timeout", "negative", "TODO_SERVER_QUEUE_TIMEOUT"}},
		{name: "session_ttl too short", env: "TODO_AUTH_SESSION_TTL=30s", wantErr: []string{"auth.session_ttl", "too short"}},
		{name: "update_age over ttl", env: "TODO_AUTH_UPDATE_AGE=200h", wantErr: []string{"auth.update_age", "auth.session_ttl", "env TODO_AUTH_UPDATE_AGE"}},
		{name: "list item not a string", file: "server:\n  trusted_proxies: [10.0.0.1, {a: 1}]\n", wantErr: []string{"server.trusted_proxies", "item 2", "mapping"}},
		{name: "list as mapping", file: "server:\n  trusted_origins: {a: 1}\n", wantErr: []string{"server.trusted_origins", "expected a list, got a mapping"}},
		{name: "enum", env: "TODO_LOG_LEVEL=verbose", wantErr: []string{"log.level", `"verbose" is not one of debug, info, warn, error`, "TODO_LOG_LEVEL"}},
		{name: "enum file", file: "auth:\n  password_hash: argon2\n", wantErr: []string{"auth.password_hash", "argon2"}},
		{name: "format", env: "TODO_LOG_FORMAT=xml", wantErr: []string{"log.format", "xml"}},
		{name: "url path", env: "TODO_SERVER_PUBLIC_URL=https://example.com/todo", wantErr: []string{"server.public_url", "path", "TODO_SERVER_PUBLIC_URL"}},
		{name: "url scheme", env: "TODO_SERVER_PUBLIC_URL=ftp://example.com", wantErr: []string{"server.public_url", "http or https"}},
		{name: "url relative", env: "TODO_SERVER_PUBLIC_URL=example.com", wantErr: []string{"server.public_url"}},
		{name: "url query", env: "TODO_SERVER_PUBLIC_URL=https://example.com/?a=1", wantErr: []string{"server.public_url", "query"}},
		{name: "origin star", env: "TODO_SERVER_TRUSTED_ORIGINS=https://a.example,*", wantErr: []string{"server.trusted_origins", `"*"`, "TODO_SERVER_TRUSTED_ORIGINS"}},
		{name: "origin path", file: "server:\n  trusted_origins: [\"https://a.example/app\"]\n", wantErr: []string{"server.trusted_origins", "https://a.example/app", "from file"}},
		{name: "origin trailing slash", env: "TODO_SERVER_TRUSTED_ORIGINS=https://a.example/", wantErr: []string{"server.trusted_origins", "trailing slash"}},
		{name: "origin scheme", env: "TODO_SERVER_TRUSTED_ORIGINS=a.example", wantErr: []string{"server.trusted_origins", "a.example"}},
		{name: "cidr", env: "TODO_SERVER_TRUSTED_PROXIES=10.0.0.0/33", wantErr: []string{"server.trusted_proxies", `"10.0.0.0/33" is not a valid CIDR`, "TODO_SERVER_TRUSTED_PROXIES"}},
		{name: "ip", env: "TODO_SERVER_TRUSTED_PROXIES=proxy.local", wantErr: []string{"server.trusted_proxies", "proxy.local"}},
		{name: "addr", env: "TODO_SERVER_ADDR=8080", wantErr: []string{"server.addr", `"8080" is not host:port`, "TODO_SERVER_ADDR"}},
		{name: "addr port", env: "TODO_SERVER_ADDR=:99999", wantErr: []string{"server.addr", "0..65535"}},
		{name: "addr port name", env: "TODO_SERVER_ADDR=:http", wantErr: []string{"server.addr"}},
		{name: "database scheme", env: "TODO_DATABASE_URL=mysql://db/todo", wantErr: []string{"database.url", "sqlite://, postgres://"}},
		{name: "sqlite no path", env: "TODO_DATABASE_URL=sqlite://", wantErr: []string{"database.url", "no file path"}},
		{name: "string given a number", file: "auth:\n  secret: 123456789012345678901234567890123\n", wantErr: []string{"auth.secret", "expected a string"}},
		{name: "overridden bad file value still reported", file: "log:\n  level: loud\n", env: "TODO_LOG_LEVEL=info", wantErr: []string{"log.level", "loud", "from file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{}
			if tt.env != "" {
				opts.Environ = []string{tt.env}
			}
			if tt.file != "" {
				opts.File = writeFile(t, t.TempDir(), "c.yaml", tt.file)
			}
			_, err := load(t, opts)
			wantErr(t, err, tt.wantErr...)
		})
	}
}

func TestWrongShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		wantErr    []string
	}{
		{"section is a string", "server: x\n", []string{"server: expected a mapping of keys", "c.yaml"}},
		{"section is a list", "log: [a]\n", []string{"log: expected a mapping", "a list"}},
		{"value is a mapping", "server:\n  addr:\n    host: x\n", []string{"server.addr: expected a string, got a mapping", "from file"}},
		{"leaf is a list", "debug: [true]\n", []string{"debug: expected a boolean, got a list"}},
		{"value is a list", "log:\n  level: [info]\n", []string{"log.level: expected a string, got a list"}},
		{"not yaml", "server: [\n", []string{"parsing", "c.yaml"}},
		{"top level is a list", "- a\n- b\n", []string{"parsing", "c.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, Options{File: writeFile(t, t.TempDir(), "c.yaml", tt.file)})
			wantErr(t, err, tt.wantErr...)
		})
	}
}

func TestValuesNormalised(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, Options{Environ: []string{
		"TODO_SERVER_TRUSTED_ORIGINS= HTTPS://App.Example.com:443 , ,http://b.example:8080,",
		"TODO_SERVER_PUBLIC_URL=https://Todo.Example.com/",
		"TODO_SERVER_TRUSTED_PROXIES=10.0.0.0/8, ::1",
		"TODO_LOG_LEVEL=WARN",
		"TODO_RATELIMIT_ENABLED=No",
	}})
	if want := []string{"https://app.example.com", "http://b.example:8080"}; !reflect.DeepEqual(c.Server.TrustedOrigins, want) {
		t.Errorf("TrustedOrigins = %q, want %q", c.Server.TrustedOrigins, want)
	}
	if want := []string{"10.0.0.0/8", "::1"}; !reflect.DeepEqual(c.Server.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %q, want %q", c.Server.TrustedProxies, want)
	}
	if c.Server.PublicURL != "https://todo.example.com" || !c.CookieSecure() {
		t.Errorf("PublicURL = %q, CookieSecure = %v", c.Server.PublicURL, c.CookieSecure())
	}
	if c.Log.Level != "warn" || c.RateLimit.Enabled {
		t.Errorf("Level = %q, Enabled = %v", c.Log.Level, c.RateLimit.Enabled)
	}

	// "," clears a list a lower layer set.
	dir := t.TempDir()
	c = mustLoad(t, Options{
		File:    writeFile(t, dir, "c.yaml", "server:\n  trusted_proxies: [10.0.0.1]\n  public_url: http://localhost:8080\n"),
		Environ: []string{"TODO_SERVER_TRUSTED_PROXIES=,"},
	})
	if len(c.Server.TrustedProxies) != 0 || c.CookieSecure() {
		t.Errorf("TrustedProxies = %q, CookieSecure = %v", c.Server.TrustedProxies, c.CookieSecure())
	}
}

// Zero is a meaningful value for both overload keys: shedding off, and
// refusing without a wait.
func TestOverloadKeysAcceptZero(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, Options{Environ: []string{"TODO_SERVER_MAX_INFLIGHT=0", "TODO_SERVER_QUEUE_TIMEOUT=0s"}})
	if c.Server.MaxInflight != 0 || c.Server.QueueTimeout != 0 {
		t.Errorf("MaxInflight = %d, QueueTimeout = %v, want 0 and 0", c.Server.MaxInflight, c.Server.QueueTimeout)
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.yaml", "")
	comments := writeFile(t, dir, "comments.yaml", "# nothing\n")
	nullSection := writeFile(t, dir, "null.yaml", "server:\nlog:\n  file:\n")
	first := writeFile(t, dir, "first.yaml", "server:\n  addr: \":1\"\n")
	second := writeFile(t, dir, "second.yaml", "server:\n  addr: \":2\"\n")
	missing := filepath.Join(dir, "missing.yaml")

	for _, p := range []string{empty, comments, nullSection} {
		c := mustLoad(t, Options{File: p})
		if c.File != p || c.Server.Addr != ":8080" || c.Sources["server.addr"] != "default" {
			t.Errorf("%s: File = %q, Addr = %q, source %q", p, c.File, c.Server.Addr, c.Sources["server.addr"])
		}
	}

	_, err := load(t, Options{File: missing, SearchPaths: []string{first}})
	wantErr(t, err, "missing.yaml")

	tests := []struct {
		paths    []string
		wantFile string
		wantAddr string
	}{
		{[]string{missing, first, second}, first, ":1"},
		{[]string{second, first}, second, ":2"},
		{[]string{missing}, "", ":8080"},
		{[]string{}, "", ":8080"},
	}
	for _, tt := range tests {
		c := mustLoad(t, Options{SearchPaths: tt.paths})
		if c.File != tt.wantFile || c.Server.Addr != tt.wantAddr {
			t.Errorf("search %q: File = %q, Addr = %q; want %q, %q", tt.paths, c.File, c.Server.Addr, tt.wantFile, tt.wantAddr)
		}
	}
}

// TestRelativeFileIsAbsolute changes the working directory, so it cannot
// run in parallel with the others.
func TestRelativeFileIsAbsolute(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "config.yaml", "debug: true\n")
	t.Chdir(dir)
	c := mustLoad(t, Options{SearchPaths: DefaultSearchPaths()[:1]})
	if want := filepath.Join(dir, "config.yaml"); c.File != want || !c.Debug {
		t.Errorf("File = %q (want %q), Debug = %v", c.File, want, c.Debug)
	}
}

// TestRepositoryConfigYAML keeps the shipped config.yaml in step with the key
// table: every key present, set to exactly its default, nothing unknown.
func TestRepositoryConfigYAML(t *testing.T) {
	t.Parallel()
	const path = "../../config.yaml"
	layer, errs := readFile(path)
	for _, err := range errs {
		t.Error(err)
	}
	for _, d := range keys {
		s, ok := layer[d.key]
		if !ok {
			t.Errorf("config.yaml does not set %s", d.key)
			continue
		}
		if !reflect.DeepEqual(s.value, d.def) {
			t.Errorf("config.yaml sets %s to %#v, want the default %#v", d.key, s.value, d.def)
		}
	}

	// Values normalised by their checks must also be written in normal
	// form, or the file would document something other than the default.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range keys {
		raw := tree[d.key]
		if sec, key, ok := strings.Cut(d.key, "."); ok {
			raw = tree[sec].(map[string]any)[key]
		}
		if v, err := parseValue(d.kind, raw); err != nil || !reflect.DeepEqual(v, d.def) {
			t.Errorf("config.yaml writes %s as %#v", d.key, raw)
		}
		if !strings.Contains(string(b), "Env: "+EnvName(d.key)) {
			t.Errorf("config.yaml does not document %s for %s", EnvName(d.key), d.key)
		}
	}

	c := mustLoad(t, Options{File: path})
	def := mustLoad(t, Options{})
	if !reflect.DeepEqual(c.Redacted(), def.Redacted()) {
		t.Errorf("loading config.yaml changes settings:\n%v\n%v", c.Redacted(), def.Redacted())
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url      string
		path     string
		isSQLite bool
		isPG     bool
		redacted string
	}{
		{"sqlite://./data/todo.db", "./data/todo.db", true, false, "sqlite://./data/todo.db"},
		{"sqlite:///var/lib/todo/todo.db", "/var/lib/todo/todo.db", true, false, "sqlite:///var/lib/todo/todo.db"},
		{"postgres://todo:s3cr%2Ft@db:5432/todo?sslmode=disable", "", false, true, "postgres://todo:***@db:5432/todo?sslmode=disable"},
		{"postgresql://db/todo?user=todo&password=hunter2", "", false, true, "postgresql://db/todo?password=***&user=todo"},
		{"postgres://todo@db/todo", "", false, true, "postgres://todo@db/todo"},
	}
	for _, tt := range tests {
		c := &Config{Database: Database{URL: tt.url}}
		p, ok := c.SQLitePath()
		if p != tt.path || ok != tt.isSQLite || c.IsPostgres() != tt.isPG {
			t.Errorf("%s: SQLitePath = %q, %v; IsPostgres = %v", tt.url, p, ok, c.IsPostgres())
		}
		r := c.Redacted()["database.url"].(string)
		if r != tt.redacted {
			t.Errorf("%s: redacted to %q, want %q", tt.url, r, tt.redacted)
		}
		if strings.Contains(r, "hunter2") || strings.Contains(r, "s3cr") {
			t.Errorf("%s: password leaked in %q", tt.url, r)
		}
	}

	c := mustLoad(t, Options{Environ: []string{"TODO_AUTH_SECRET=0123456789abcdef0123456789abcdef"}})
	r := c.Redacted()
	if r["auth.secret"] != "***" || r["server.read_timeout"] != "15s" || len(r) != len(keys) {
		t.Errorf("Redacted = %v", r)
	}
	if c.CookieSecure() {
		t.Error("CookieSecure with empty public_url")
	}
	if EnvName("ratelimit.per_minute") != "TODO_RATELIMIT_PER_MINUTE" || EnvName("debug") != "TODO_DEBUG" {
		t.Error("EnvName")
	}
}

func TestEnsureSecretConfigured(t *testing.T) {
	t.Parallel()
	const strong = "Zq8t3LwYb1Nf5Rk7Hc2Vx9Mp4Jd6Gs0E"
	tests := []struct {
		secret  string
		debug   bool
		wantErr string
		weak    bool
	}{
		{secret: strong},
		{secret: "short", wantErr: "too short"},
		{secret: "ChangeMe", wantErr: "placeholder"},
		{secret: "your_secret_key", wantErr: "placeholder"},
		{secret: "better-auth-secret", wantErr: "placeholder"},
		{secret: strings.Repeat("x", 64), wantErr: "repeated"},
		{secret: strings.Repeat("é", 40), wantErr: "repeated"},
		{secret: "changeme", debug: true, weak: true},
		{secret: "short", debug: true, weak: true},
	}
	for _, tt := range tests {
		c := &Config{Auth: Auth{Secret: tt.secret}, Debug: tt.debug, Database: Database{URL: "postgres://db/todo"},
			Sources: map[string]string{"auth.secret": "env BETTER_AUTH_SECRET"}}
		info, err := EnsureSecret(c)
		if tt.wantErr != "" {
			wantErr(t, err, "auth.secret", tt.wantErr, "env BETTER_AUTH_SECRET")
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.secret, err)
			continue
		}
		if info.Weak != tt.weak || info.Generated || info.Source != "env BETTER_AUTH_SECRET" || c.Auth.Secret != tt.secret {
			t.Errorf("%q: info = %+v", tt.secret, info)
		}
	}
}

func TestEnsureSecretGenerated(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "sub")
	newConfig := func() *Config {
		return &Config{Database: Database{URL: "sqlite://" + filepath.Join(dir, "todo.db")}}
	}
	c := newConfig()
	info, err := EnsureSecret(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SecretFileName)
	if !info.Generated || info.Path != path || info.Source != "generated" || info.Weak {
		t.Errorf("info = %+v", info)
	}
	if len(c.Auth.Secret) != 48 || strings.Trim(c.Auth.Secret, secretAlphabet) != "" {
		t.Errorf("secret %q is not 48 characters of [A-Za-z0-9]", c.Auth.Secret)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != c.Auth.Secret {
		t.Errorf("file holds %q, config %q", b, c.Auth.Secret)
	}
	if runtime.GOOS != "windows" {
		if st.Mode().Perm() != 0o600 {
			t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
		}
		if dst, _ := os.Stat(dir); dst.Mode().Perm()&0o027 != 0 {
			t.Errorf("directory mode %v, want at most 0750", dst.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left temporary files behind: %v", entries)
	}

	c2 := newConfig()
	info2, err := EnsureSecret(c2)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Auth.Secret != c.Auth.Secret || info2.Generated || info2.Source != "stored" || info2.Path != path {
		t.Errorf("second call: info = %+v, same secret = %v", info2, c2.Auth.Secret == c.Auth.Secret)
	}
}

func TestEnsureSecretConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 8
	secrets := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := &Config{Database: Database{URL: "sqlite://" + filepath.Join(dir, "todo.db")}}
			_, errs[i] = EnsureSecret(c)
			secrets[i] = c.Auth.Secret
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || secrets[i] != secrets[0] {
			t.Errorf("instance %d: err %v, secret differs: %v", i, errs[i], secrets[i] != secrets[0])
		}
	}
}

func TestEnsureSecretStoredFile(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits on Windows")
	}
	const strong = "Zq8t3LwYb1Nf5Rk7Hc2Vx9Mp4Jd6Gs0E"
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		debug   bool
		want    string
		wantErr []string
	}{
		{name: "admin-written with newline", content: strong + "\n", mode: 0o600, want: strong},
		{name: "owner read-only", content: strong, mode: 0o400, want: strong},
		{name: "group readable", content: strong, mode: 0o640, wantErr: []string{"chmod 600", SecretFileName}},
		{name: "world readable", content: strong, mode: 0o604, wantErr: []string{"chmod 600"}},
		{name: "weak", content: "changeme", mode: 0o600, wantErr: []string{"auth.secret", "placeholder", SecretFileName}},
		{name: "empty", content: "", mode: 0o600, wantErr: []string{"too short"}},
		{name: "weak in debug", content: "changeme", mode: 0o600, debug: true, want: "changeme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := writeFile(t, dir, SecretFileName, tt.content)
			if err := os.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			c := &Config{Debug: tt.debug, Database: Database{URL: "sqlite://" + dir + "/todo.db"}}
			info, err := EnsureSecret(c)
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Auth.Secret != tt.want || info.Generated || info.Weak != tt.debug {
				t.Errorf("secret %q, info %+v", c.Auth.Secret, info)
			}
		})
	}
}

func TestEnsureSecretPostgres(t *testing.T) {
	t.Parallel()
	c := &Config{Database: Database{URL: "postgres://db/todo"}}
	_, err := EnsureSecret(c)
	wantErr(t, err, "auth.secret is required with PostgreSQL", "BETTER_AUTH_SECRET")

	c = &Config{Debug: true, Database: Database{URL: "postgresql://db/todo"}}
	info, err := EnsureSecret(c)
	if err != nil {
		t.Fatal(err)
	}
	if info.Source != "generated (ephemeral, debug)" || !info.Generated || info.Path != "" || len(c.Auth.Secret) != 48 {
		t.Errorf("info = %+v, secret %q", info, c.Auth.Secret)
	}

	c = &Config{Database: Database{URL: "sqlite://:memory:"}}
	info, err = EnsureSecret(c)
	if err != nil || info.Path != "" || len(c.Auth.Secret) != 48 {
		t.Errorf("in-memory: info = %+v, err = %v", info, err)
	}
}
