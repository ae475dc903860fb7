package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzLoadFile feeds arbitrary bytes to Load as the contents of the
// configuration file, the way `todo serve --config FILE` reads it. Load must
// return an error rather than panic; a configuration it accepts must pass
// its own validation again unchanged (so no value slipped past a check or
// was normalised into something the check refuses), and its redacted form,
// which is logged, must not show the secret or the database password.
func FuzzLoadFile(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "config.yaml")); err == nil {
		f.Add(b)
	}
	for _, seed := range []string{
		"",
		"server:\n  addr: \"127.0.0.1:9000\"\n  trusted_proxies: [\"10.0.0.0/8\", \"::1\"]\n  trusted_origins: [\"https://App.Example.com:443/\"]\n",
		"database:\n  url: postgres://todo:s%40cret@db:5432/todo?sslmode=disable&password=other\n  query_timeout: 2s\n",
		"auth:\n  secret: 0123456789abcdef0123456789abcdef\n  session_ttl: 30m\n  update_age: 1h\n",
		"auth:\n  session_ttl: 1m\n",
		"ratelimit: {enabled: false, per_minute: 99999999999999999999}\n",
		"log: [1, 2]\ndebug: yes\n",
		"server:\n  addr:\n",
		"database:\n  url: sqlite://\n  max_open_conns: 1.5\n",
		"? [a]\n: b\n",
		"a: &a [*a]\n",
		"unknown: 1\nserver: {unknown: 2}\n",
		"server:\n  read_timeout: -1s\n  idle_timeout: 9999999999h\n",
		"\xff\xfe",
		"%YAML 1.2\n---\nserver: {addr: \":0\"}\n...\n",
		"server: !!binary aGVsbG8=\n",
		"database: {url: \"postgres://u:p@[::1]:5432/db\"}",
	} {
		f.Add([]byte(seed))
	}
	// One file, rewritten each time: a fuzzing process runs its inputs one
	// at a time.
	path := filepath.Join(f.TempDir(), "config.yaml")
	f.Fuzz(func(t *testing.T, contents []byte) {
		if err := os.WriteFile(path, contents, 0o600); err != nil {
			t.Fatal(err)
		}
		// The fuzzer has no notion of a hang; a watchdog turns one into a
		// crash, which saves the input.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Load still running after 10s on %q", contents)) })
		cfg, err := Load(Options{File: path, SearchPaths: []string{}, Environ: []string{}})
		watchdog.Stop()
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if cfg.File != path {
			t.Fatalf("File = %q, want %q", cfg.File, path)
		}
		for _, d := range keys {
			v := d.get(cfg)
			again, err := d.check(v)
			if err != nil {
				t.Fatalf("%s = %#v was accepted but fails its own check: %v", d.key, v, err)
			}
			if !reflect.DeepEqual(again, v) {
				t.Fatalf("%s = %#v normalises again to %#v", d.key, v, again)
			}
			if src := cfg.Sources[d.key]; src != "default" && src != "file" {
				t.Fatalf("%s comes from %q; only the defaults and the file were given", d.key, src)
			}
		}
		if cfg.Auth.UpdateAge > cfg.Auth.SessionTTL {
			t.Fatalf("auth.update_age %s exceeds auth.session_ttl %s", cfg.Auth.UpdateAge, cfg.Auth.SessionTTL)
		}
		red := cfg.Redacted()
		if cfg.Auth.Secret != "" && red["auth.secret"] != redactedMark {
			t.Fatalf("redacted auth.secret is %v", red["auth.secret"])
		}
		checkURLRedacted(t, cfg.Database.URL, red["database.url"].(string))
	})
}

// checkURLRedacted fails when a password readable in the database URL is
// still readable in its redacted form.
func checkURLRedacted(t *testing.T, raw, redacted string) {
	t.Helper()
	if strings.HasPrefix(raw, sqlitePrefix) {
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	r, err := url.Parse(redacted)
	if err != nil {
		if redacted != redactedMark {
			t.Fatalf("redacted URL %q does not parse: %v", redacted, err)
		}
		return
	}
	if p, ok := u.User.Password(); ok && p != "" {
		if rp, _ := r.User.Password(); rp != redactedMark {
			t.Fatalf("password of %q redacted to %q", raw, redacted)
		}
	}
	if q := u.Query(); q.Get("password") != "" && r.Query().Get("password") != redactedMark {
		t.Fatalf("password parameter of %q redacted to %q", raw, redacted)
	}
}
