package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/migrator"
	"github.com/todo-app/todo/models"
)

// userFlags maps the user commands' flags to configuration keys.
var userFlags = map[string]string{"database-url": "database.url"}

// maxPasswordLine bounds what is read from stdin for one password: far more
// than 128 characters of any script can take, yet a stray pipe of a large file
// is not slurped into memory.
const maxPasswordLine = 4096

// errNoTerminal explains how to give a password when none can be asked for.
var errNoTerminal = errors.New("stdin is not a terminal, so the password cannot be asked for; pass --password-stdin and write the password to stdin")

const schemaHelp = `Pending database migrations are applied first when database.auto_migrate is
true (the default), as serve would; otherwise the command refuses to run until
` + "`todo migrate up`" + ` has been run.`

const passwordHelp = `On a terminal the password is asked for twice, without echo. Otherwise pass
--password-stdin and write it as the first line of stdin (a trailing \n or \r\n
is not part of it; anything after the first line is ignored), so that it never
appears in the process list or the shell history.`

func newCreateUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create-user",
		Short: "Create an account with an email and password",
		Long: `create-user makes an email/password account. It works whether or not open
sign-up is enabled (auth.signup_enabled only closes the HTTP sign-up), so it is
how accounts are made on a closed server.

` + passwordHelp + `

` + schemaHelp,
		Example: `  todo create-user --email ada@example.com --name "Ada Lovelace"
  printf '%s\n' "$PASSWORD" | todo create-user --email ada@example.com --name Ada --password-stdin
  todo create-user --email ada@example.com --name Ada --database-url postgres://todo@db/todo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			email, _ := cmd.Flags().GetString("email")
			name, _ := cmd.Flags().GetString("name")
			fromStdin, _ := cmd.Flags().GetBool("password-stdin")
			if err := checkPasswordSource(cmd, fromStdin); err != nil {
				return err
			}
			return withUserService(cmd, func(ctx context.Context, svc *auth.Service, store *models.Store) error {
				// Name, email and uniqueness are checked before the password
				// is asked for, so nobody types a password twice only to learn
				// the account cannot be made.
				normalized, err := precheckNewUser(ctx, store, name, email)
				if err != nil {
					return err
				}
				password, err := readNewPassword(cmd, fromStdin)
				if err != nil {
					return err
				}
				user, err := svc.CreateUser(ctx, name, email, password)
				if err != nil {
					return userError(err, normalized)
				}
				printf(cmd.OutOrStdout(), "created user %s (id %s)\n", user.Email, user.ID)
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.String("email", "", "the account's email address (required)")
	fs.String("name", "", "the account's display name, 1 to 100 characters (required)")
	fs.Bool("password-stdin", false, "read the password from the first line of stdin instead of prompting")
	addDatabaseFlag(fs)
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "List accounts, change a password or delete an account",
		Long: `user administers the accounts in the database directly; the server does not
need to be running.

` + schemaHelp,
		Example: `  todo user list
  todo user set-password --email ada@example.com
  todo user delete --email ada@example.com --yes`,
	}
	addDatabaseFlag(cmd.PersistentFlags())
	cmd.AddCommand(newUserListCmd(), newUserSetPasswordCmd(), newUserDeleteCmd())
	return cmd
}

// userJSON is one account in `todo user list --json`, named like the API's
// user object.
type userJSON struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Email         string      `json:"email"`
	EmailVerified bool        `json:"email_verified"`
	CreatedAt     models.Time `json:"created_at"`
}

func newUserListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every account, oldest first",
		Long: `list prints every account, oldest first: a table, or with --json an array of
{"id","name","email","email_verified","created_at"} for scripts.

` + schemaHelp,
		Example: "  todo user list\n  todo user list --json | jq -r '.[].email'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, _ := cmd.Flags().GetBool("json")
			return withUserService(cmd, func(ctx context.Context, svc *auth.Service, _ *models.Store) error {
				users, err := svc.ListUsers(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					// Never null, so scripts can always iterate.
					out := make([]userJSON, 0, len(users))
					for _, u := range users {
						out = append(out, userJSON{ID: u.ID, Name: u.Name, Email: u.Email, EmailVerified: u.EmailVerified, CreatedAt: u.CreatedAt})
					}
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(out)
				}
				if len(users) == 0 {
					printf(cmd.OutOrStdout(), "no users\n")
					return nil
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				printf(w, "ID\tEMAIL\tNAME\tVERIFIED\tCREATED\n")
				for _, u := range users {
					verified := "no"
					if u.EmailVerified {
						verified = "yes"
					}
					printf(w, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, verified, u.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().Bool("json", false, "print a JSON array instead of a table")
	return cmd
}

func newUserSetPasswordCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set-password",
		Short: "Give an account a new password and sign it out everywhere",
		Long: `set-password replaces an account's password and deletes all of its sessions,
so a stolen session does not outlive the reset.

` + passwordHelp + `

` + schemaHelp,
		Example: `  todo user set-password --email ada@example.com
  printf '%s\n' "$PASSWORD" | todo user set-password --email ada@example.com --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			email, _ := cmd.Flags().GetString("email")
			fromStdin, _ := cmd.Flags().GetBool("password-stdin")
			if err := checkPasswordSource(cmd, fromStdin); err != nil {
				return err
			}
			return withUserService(cmd, func(ctx context.Context, svc *auth.Service, store *models.Store) error {
				user, err := existingUser(ctx, store, email)
				if err != nil {
					return err
				}
				password, err := readNewPassword(cmd, fromStdin)
				if err != nil {
					return err
				}
				if err := svc.SetPassword(ctx, user.Email, password); err != nil {
					return userError(err, user.Email)
				}
				printf(cmd.OutOrStdout(), "password changed for %s; their sessions were signed out\n", user.Email)
				return nil
			})
		},
	}
	cmd.Flags().String("email", "", "the account's email address (required)")
	cmd.Flags().Bool("password-stdin", false, "read the password from the first line of stdin instead of prompting")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

func newUserDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete an account with all its tasks and sessions",
		Long: `delete removes an account together with its tasks, sessions and sign-in
methods. It cannot be undone. On a terminal it asks for confirmation; elsewhere
--yes is required.

` + schemaHelp,
		Example: "  todo user delete --email ada@example.com\n  todo user delete --email ada@example.com --yes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			email, _ := cmd.Flags().GetString("email")
			yes, _ := cmd.Flags().GetBool("yes")
			tty, isTTY := terminalStdin(cmd)
			if !yes && !isTTY {
				return errors.New("refusing to delete without --yes when stdin is not a terminal")
			}
			return withUserService(cmd, func(ctx context.Context, svc *auth.Service, store *models.Store) error {
				user, err := existingUser(ctx, store, email)
				if err != nil {
					return err
				}
				if !yes {
					ok, err := confirm(tty, cmd.ErrOrStderr(), fmt.Sprintf("Delete %s and all their tasks and sessions? [y/N] ", user.Email))
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("kept %s: nothing was deleted", user.Email)
					}
				}
				if _, err := svc.DeleteUser(ctx, user.Email); err != nil {
					return userError(err, user.Email)
				}
				printf(cmd.OutOrStdout(), "deleted user %s\n", user.Email)
				return nil
			})
		},
	}
	cmd.Flags().String("email", "", "the account's email address (required)")
	cmd.Flags().Bool("yes", false, "delete without asking for confirmation")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

// withUserService opens the configured database, brings its schema up to
// date (or refuses), and runs fn with an auth service configured as serve's.
func withUserService(cmd *cobra.Command, fn func(context.Context, *auth.Service, *models.Store) error) error {
	cfg, err := loadConfig(cmd, userFlags)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := ensureSchema(ctx, cmd.ErrOrStderr(), cfg, db); err != nil {
		return err
	}
	store := models.NewStore(db)
	svc := auth.NewService(store, auth.Options{
		SessionTTL:    cfg.Auth.SessionTTL,
		UpdateAge:     cfg.Auth.UpdateAge,
		SignupEnabled: cfg.Auth.SignupEnabled,
		Hasher:        auth.NewHasher(auth.HasherOptions{BcryptCost: cfg.Auth.BcryptCost, Algorithm: cfg.Auth.PasswordHash}),
	})
	return fn(ctx, svc, store)
}

// ensureSchema applies pending migrations when auto_migrate allows it, as
// serve does; writing accounts into a schema this binary does not expect
// could otherwise fail halfway or leave rows the server cannot read.
func ensureSchema(ctx context.Context, stderr io.Writer, cfg *config.Config, db *database.DB) error {
	m, err := migrator.New(db)
	if err != nil {
		return err
	}
	pending, err := m.Pending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if pending == 0 {
		return nil
	}
	if !cfg.Database.AutoMigrate {
		return fmt.Errorf("%d migrations are pending and database.auto_migrate is false; run `todo migrate up` first", pending)
	}
	applied, err := m.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply pending migrations: %w", err)
	}
	// On stderr so that stdout (user list --json) stays parseable.
	printf(stderr, "applied %d pending migrations (database.auto_migrate is true)\n", len(applied))
	return nil
}

// precheckNewUser validates name and email and checks the email is free,
// returning the normalised email.
func precheckNewUser(ctx context.Context, store *models.Store, name, email string) (string, error) {
	if err := auth.CheckName(name); err != nil {
		return "", userError(err, email)
	}
	normalized, err := auth.NormalizeEmail(email)
	if err != nil {
		return "", userError(err, email)
	}
	_, _, err = store.UserByEmail(ctx, normalized)
	switch {
	case err == nil:
		return "", userError(auth.ErrEmailTaken, normalized)
	case !errors.Is(err, models.ErrNotFound):
		return "", err
	}
	return normalized, nil
}

// existingUser finds the account with email or says there is none.
func existingUser(ctx context.Context, store *models.Store, email string) (*models.User, error) {
	normalized, err := auth.NormalizeEmail(email)
	if err != nil {
		return nil, userError(err, email)
	}
	user, _, err := store.UserByEmail(ctx, normalized)
	if errors.Is(err, models.ErrNotFound) {
		return nil, userError(auth.ErrUserNotFound, normalized)
	}
	return user, err
}

// userError turns the auth service's errors into messages for an
// administrator at a shell, naming the email or the rejected fields.
func userError(err error, email string) error {
	var ve *auth.ValidationError
	switch {
	case errors.Is(err, auth.ErrEmailTaken):
		return fmt.Errorf("a user with email %s already exists", email)
	case errors.Is(err, auth.ErrUserNotFound):
		return fmt.Errorf("no user with email %s", email)
	case errors.As(err, &ve):
		msgs := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			msgs[i] = f.Field + ": " + f.Message
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

// terminalStdin returns the command's stdin when it is an interactive
// terminal. Only an *os.File can be one; tests inject plain readers.
func terminalStdin(cmd *cobra.Command) (*os.File, bool) {
	f, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return f, true
}

// checkPasswordSource fails before any database work when there is no way
// to obtain a password.
func checkPasswordSource(cmd *cobra.Command, fromStdin bool) error {
	if fromStdin {
		return nil
	}
	if _, ok := terminalStdin(cmd); !ok {
		return errNoTerminal
	}
	return nil
}

// readNewPassword obtains the password from stdin's first line or, on a
// terminal, by asking twice without echo. Its strength is the auth service's
// concern.
func readNewPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	if fromStdin {
		return readPasswordLine(cmd.InOrStdin())
	}
	tty, ok := terminalStdin(cmd)
	if !ok {
		return "", errNoTerminal
	}
	prompts := cmd.ErrOrStderr()
	first, err := promptHidden(tty, prompts, "Password: ")
	if err != nil {
		return "", err
	}
	second, err := promptHidden(tty, prompts, "Repeat password: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the passwords do not match")
	}
	return first, nil
}

func promptHidden(tty *os.File, w io.Writer, prompt string) (string, error) {
	printf(w, "%s", prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	// The user's Enter was not echoed either.
	printf(w, "\n")
	if err != nil {
		return "", fmt.Errorf("read password from terminal: %w", err)
	}
	return string(b), nil
}

// readPasswordLine returns the first line of r without its line ending, so
// that `echo "$PW" |` and files written on Windows both work.
func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLine+1)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	if !strings.HasSuffix(line, "\n") && len(line) > maxPasswordLine {
		return "", fmt.Errorf("read password from stdin: the first line is longer than %d bytes", maxPasswordLine)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("the password on stdin is empty; write it as the first line")
	}
	return line, nil
}

// confirm asks a yes/no question on the terminal; only an explicit yes
// counts.
func confirm(tty *os.File, w io.Writer, question string) (bool, error) {
	printf(w, "%s", question)
	answer, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read confirmation: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
