// Package logging builds the server's structured logger: slog in text or JSON
// on stderr, and optionally also into a size-rotated file.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Options selects the level, format and the optional rotating file.
type Options struct {
	Level      string
	Format     string
	File       string
	MaxSizeMB  int
	MaxBackups int
	MaxAgeDays int
	// Stderr receives every line; os.Stderr when nil.
	Stderr io.Writer
}

// New returns the logger and a closer for the log file (a no-op without one).
func New(opts Options) (*slog.Logger, io.Closer, error) {
	level, err := ParseLevel(opts.Level)
	if err != nil {
		return nil, nil, err
	}
	var out io.Writer = os.Stderr
	if opts.Stderr != nil {
		out = opts.Stderr
	}
	var closer io.Closer = nopCloser{}
	if opts.File != "" {
		file := &lumberjack.Logger{
			Filename:   opts.File,
			MaxSize:    opts.MaxSizeMB,
			MaxBackups: opts.MaxBackups,
			MaxAge:     opts.MaxAgeDays,
			Compress:   true,
		}
		out = io.MultiWriter(out, file)
		closer = file
	}
	handlerOpts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler
	switch strings.ToLower(opts.Format) {
	case "json":
		handler = slog.NewJSONHandler(out, handlerOpts)
	case "", "text":
		handler = slog.NewTextHandler(out, handlerOpts)
	default:
		return nil, nil, fmt.Errorf("log.format: %q is not text or json", opts.Format)
	}
	return slog.New(handler), closer, nil
}

// ParseLevel maps the configured level name to a slog level.
func ParseLevel(name string) (slog.Level, error) {
	switch strings.ToLower(name) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log.level: %q is not debug, info, warn or error", name)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
