package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvConfigFile names the variable the CLI reads for the configuration file
// path when --config is not given. Load ignores it (the caller resolves it
// into Options.File) but must not report it as an unknown key.
const EnvConfigFile = "TODO_CONFIG"

const (
	envPrefix    = "TODO_"
	sqlitePrefix = "sqlite://"
)

// DefaultSearchPaths is where Load looks for a configuration file when none
// is named: the working directory first so a checkout runs as-is, then the
// system location packages install to.
func DefaultSearchPaths() []string {
	return []string{"config.yaml", "/etc/todo/config.yaml"}
}

// Options tells Load where to read settings from. The zero value reads the
// default search paths and the process environment.
type Options struct {
	// File is the --config path; it must exist when set.
	File string
	// SearchPaths are tried in order when File is empty; the first that
	// exists is read and having none is fine. Nil means DefaultSearchPaths;
	// an empty non-nil slice disables the search.
	SearchPaths []string
	// Environ is the environment as KEY=VALUE pairs; nil means os.Environ().
	Environ []string
	// Flags and FlagKeys map command-line flags (by name) to dotted keys.
	// Only flags the user changed apply, so a flag's own default never
	// overrides the file or the environment. Flags listed in FlagKeys but
	// absent from Flags are skipped, which lets commands share one map.
	Flags    *pflag.FlagSet
	FlagKeys map[string]string
}

// setting is one layer's value for a key, already parsed and validated.
type setting struct {
	value  any
	source string // as stored in Config.Sources
}

// Load builds the configuration from defaults < file < environment < flags.
// Every value in every layer is parsed and validated, even one a higher layer
// overrides, so a mistake in config.yaml is reported rather than hidden until
// the day the override is removed. All problems are returned together.
func Load(opts Options) (*Config, error) {
	k := koanf.New(".")
	sources := make(map[string]string, len(keys))
	var errs []error

	defaults := make(map[string]any, len(keys))
	for _, d := range keys {
		defaults[d.key] = d.def
		sources[d.key] = "default"
	}
	if err := k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return nil, fmt.Errorf("config: loading defaults: %w", err)
	}

	merge := func(layer map[string]setting) {
		if len(layer) == 0 {
			return
		}
		flat := make(map[string]any, len(layer))
		for key, s := range layer {
			flat[key] = s.value
			sources[key] = s.source
		}
		if err := k.Load(confmap.Provider(flat, "."), nil); err != nil {
			errs = append(errs, fmt.Errorf("config: merging settings: %w", err))
		}
	}

	path, err := findFile(opts)
	if err != nil {
		return nil, err
	}
	if path != "" {
		layer, ferrs := readFile(path)
		errs = append(errs, ferrs...)
		merge(layer)
	}

	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	layer, eerrs := readEnv(environ)
	errs = append(errs, eerrs...)
	merge(layer)

	layer, ferrs := readFlags(opts.Flags, opts.FlagKeys)
	errs = append(errs, ferrs...)
	merge(layer)

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	cfg := &Config{File: path, Sources: sources}
	for _, d := range keys {
		d.set(cfg, k.Get(d.key))
	}
	if cfg.Auth.UpdateAge > cfg.Auth.SessionTTL {
		if cfg.Auth.UpdateAge != keyIndex["auth.update_age"].def {
			return nil, fmt.Errorf("config: auth.update_age: %s (from %s) is longer than auth.session_ttl %s (from %s); lower auth.update_age",
				cfg.Auth.UpdateAge, sources["auth.update_age"], cfg.Auth.SessionTTL, sources["auth.session_ttl"])
		}
		// Only the lifetime was shortened (typically the seed's
		// ACCESS_TOKEN_EXPIRE_MINUTES=30) and update_age is still at its
		// default, whether implied or spelled out by a copy of the shipped
		// config.yaml: keep the defaults' 1:7 ratio rather than refuse a
		// setting the operator never chose.
		cfg.Auth.UpdateAge = cfg.Auth.SessionTTL / 7
	}
	return cfg, nil
}

// findFile returns the absolute path of the file to read, or "" for none.
func findFile(opts Options) (string, error) {
	if opts.File != "" {
		abs, err := filepath.Abs(opts.File)
		if err != nil {
			return "", fmt.Errorf("config: config file %q: %w", opts.File, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("config: config file: %w", err)
		}
		return abs, nil
	}
	paths := opts.SearchPaths
	if paths == nil {
		paths = DefaultSearchPaths()
	}
	for _, p := range paths {
		_, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			// A file we cannot even stat (permissions) is more likely a
			// misconfiguration than an absent file; skipping it would run
			// the server with silently different settings.
			return "", fmt.Errorf("config: config file: %w", err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("config: config file %q: %w", p, err)
		}
		return abs, nil
	}
	return "", nil
}

// readFile reads a YAML file into one layer. The parsed tree is walked here
// rather than flattened by koanf, because flattening would turn a mapping
// given where a value belongs into an innocent-looking unknown sub-key.
func readFile(path string) (map[string]setting, []error) {
	b, err := file.Provider(path).ReadBytes()
	if err != nil {
		return nil, []error{fmt.Errorf("config: reading config file: %w", err)}
	}
	tree, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		return nil, []error{fmt.Errorf("config: parsing %s: %w", path, err)}
	}
	src := "file " + path
	layer := map[string]setting{}
	var errs []error
	add := func(key string, raw any) {
		d, ok := keyIndex[key]
		if !ok {
			errs = append(errs, fmt.Errorf("config: unknown key %q (in %s)", key, path))
			return
		}
		if raw == nil {
			// "key:" with nothing after it leaves the lower layer in place,
			// like a commented-out line would.
			return
		}
		v, err := parseAndCheck(d, raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %w (from %s)", key, err, src))
			return
		}
		layer[key] = setting{value: v, source: "file"}
	}
	for _, top := range slices.Sorted(maps.Keys(tree)) {
		val := tree[top]
		if _, leaf := keyIndex[top]; leaf || !sections[top] {
			add(top, val)
			continue
		}
		switch sec := val.(type) {
		case nil:
		case map[string]any:
			for _, sub := range slices.Sorted(maps.Keys(sec)) {
				add(top+"."+sub, sec[sub])
			}
		case map[any]any:
			for sub, v := range sec {
				add(top+"."+fmt.Sprint(sub), v)
			}
		default:
			errs = append(errs, fmt.Errorf("config: %s: expected a mapping of keys, got %s (in %s)", top, describe(val), path))
		}
	}
	return layer, errs
}

func parseAndCheck(d *keyDef, raw any) (any, error) {
	v, err := parseValue(d.kind, raw)
	if err != nil {
		return nil, err
	}
	return d.check(v)
}

// envAlias is a name from the seed application, kept so existing
// deployments work unchanged; each sits below the matching TODO_ variable.
type envAlias struct {
	name    string
	key     string
	fileOK  bool // NAME_FILE may hold the value instead
	minutes bool // value is a whole number of minutes
}

// aliases are applied in order, so later entries override earlier ones.
var aliases = []envAlias{
	{name: "DATABASE_URL", key: "database.url", fileOK: true},
	{name: "SECRET_KEY", key: "auth.secret", fileOK: true},
	{name: "BETTER_AUTH_SECRET", key: "auth.secret", fileOK: true},
	{name: "ACCESS_TOKEN_EXPIRE_MINUTES", key: "auth.session_ttl", minutes: true},
	{name: "DEBUG", key: "debug"},
}

// fileKeys are the keys whose TODO_ variable also has a _FILE form: the
// secrets, which container platforms hand over as files.
var fileKeys = map[string]bool{"auth.secret": true, "database.url": true}

// readEnv turns the environment into one layer. Empty variables count as
// unset: compose files and systemd units routinely pass `${VAR}` through
// empty, and treating that as "set to nothing" would, for instance, discard
// a secret given by a lower-priority name.
func readEnv(environ []string) (map[string]setting, []error) {
	env := map[string]string{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || val == "" {
			continue
		}
		// First occurrence wins, matching os.Getenv.
		if _, seen := env[name]; !seen {
			env[name] = val
		}
	}

	layer := map[string]setting{}
	var errs []error
	set := func(key, name, raw string) {
		v, err := parseAndCheck(keyIndex[key], raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %w (from env %s)", key, err, name))
			return
		}
		layer[key] = setting{value: v, source: "env " + name}
	}
	// lookup returns a variable's value or, for secrets, the content of
	// the file its NAME_FILE twin points at.
	lookup := func(key, name string, fileOK bool) (val, from string, ok bool) {
		val, direct := env[name]
		path, viaFile := env[name+"_FILE"]
		if !fileOK || !viaFile {
			return val, name, direct
		}
		if direct {
			errs = append(errs, fmt.Errorf("config: %s: both %s and %s_FILE are set; use one", key, name, name))
			return "", "", false
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s: reading the file named by %s_FILE: %w", key, name, err))
			return "", "", false
		}
		s := string(b)
		if t, cut := strings.CutSuffix(s, "\r\n"); cut {
			s = t
		} else {
			s = strings.TrimSuffix(s, "\n")
		}
		if s == "" {
			errs = append(errs, fmt.Errorf("config: %s: the file named by %s_FILE (%s) is empty", key, name, path))
			return "", "", false
		}
		return s, name + "_FILE", true
	}

	for _, a := range aliases {
		val, from, ok := lookup(a.key, a.name, a.fileOK)
		if !ok {
			continue
		}
		if a.minutes {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("config: %s: %q is not a positive whole number of minutes (from env %s)", a.key, val, from))
				continue
			}
			if n > int(time.Duration(1<<63-1)/time.Minute) {
				errs = append(errs, fmt.Errorf("config: %s: %d minutes is out of range (from env %s)", a.key, n, from))
				continue
			}
			val = (time.Duration(n) * time.Minute).String()
		}
		set(a.key, from, val)
	}

	for _, name := range slices.Sorted(maps.Keys(env)) {
		rest, ok := strings.CutPrefix(name, envPrefix)
		if !ok || name == EnvConfigFile {
			continue
		}
		key := envKey(rest)
		if _, known := keyIndex[key]; known {
			val, from, ok := lookup(key, name, fileKeys[key])
			if ok {
				set(key, from, val)
			}
			continue
		}
		if base, isFile := strings.CutSuffix(name, "_FILE"); isFile {
			if k := envKey(strings.TrimPrefix(base, envPrefix)); fileKeys[k] && base == EnvName(k) {
				if _, direct := env[base]; !direct {
					if val, from, ok := lookup(k, base, true); ok {
						set(k, from, val)
					}
				}
				// Otherwise the base name's turn reads both and
				// reports the conflict.
				continue
			}
			errs = append(errs, fmt.Errorf("config: unknown key %q (from env %s; only auth.secret and database.url can be read from a _FILE)", key, name))
			continue
		}
		errs = append(errs, fmt.Errorf("config: unknown key %q (from env %s)", key, name))
	}
	return layer, errs
}

// envKey maps the part after TODO_ to a dotted key: the first underscore
// separates section from key, the rest belong to the key.
func envKey(rest string) string {
	rest = strings.ToLower(rest)
	if sec, key, ok := strings.Cut(rest, "_"); ok {
		return sec + "." + key
	}
	return rest
}

// readFlags turns the changed flags into one layer.
func readFlags(fset *pflag.FlagSet, flagKeys map[string]string) (map[string]setting, []error) {
	if fset == nil {
		return nil, nil
	}
	layer := map[string]setting{}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(flagKeys)) {
		key := flagKeys[name]
		d, ok := keyIndex[key]
		if !ok {
			errs = append(errs, fmt.Errorf("config: flag --%s is mapped to unknown key %q", name, key))
			continue
		}
		f := fset.Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		var raw any = f.Value.String()
		if sv, ok := f.Value.(pflag.SliceValue); ok && d.kind == kindList {
			raw = sv.GetSlice()
		}
		v, err := parseAndCheck(d, raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %w (from flag --%s)", key, err, name))
			continue
		}
		layer[key] = setting{value: v, source: "flag --" + name}
	}
	return layer, errs
}
