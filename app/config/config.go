// Package config loads the server's settings from built-in defaults, a YAML
// file, the environment and command-line flags, in that order of precedence.
package config

import (
	"net/url"
	"strings"
	"time"
)

// Config is every setting the server knows. Keys are at most two levels deep
// (section.key) so each one maps to a single TODO_SECTION_KEY variable.
type Config struct {
	Server    Server
	Database  Database
	Auth      Auth
	RateLimit RateLimit
	Log       Log
	Debug     bool

	// File is the configuration file that was read, empty when none was.
	File string
	// Sources names where each key's final value came from ("default",
	// "file", "env NAME", "flag --name"), for diagnostics.
	Sources map[string]string
}

// Server holds the HTTP listener settings.
type Server struct {
	Addr            string
	PublicURL       string
	TrustedOrigins  []string
	TrustedProxies  []string
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	// MaxInflight bounds the /api requests handled at once (0: unbounded);
	// QueueTimeout is how long a request waits for a slot before a 503.
	MaxInflight  int
	QueueTimeout time.Duration
}

// Database holds the connection settings for SQLite or PostgreSQL.
type Database struct {
	URL             string
	AutoMigrate     bool
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	StartupTimeout  time.Duration
	QueryTimeout    time.Duration
}

// Auth holds the session and password settings.
type Auth struct {
	Secret        string
	SessionTTL    time.Duration
	UpdateAge     time.Duration
	BcryptCost    int
	PasswordHash  string
	SignupEnabled bool
}

// RateLimit holds the request limits.
type RateLimit struct {
	Enabled       bool
	PerMinute     int
	AuthPerMinute int
}

// Log holds the logging settings.
type Log struct {
	Level      string
	Format     string
	File       string
	MaxSizeMB  int
	MaxBackups int
	MaxAgeDays int
}

// SQLitePath returns the database file path of a sqlite:// URL, exactly as
// written after the scheme (so "sqlite:///var/lib/todo/todo.db" is absolute
// and "sqlite://./data/todo.db" is relative to the working directory).
func (c *Config) SQLitePath() (path string, ok bool) {
	if p, ok := strings.CutPrefix(c.Database.URL, sqlitePrefix); ok {
		return p, true
	}
	return "", false
}

// IsPostgres reports whether the database is PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.Database.URL, "postgres://") || strings.HasPrefix(c.Database.URL, "postgresql://")
}

// CookieSecure reports whether session cookies get the Secure attribute and
// the __Secure- name: only when the public URL says the site is served over
// https, since browsers drop Secure cookies on plain http.
func (c *Config) CookieSecure() bool {
	return strings.HasPrefix(c.Server.PublicURL, "https://")
}

// Redacted returns every key with its final value, safe to log: the secret
// and the database password are masked, durations are rendered as strings
// so JSON logs don't show nanoseconds.
func (c *Config) Redacted() map[string]any {
	out := make(map[string]any, len(keys))
	for _, d := range keys {
		v := d.get(c)
		switch x := v.(type) {
		case time.Duration:
			v = x.String()
		case []string:
			v = append([]string{}, x...)
		}
		out[d.key] = v
	}
	if c.Auth.Secret != "" {
		out["auth.secret"] = redactedMark
	}
	out["database.url"] = redactURL(c.Database.URL)
	return out
}

const redactedMark = "***"

// redactURL masks the password in a URL, whether in the user info or in a
// libpq-style password= query parameter.
func redactURL(s string) string {
	if strings.HasPrefix(s, sqlitePrefix) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable means we can't tell where the password is.
		return redactedMark
	}
	// url.URL would percent-encode "***", so a marker of unreserved
	// characters goes in and is swapped afterwards.
	const marker = "REDACTED0PASSWORD0MARKER"
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), marker)
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", marker)
		u.RawQuery = q.Encode()
	}
	return strings.ReplaceAll(u.String(), marker, redactedMark)
}
