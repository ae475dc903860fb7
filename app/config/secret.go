package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unicode/utf8"
)

// SecretFileName is the file, next to the SQLite database, that keeps the
// generated secret across restarts. Back it up with the database: losing it
// signs every user out.
const SecretFileName = "todo.secret"

const (
	minSecretLen       = 32
	generatedSecretLen = 48
	secretAlphabet     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// SecretInfo says where the secret EnsureSecret settled on came from, for
// the start-up log.
type SecretInfo struct {
	// Source is the configured source ("env BETTER_AUTH_SECRET", "file",
	// "flag --secret"), "stored" (read from Path), "generated" (new, written
	// to Path) or "generated (ephemeral, ...)" (lost at exit).
	Source string
	// Path is the secret file, for "stored" and "generated".
	Path string
	// Generated is true when the secret was created by this call.
	Generated bool
	// Weak is true when the secret would have been refused but Debug let it
	// through; the caller should log a warning.
	Weak bool
}

// placeholders are values copied from examples and tutorials. They are
// refused even though most are already too short, so the error says why.
var placeholders = map[string]bool{
	"changeme": true, "change-me": true, "change_me": true, "secret": true,
	"your-secret": true, "your-secret-key": true, "your_secret_key": true,
	"secret-key": true, "secret_key": true, "better-auth-secret": true,
	"mysecret": true, "password": true, "default": true, "example": true,
	"test": true, "todo": true,
}

// secretWeakness returns why a secret is unacceptable, or "" when it is fine.
func secretWeakness(s string) string {
	lower := strings.ToLower(s)
	if placeholders[lower] {
		return "is a known placeholder"
	}
	if r, _ := utf8.DecodeRuneInString(lower); s != "" && strings.Trim(lower, string(r)) == "" {
		return "is a single repeated character"
	}
	if n := utf8.RuneCountInString(s); n < minSecretLen {
		return fmt.Sprintf("is too short (%d characters, at least %d required)", n, minSecretLen)
	}
	return ""
}

// EnsureSecret makes sure c.Auth.Secret holds a usable secret, checking a
// configured one and otherwise reading or creating the one kept next to the
// SQLite database. Sessions are signed with it, so it must survive restarts
// and be shared by every instance using the same database.
func EnsureSecret(c *Config) (SecretInfo, error) {
	if c.Sources == nil {
		c.Sources = map[string]string{}
	}
	if c.Auth.Secret != "" {
		src := c.Sources["auth.secret"]
		if src == "" {
			src = "configured"
		}
		info := SecretInfo{Source: src}
		if why := secretWeakness(c.Auth.Secret); why != "" {
			if !c.Debug {
				return SecretInfo{}, fmt.Errorf("config: auth.secret %s (from %s); generate one with `openssl rand -base64 48`, or unset it to let the server create and keep one", why, src)
			}
			info.Weak = true
		}
		return info, nil
	}

	if path, ok := c.SQLitePath(); ok {
		if inMemory(path) {
			// The data dies with the process, so the sessions may too.
			return ephemeralSecret(c, "generated (ephemeral, in-memory database)")
		}
		secretPath, err := filepath.Abs(filepath.Join(filepath.Dir(path), SecretFileName))
		if err != nil {
			return SecretInfo{}, fmt.Errorf("config: locating %s: %w", SecretFileName, err)
		}
		return storedSecret(c, secretPath)
	}

	if c.IsPostgres() {
		if !c.Debug {
			return SecretInfo{}, errors.New("config: auth.secret is required with PostgreSQL: every instance sharing the database must use the same secret (set BETTER_AUTH_SECRET or auth.secret)")
		}
		return ephemeralSecret(c, "generated (ephemeral, debug)")
	}
	return SecretInfo{}, errors.New("config: auth.secret: cannot decide where to keep a secret for this database.url; set auth.secret")
}

func inMemory(path string) bool {
	return path == ":memory:" || strings.HasPrefix(path, "file::memory:") || strings.Contains(path, "mode=memory")
}

func ephemeralSecret(c *Config, source string) (SecretInfo, error) {
	s, err := randomSecret()
	if err != nil {
		return SecretInfo{}, err
	}
	c.Auth.Secret = s
	c.Sources["auth.secret"] = source
	return SecretInfo{Source: source, Generated: true}, nil
}

func storedSecret(c *Config, path string) (SecretInfo, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return SecretInfo{}, fmt.Errorf("config: creating the directory for %s: %w", SecretFileName, err)
	}
	info := SecretInfo{Source: "stored", Path: path}
	s, err := readSecretFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var created bool
		s, created, err = createSecretFile(path)
		if created {
			info.Source, info.Generated = "generated", true
		}
	}
	if err != nil {
		return SecretInfo{}, err
	}
	if why := secretWeakness(s); why != "" {
		if !c.Debug {
			return SecretInfo{}, fmt.Errorf("config: auth.secret in %s %s; delete the file to have a new one generated (this signs everyone out)", path, why)
		}
		info.Weak = true
	}
	c.Auth.Secret = s
	c.Sources["auth.secret"] = info.Source + " " + path
	return info, nil
}

func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", fmt.Errorf("config: reading auth secret: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("config: reading auth secret: %w", err)
	}
	// Windows has no group/other permission bits to check.
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("config: %s is readable by other users (mode %04o); run `chmod 600 %s`", path, st.Mode().Perm(), path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("config: reading auth secret: %w", err)
	}
	s := string(b)
	if t, cut := strings.CutSuffix(s, "\r\n"); cut {
		s = t
	} else {
		s = strings.TrimSuffix(s, "\n")
	}
	return s, nil
}

// createSecretFile writes a new secret to a private temporary file and links
// it into place, so no process ever sees a partly written secret file and an
// existing one is never replaced. created is false when another process
// (a second instance starting at the same moment) got there first; the
// returned secret is then theirs.
func createSecretFile(path string) (secret string, created bool, err error) {
	secret, err = randomSecret()
	if err != nil {
		return "", false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+SecretFileName+".*")
	if err != nil {
		return "", false, fmt.Errorf("config: creating auth secret file: %w", err)
	}
	// CreateTemp creates the file with mode 0600, which is what we want.
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(secret)
	serr := tmp.Sync()
	if cerr := tmp.Close(); werr == nil && serr == nil {
		werr = cerr
	} else if werr == nil {
		werr = serr
	}
	if werr != nil {
		return "", false, fmt.Errorf("config: writing auth secret file: %w", werr)
	}

	err = os.Link(tmp.Name(), path)
	switch {
	case err == nil:
		return secret, true, nil
	case errors.Is(err, fs.ErrExist):
		s, err := readSecretFile(path)
		return s, false, err
	}
	// Some file systems (certain network and FUSE mounts) lack hard links;
	// fall back to an exclusive create, which is still race-free between
	// instances even if a crash could leave the file empty.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		s, err := readSecretFile(path)
		return s, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("config: creating auth secret file: %w", err)
	}
	_, werr = f.WriteString(secret)
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", false, fmt.Errorf("config: writing auth secret file: %w", werr)
	}
	return secret, true, nil
}

func randomSecret() (string, error) {
	// rand.Text is base32; this alphabet keeps the documented [A-Za-z0-9]
	// shape. Rejection sampling avoids modulo bias.
	const maxByte = 256 - 256%len(secretAlphabet)
	out := make([]byte, 0, generatedSecretLen)
	buf := make([]byte, 64)
	for len(out) < generatedSecretLen {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("config: generating auth secret: %w", err)
		}
		for _, b := range buf {
			if int(b) < maxByte && len(out) < generatedSecretLen {
				out = append(out, secretAlphabet[int(b)%len(secretAlphabet)])
			}
		}
	}
	return string(out), nil
}
