package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newHealthCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check a running server's /health (exit 0 healthy, 1 not)",
		Long: `health asks a running server whether it and its database are healthy. It exits 0
when the answer is 200 with status "healthy" and 1 otherwise, so it can serve as a
container HEALTHCHECK in images that have no curl.`,
		Example: "  todo health\n  todo health --url http://127.0.0.1:8080\n  HEALTHCHECK CMD [\"todo\", \"health\"]",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				cfg, err := loadConfig(cmd, nil)
				if err != nil {
					return err
				}
				url = localURL(cfg.Server.Addr)
			}
			status, err := checkHealth(url, timeout)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			printf(cmd.OutOrStdout(), "%s\n", status)
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "server base URL or full /health URL (default: derived from server.addr)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

// localURL is where a server listening on addr answers on this machine.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://127.0.0.1:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func checkHealth(url string, timeout time.Duration) (string, error) {
	if !strings.HasSuffix(url, "/health") {
		url = strings.TrimRight(url, "/") + "/health"
	}
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		return "", fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status   string `json:"status"`
		Database string `json:"database"`
		Version  string `json:"version"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(raw, &body); err != nil {
		return "", fmt.Errorf("unhealthy: %s answered %d with no health report", url, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || body.Status != "healthy" {
		return "", errors.New("unhealthy: status " + body.Status + ", database " + body.Database)
	}
	return fmt.Sprintf("healthy (database %s, version %s)", body.Database, body.Version), nil
}
