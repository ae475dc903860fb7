package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP feeds arbitrary X-Forwarded-For headers (two of them, as a
// client may send several), peers and trusted-proxy lists. No panic; an
// untrusted peer's headers are ignored; the answer is the peer or an address
// from the headers; and nothing a client writes to the left of the last
// untrusted hop (the part it controls) changes the answer.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1", "10.0.0.0/8", "203.0.113.7, 10.0.0.2", "", "1.2.3.4")
	f.Add("10.0.0.1", "10.0.0.0/8,::1", "198.51.100.1,203.0.113.7", "10.1.1.1", "garbage")
	f.Add("::ffff:10.0.0.1", "10.0.0.1", "::ffff:203.0.113.7", "", "")
	f.Add("192.0.2.1", "10.0.0.0/8", "203.0.113.7", "", "")
	f.Add("10.0.0.1", "10.0.0.0/8", "10.0.0.3,, 10.0.0.4", "not-an-ip", "x")
	f.Add("10.0.0.1", "0.0.0.0/0", "fe80::1%eth0, 2001:db8::1", "", "")
	f.Fuzz(func(t *testing.T, peerText, trusted, xff1, xff2, forged string) {
		peer, err := netip.ParseAddr(peerText)
		if err != nil {
			return
		}
		r, err := New(strings.Split(trusted, ","))
		if err != nil {
			return
		}
		headers := []string{xff1, xff2}
		got := r.ClientIP(peer, headers)
		if !got.IsValid() {
			t.Fatalf("invalid address for peer %s, headers %q", peer, headers)
		}
		if !r.Trusted(peer) {
			if got != peer.Unmap() {
				t.Fatalf("untrusted peer %s, headers %q: got %s", peer, headers, got)
			}
			return
		}
		if got != peer.Unmap() && !inHeaders(got, headers) {
			t.Fatalf("peer %s, headers %q: %s is in neither", peer, headers, got)
		}
		forgedHeaders := []string{forged + "," + xff1, xff2}
		if again := r.ClientIP(peer, forgedHeaders); again != got && !r.Trusted(got) {
			t.Fatalf("peer %s: headers %q give %s, with a forged prefix %q they give %s", peer, headers, got, forgedHeaders, again)
		}
	})
}

func inHeaders(addr netip.Addr, headers []string) bool {
	for _, h := range headers {
		for _, hop := range strings.Split(h, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && a.Unmap() == addr {
				return true
			}
		}
	}
	return false
}
