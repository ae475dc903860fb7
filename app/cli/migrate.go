package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/migrator"
)

var migrateFlags = map[string]string{"database-url": "database.url"}

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list the database migrations",
		Long: `migrate manages the schema migrations embedded in this binary, one set per
database engine. serve applies pending migrations itself unless
database.auto_migrate is false.`,
		Example: "  todo migrate status\n  todo migrate up\n  todo migrate down 1",
	}
	addDatabaseFlag(cmd.PersistentFlags())

	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withMigrator(cmd, func(ctx context.Context, m *migrator.Migrator) error {
				applied, err := m.Up(ctx)
				if err != nil {
					return err
				}
				if len(applied) == 0 {
					printf(cmd.OutOrStdout(), "nothing to apply; the schema is up to date\n")
				}
				for _, name := range applied {
					printf(cmd.OutOrStdout(), "applied   %s\n", name)
				}
				return nil
			})
		},
	}
	down := &cobra.Command{
		Use:     "down [N]",
		Short:   "Roll back the last N applied migrations (default 1)",
		Example: "  todo migrate down\n  todo migrate down 2",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 1
			if len(args) == 1 {
				v, err := strconv.Atoi(args[0])
				if err != nil || v < 1 {
					return fmt.Errorf("N must be a whole number of at least 1, not %q", args[0])
				}
				n = v
			}
			return withMigrator(cmd, func(ctx context.Context, m *migrator.Migrator) error {
				rolled, err := m.Down(ctx, n)
				if err != nil {
					return err
				}
				for _, name := range rolled {
					printf(cmd.OutOrStdout(), "rolled back %s\n", name)
				}
				return nil
			})
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List every migration and whether it is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withMigrator(cmd, func(ctx context.Context, m *migrator.Migrator) error {
				list, err := m.Status(ctx)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				printf(w, "STATUS\tAPPLIED AT\tMIGRATION\n")
				for _, s := range list {
					if s.Applied {
						printf(w, "applied\t%s\t%s\n", s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z"), s.Name)
					} else {
						printf(w, "pending\t-\t%s\n", s.Name)
					}
				}
				return w.Flush()
			})
		},
	}
	cmd.AddCommand(up, down, status)
	return cmd
}

// withMigrator opens the configured database, waits briefly for it, and runs fn.
func withMigrator(cmd *cobra.Command, fn func(context.Context, *migrator.Migrator) error) error {
	cfg, err := loadConfig(cmd, migrateFlags)
	if err != nil {
		return err
	}
	db, err := openDatabase(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := migrator.New(db)
	if err != nil {
		return err
	}
	return fn(cmd.Context(), m)
}

// openDatabase opens the configured database for an admin command and fails
// with a clear message when it does not answer.
func openDatabase(ctx context.Context, cfg *config.Config) (*database.DB, error) {
	db, err := database.Open(database.Options{
		URL:          cfg.Database.URL,
		MaxOpenConns: 2,
		MaxIdleConns: 2,
		QueryTimeout: cfg.Database.QueryTimeout,
	})
	if err != nil {
		return nil, err
	}
	if err := db.WaitReady(ctx, 0, nil); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s database: %w", db.Dialect, err)
	}
	return db, nil
}
