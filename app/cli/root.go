// Package cli holds the `todo` command line: one file per command.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	// Time zones from requests (?tz=Area/City) must resolve on minimal
	// container images that ship no /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/todo-app/todo/app/config"
)

// Execute runs the command line with the process's arguments and returns
// the exit code.
func Execute() int {
	root := NewRoot()
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintf(root.ErrOrStderr(), "todo: %v\n", err)
		return exitCode(err)
	}
	return 0
}

// exitError carries a specific exit code, for commands such as health whose
// code is their answer.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

// NewRoot builds the `todo` command with every subcommand.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "todo",
		Short: "A self-hosted, multi-user todo server",
		Long: `todo serves a multi-user todo application: a JSON API, live updates and a web app,
on an embedded SQLite database or on PostgreSQL.

Settings come from built-in defaults, a config file (--config, else ./config.yaml,
else /etc/todo/config.yaml), TODO_* environment variables and flags, in that order.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "path to the config file (default: ./config.yaml, then /etc/todo/config.yaml; env TODO_CONFIG)")
	root.AddCommand(newServeCmd(), newMigrateCmd(), newHealthCmd(), newVersionCmd())
	root.AddCommand(newCreateUserCmd(), newUserCmd())
	root.AddCommand(newBackupCmd(), newRestoreCmd())
	root.AddCommand(newBenchCmd())
	return root
}

// loadConfig reads the configuration for cmd; flagKeys maps the command's own
// flags to the configuration keys they override.
func loadConfig(cmd *cobra.Command, flagKeys map[string]string) (*config.Config, error) {
	file, _ := cmd.Flags().GetString("config")
	if file == "" {
		file = os.Getenv(config.EnvConfigFile)
	}
	return config.Load(config.Options{File: file, Flags: cmd.Flags(), FlagKeys: flagKeys})
}

// addDatabaseFlag lets any command that touches the database point it
// elsewhere without editing the config file.
func addDatabaseFlag(fs *pflag.FlagSet) {
	fs.String("database-url", "", "database URL: sqlite://PATH or postgres://... (database.url)")
}

func printf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}
