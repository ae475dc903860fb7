package clientip

import (
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"direct client, header ignored", "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted proxy, one hop", "127.0.0.1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"forged left entries are skipped", "127.0.0.1", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", "10.1.1.1", []string{"198.51.100.7, 10.2.2.2", "10.3.3.3"}, "198.51.100.7"},
		{"no header", "127.0.0.1", nil, "127.0.0.1"},
		{"garbage hop", "127.0.0.1", []string{"not-an-ip"}, "127.0.0.1"},
		{"all trusted", "127.0.0.1", []string{"10.0.0.1"}, "10.0.0.1"},
		{"ipv4-mapped ipv6 peer", "::ffff:127.0.0.1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"ipv6 client", "::1", []string{"2001:db8::1"}, "2001:db8::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := r.ClientIP(netip.MustParseAddr(tc.peer), tc.xff)
			if got.String() != tc.want {
				t.Errorf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNewRejectsBadProxies(t *testing.T) {
	for _, p := range []string{"10.0.0.0/33", "example.com", "1.2.3"} {
		if _, err := New([]string{p}); err == nil {
			t.Errorf("New(%q) accepted", p)
		}
	}
}
