package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/todo-app/todo/app/backup"
	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
)

// backupFlags maps the backup and restore commands' flags to configuration keys.
var backupFlags = map[string]string{"database-url": "database.url"}

func newBackupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Copy the SQLite database consistently while the server runs",
		Long: `backup writes a consistent copy of the SQLite database to --output while the
server keeps running and writing: the copy holds every change committed before
the backup started. It is made with SQLite's VACUUM INTO on a read-only
connection, written to FILE.tmp, synced to disk, checked with PRAGMA
integrity_check and renamed to FILE, so FILE is never half-written. It prints
the copy's size and its numbers of users and tasks.

FILE must not exist unless --force is given. The copy is readable by its owner
only: it holds password hashes and session tokens. Keep the auth secret
(auth.secret, or the todo.secret file next to the database) with it: without
the secret, restored sessions' cookies no longer verify and users sign in again.

PostgreSQL is backed up with pg_dump; for a postgres:// database this command
prints the pg_dump command instead of running it.`,
		Example: `  todo backup --output /var/backups/todo-$(date +%F).db
  todo backup --output todo.db.bak --force --database-url sqlite:///var/lib/todo/todo.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			output, _ := cmd.Flags().GetString("output")
			force, _ := cmd.Flags().GetBool("force")
			cfg, err := loadConfig(cmd, backupFlags)
			if err != nil {
				return err
			}
			src, err := sqliteFile(cfg, "back up",
				"back it up with pg_dump:\n  "+backup.PostgresBackupCommand(cfg.Database.URL, output))
			if err != nil {
				return err
			}
			sum, err := backup.Backup(cmd.Context(), src, output, force)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			printf(w, "backed up %s to %s\n", src, sum.Path)
			printSummary(w, sum)
			secret := filepath.Join(filepath.Dir(src), config.SecretFileName)
			if _, err := os.Stat(secret); err == nil && cfg.Auth.Secret == "" {
				printf(w, "keep %s with the backup: it signs the session cookies and is not in the copy\n", secret)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringP("output", "o", "", "the file to write the copy to (required)")
	fs.Bool("force", false, "replace FILE if it exists")
	addDatabaseFlag(fs)
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func newRestoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Replace the SQLite database with a backup (stop the server first)",
		Long: `restore replaces the SQLite database with a copy made by ` + "`todo backup`" + `.

Stop the server first. restore refuses when it sees the database open in
another process, but it cannot see every case (a server starting meanwhile, a
network file system), and replacing the file under a running server loses
data and can corrupt it. It asks for --yes because the current database, with
everything written since the backup, is replaced.

The backup is checked before anything is touched: it must be a todo database
that passes PRAGMA integrity_check and whose migrations this binary knows (a
backup from a newer todo is refused; one from an older todo is fine, and
` + "`todo serve`" + ` applies the newer migrations when it starts). It is then copied
next to the database as DATABASE.tmp, synced, the replaced database's -wal,
-shm and -journal files are removed, and the copy is renamed into place.

For PostgreSQL use pg_restore; this command prints how.`,
		Example: `  systemctl stop todo
  todo restore --input /var/backups/todo-2026-12-01.db --yes
  systemctl start todo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			input, _ := cmd.Flags().GetString("input")
			yes, _ := cmd.Flags().GetBool("yes")
			cfg, err := loadConfig(cmd, backupFlags)
			if err != nil {
				return err
			}
			target, err := sqliteFile(cfg, "restore",
				"restore a pg_dump --format=custom file with pg_restore:\n  "+backup.PostgresRestoreCommand(cfg.Database.URL, input))
			if err != nil {
				return err
			}
			if !yes {
				return fmt.Errorf("restoring replaces %s and everything written to it since the backup; stop the server, then run again with --yes", target)
			}
			sum, err := backup.Restore(cmd.Context(), input, target)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			printf(w, "restored %s to %s\n", input, sum.Path)
			printSummary(w, sum)
			if sum.Pending > 0 {
				printf(w, "%d newer migrations are not in the backup; todo serve applies them when it starts (or run `todo migrate up`)\n", sum.Pending)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringP("input", "i", "", "the backup file to restore (required)")
	fs.Bool("yes", false, "confirm that the database is to be replaced")
	addDatabaseFlag(fs)
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

// sqliteFile returns the configured SQLite database's path, or for
// PostgreSQL an error saying what to do instead.
func sqliteFile(cfg *config.Config, verb, postgresHelp string) (string, error) {
	dialect, path, err := database.ParseURL(cfg.Database.URL)
	if err != nil {
		return "", err
	}
	if dialect != database.SQLite {
		return "", fmt.Errorf("todo can only %s SQLite databases; this one is PostgreSQL, so %s", verb, postgresHelp)
	}
	return path, nil
}

func printSummary(w io.Writer, sum *backup.Summary) {
	schema := fmt.Sprintf("%s (%d migrations)", sum.Schema, len(sum.Applied))
	printf(w, "  size:      %d bytes\n", sum.Size)
	printf(w, "  users:     %d\n", sum.Users)
	printf(w, "  tasks:     %d\n", sum.Tasks)
	printf(w, "  schema:    %s\n", schema)
	printf(w, "  integrity: ok\n")
	if len(sum.Unknown) > 0 {
		printf(w, "  warning:   written by a newer todo (unknown migrations %s)\n", strings.Join(sum.Unknown, ", "))
	}
}
