package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// BearerClient calls a server's API the way an API client does: JSON bodies
// and a Bearer token, no cookies and no Origin. It returns transport errors
// instead of failing the test, so a caller can treat a dropped connection as
// data (a server it killed, say).
type BearerClient struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// NewBearerClient returns a client for the server at base.
func NewBearerClient(base, token string) *BearerClient {
	return &BearerClient{Base: base, Token: token, HTTP: &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true},
	}}
}

// Do sends method path with body encoded as JSON (none when nil) and returns
// the status and the raw response body; err is non-nil when no complete
// response came back.
func (c *BearerClient) Do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, raw, nil
}
