package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is the Go type a key's value has once parsed.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindDuration
	kindList
)

func (k kind) String() string {
	switch k {
	case kindInt:
		return "an integer"
	case kindBool:
		return "a boolean"
	case kindDuration:
		return "a duration"
	case kindList:
		return "a list"
	default:
		return "a string"
	}
}

// keyDef describes one configuration key. The table below is the single
// source of truth: defaults, parsing, validation, the unknown-key check,
// Redacted and the config.yaml test are all derived from it, so adding a key
// means adding one line here (plus its field and its config.yaml entry).
type keyDef struct {
	key  string
	kind kind
	def  any // typed: string, int, bool, time.Duration or []string
	// check validates a parsed value and may normalise it; its error message
	// leaves out the key and source, which the caller adds.
	check func(v any) (any, error)
	get   func(c *Config) any
	set   func(c *Config, v any)
}

func field[T any](key string, k kind, def T, ptr func(*Config) *T, check func(T) (T, error)) keyDef {
	return keyDef{
		key:  key,
		kind: k,
		def:  def,
		check: func(v any) (any, error) {
			t, ok := v.(T)
			if !ok {
				// Only reachable through a bug in the parsers: every layer
				// stores values of the key's kind.
				return nil, fmt.Errorf("internal error: value of type %T for %s key", v, k)
			}
			if check == nil {
				return t, nil
			}
			return check(t)
		},
		get: func(c *Config) any { return *ptr(c) },
		set: func(c *Config, v any) { *ptr(c) = v.(T) },
	}
}

func str(key, def string, ptr func(*Config) *string, check func(string) (string, error)) keyDef {
	return field(key, kindString, def, ptr, check)
}

func integer(key string, def int, ptr func(*Config) *int, lo, hi int) keyDef {
	return field(key, kindInt, def, ptr, intRange(lo, hi))
}

func boolean(key string, def bool, ptr func(*Config) *bool) keyDef {
	return field(key, kindBool, def, ptr, nil)
}

func duration(key string, def time.Duration, ptr func(*Config) *time.Duration, min time.Duration, allowZero bool) keyDef {
	return field(key, kindDuration, def, ptr, durationMin(min, allowZero))
}

func list(key string, ptr func(*Config) *[]string, check func(string) (string, error)) keyDef {
	return field(key, kindList, []string{}, ptr, eachItem(check))
}

var keys = []keyDef{
	str("server.addr", ":8080", func(c *Config) *string { return &c.Server.Addr }, checkAddr),
	str("server.public_url", "", func(c *Config) *string { return &c.Server.PublicURL }, checkPublicURL),
	list("server.trusted_origins", func(c *Config) *[]string { return &c.Server.TrustedOrigins }, checkOrigin),
	list("server.trusted_proxies", func(c *Config) *[]string { return &c.Server.TrustedProxies }, checkProxy),
	duration("server.read_timeout", 15*time.Second, func(c *Config) *time.Duration { return &c.Server.ReadTimeout }, 0, false),
	duration("server.write_timeout", 30*time.Second, func(c *Config) *time.Duration { return &c.Server.WriteTimeout }, 0, false),
	duration("server.idle_timeout", 120*time.Second, func(c *Config) *time.Duration { return &c.Server.IdleTimeout }, 0, false),
	duration("server.shutdown_timeout", 15*time.Second, func(c *Config) *time.Duration { return &c.Server.ShutdownTimeout }, 0, false),
	// 0 turns overload shedding off; 0s sheds at once when every slot is busy.
	integer("server.max_inflight", 64, func(c *Config) *int { return &c.Server.MaxInflight }, 0, 1000000),
	duration("server.queue_timeout", 100*time.Millisecond, func(c *Config) *time.Duration { return &c.Server.QueueTimeout }, 0, true),

	str("database.url", "sqlite://./data/todo.db", func(c *Config) *string { return &c.Database.URL }, checkDatabaseURL),
	boolean("database.auto_migrate", true, func(c *Config) *bool { return &c.Database.AutoMigrate }),
	integer("database.max_open_conns", 16, func(c *Config) *int { return &c.Database.MaxOpenConns }, 1, 1000),
	integer("database.max_idle_conns", 16, func(c *Config) *int { return &c.Database.MaxIdleConns }, 0, 1000),
	duration("database.conn_max_lifetime", 30*time.Minute, func(c *Config) *time.Duration { return &c.Database.ConnMaxLifetime }, 0, true),
	duration("database.startup_timeout", 30*time.Second, func(c *Config) *time.Duration { return &c.Database.StartupTimeout }, 0, true),
	duration("database.query_timeout", 10*time.Second, func(c *Config) *time.Duration { return &c.Database.QueryTimeout }, 0, false),

	// The secret's strength is judged by EnsureSecret, not here, because
	// debug mode (which may be set by a later layer) relaxes the rule.
	str("auth.secret", "", func(c *Config) *string { return &c.Auth.Secret }, nil),
	duration("auth.session_ttl", 168*time.Hour, func(c *Config) *time.Duration { return &c.Auth.SessionTTL }, time.Minute, false),
	duration("auth.update_age", 24*time.Hour, func(c *Config) *time.Duration { return &c.Auth.UpdateAge }, 0, true),
	integer("auth.bcrypt_cost", 10, func(c *Config) *int { return &c.Auth.BcryptCost }, 4, 31),
	str("auth.password_hash", "bcrypt", func(c *Config) *string { return &c.Auth.PasswordHash }, oneOf("bcrypt", "scrypt")),
	boolean("auth.signup_enabled", true, func(c *Config) *bool { return &c.Auth.SignupEnabled }),

	boolean("ratelimit.enabled", true, func(c *Config) *bool { return &c.RateLimit.Enabled }),
	integer("ratelimit.per_minute", 100, func(c *Config) *int { return &c.RateLimit.PerMinute }, 1, 1000000),
	integer("ratelimit.auth_per_minute", 10, func(c *Config) *int { return &c.RateLimit.AuthPerMinute }, 1, 1000000),

	str("log.level", "info", func(c *Config) *string { return &c.Log.Level }, oneOf("debug", "info", "warn", "error")),
	str("log.format", "text", func(c *Config) *string { return &c.Log.Format }, oneOf("text", "json")),
	str("log.file", "", func(c *Config) *string { return &c.Log.File }, nil),
	integer("log.max_size_mb", 100, func(c *Config) *int { return &c.Log.MaxSizeMB }, 1, math.MaxInt32),
	integer("log.max_backups", 5, func(c *Config) *int { return &c.Log.MaxBackups }, 0, math.MaxInt32),
	integer("log.max_age_days", 28, func(c *Config) *int { return &c.Log.MaxAgeDays }, 0, math.MaxInt32),

	boolean("debug", false, func(c *Config) *bool { return &c.Debug }),
}

// keyIndex and sections are derived from keys at start-up.
var (
	keyIndex = func() map[string]*keyDef {
		m := make(map[string]*keyDef, len(keys))
		for i := range keys {
			if _, dup := m[keys[i].key]; dup {
				panic("config: duplicate key " + keys[i].key)
			}
			m[keys[i].key] = &keys[i]
		}
		return m
	}()
	sections = func() map[string]bool {
		m := map[string]bool{}
		for _, k := range keys {
			if sec, _, ok := strings.Cut(k.key, "."); ok {
				m[sec] = true
			}
		}
		return m
	}()
)

// EnvName returns the TODO_ environment variable that sets a dotted key.
func EnvName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys returns every dotted key the configuration accepts, in table order.
func Keys() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.key
	}
	return out
}

// parseValue turns a raw value from any layer into the key's Go type.
// Strings (environment, flags, quoted YAML) are parsed; YAML scalars of the
// right type are taken as they are. Anything else is refused rather than
// coerced, so `auth.secret: 1234...` in YAML cannot silently become a float.
func parseValue(k kind, raw any) (any, error) {
	if s, ok := raw.(string); ok {
		return parseString(k, s)
	}
	switch k {
	case kindInt:
		switch v := raw.(type) {
		case int:
			return v, nil
		case int64:
			if v < math.MinInt || v > math.MaxInt {
				return nil, fmt.Errorf("%d is out of range", v)
			}
			return int(v), nil
		case uint64:
			if v > math.MaxInt {
				return nil, fmt.Errorf("%d is out of range", v)
			}
			return int(v), nil
		}
	case kindBool:
		if v, ok := raw.(bool); ok {
			return v, nil
		}
	case kindList:
		switch v := raw.(type) {
		case []string:
			return cleanList(v), nil
		case []any:
			out := make([]string, 0, len(v))
			for i, item := range v {
				s, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("item %d: expected a string, got %s", i+1, describe(item))
				}
				out = append(out, s)
			}
			return cleanList(out), nil
		}
	}
	if k == kindDuration {
		return nil, fmt.Errorf("expected a duration such as \"90s\" or \"168h\", got %s", describe(raw))
	}
	return nil, fmt.Errorf("expected %s, got %s", k, describe(raw))
}

func parseString(k kind, s string) (any, error) {
	switch k {
	case kindString:
		return s, nil
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case kindBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1", "yes":
			return true, nil
		case "false", "0", "no":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean (use true/false, 1/0 or yes/no)", s)
	case kindDuration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration (use Go syntax such as \"90s\", \"30m\" or \"168h\")", s)
		}
		return d, nil
	case kindList:
		return cleanList(strings.Split(s, ",")), nil
	}
	return nil, fmt.Errorf("unsupported kind %d", k)
}

// cleanList trims items and drops empty ones, so "a, b," and a YAML list
// with a stray blank entry mean the same thing.
func cleanList(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case map[string]any, map[any]any:
		return "a mapping"
	case []any, []string:
		return "a list"
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case int, int64, uint64, float64:
		return fmt.Sprintf("the number %v", v)
	case string:
		return fmt.Sprintf("the string %q", v)
	default:
		return fmt.Sprintf("a %T", v)
	}
}

func intRange(lo, hi int) func(int) (int, error) {
	return func(n int) (int, error) {
		if n < lo || n > hi {
			if hi == math.MaxInt32 {
				return 0, fmt.Errorf("%d is out of range (must be at least %d)", n, lo)
			}
			return 0, fmt.Errorf("%d is out of range (must be %d..%d)", n, lo, hi)
		}
		return n, nil
	}
}

func durationMin(min time.Duration, allowZero bool) func(time.Duration) (time.Duration, error) {
	return func(d time.Duration) (time.Duration, error) {
		switch {
		case d < 0:
			return 0, fmt.Errorf("%s is negative", d)
		case d == 0 && !allowZero:
			return 0, errors.New("must be greater than 0")
		case min > 0 && d < min:
			return 0, fmt.Errorf("%s is too short (minimum %s)", d, min)
		}
		return d, nil
	}
}

func oneOf(allowed ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		v := strings.ToLower(strings.TrimSpace(s))
		if !slices.Contains(allowed, v) {
			return "", fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
		}
		return v, nil
	}
}

func eachItem(check func(string) (string, error)) func([]string) ([]string, error) {
	return func(items []string) ([]string, error) {
		out := make([]string, len(items))
		for i, s := range items {
			v, err := check(s)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

func checkAddr(s string) (string, error) {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port (for example \":8080\" or \"127.0.0.1:8080\")", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%q: port must be a number 0..65535", s)
	}
	return s, nil
}

// normalOrigin parses scheme://host[:port] into the form browsers send in
// the Origin header (lower case, default port left out) so the CSRF check
// can compare strings.
func normalOrigin(u *url.URL) (string, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("scheme must be http or https")
	}
	if u.Hostname() == "" {
		return "", errors.New("host is missing")
	}
	if u.User != nil {
		return "", errors.New("must not contain user information")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("must not have a query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %q is not 1..65535", p)
		}
		if !(u.Scheme == "http" && n == 80) && !(u.Scheme == "https" && n == 443) {
			host += ":" + p
		}
	}
	return u.Scheme + "://" + host, nil
}

func checkPublicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", s)
	}
	if u.Path != "" && u.Path != "/" {
		return "", fmt.Errorf("%q must not have a path (serving under a sub-path is not supported)", s)
	}
	o, err := normalOrigin(u)
	if err != nil {
		return "", fmt.Errorf("%q is not an absolute http(s) URL: %w", s, err)
	}
	return o, nil
}

func checkOrigin(s string) (string, error) {
	if s == "*" {
		return "", errors.New(`"*" is not allowed: list each origin (credentials are never shared with every site)`)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not an origin", s)
	}
	if u.Path != "" || u.RawPath != "" {
		return "", fmt.Errorf("%q must be exactly scheme://host[:port] (no path or trailing slash)", s)
	}
	o, err := normalOrigin(u)
	if err != nil {
		return "", fmt.Errorf("%q is not an origin (scheme://host[:port]): %w", s, err)
	}
	return o, nil
}

func checkProxy(s string) (string, error) {
	if strings.Contains(s, "/") {
		if _, err := netip.ParsePrefix(s); err != nil {
			return "", fmt.Errorf("%q is not a valid CIDR", s)
		}
		return s, nil
	}
	if _, err := netip.ParseAddr(s); err != nil {
		return "", fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	return s, nil
}

func checkDatabaseURL(s string) (string, error) {
	switch {
	case strings.HasPrefix(s, sqlitePrefix):
		if strings.TrimPrefix(s, sqlitePrefix) == "" {
			return "", fmt.Errorf("%q has no file path (for example sqlite://./data/todo.db)", s)
		}
		return s, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			// url.Parse echoes the input, which holds the password.
			return "", errors.New("the PostgreSQL URL cannot be parsed (check that special characters in the password are percent-encoded)")
		}
		return s, nil
	}
	return "", errors.New("must start with sqlite://, postgres:// or postgresql://")
}
