// Package clientip works out the address of the client behind a chain of
// reverse proxies, believing X-Forwarded-For only from configured proxies.
package clientip

import (
	"fmt"
	"net/netip"
	"strings"
)

// Resolver knows which peers are trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
}

// New parses the trusted proxies, each an IP address or a CIDR.
func New(proxies []string) (*Resolver, error) {
	r := &Resolver{}
	for _, p := range proxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.Contains(p, "/") {
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
			}
			r.trusted = append(r.trusted, prefix.Masked())
			continue
		}
		addr, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		addr = addr.Unmap()
		r.trusted = append(r.trusted, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return r, nil
}

// Trusted reports whether addr is a configured proxy.
func (r *Resolver) Trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ClientIP returns the client's address. When the peer is a trusted proxy,
// X-Forwarded-For is read from the right, skipping further trusted proxies:
// the first address that is not one is the client, since everything to its
// left was written by the client itself and may be forged.
func (r *Resolver) ClientIP(peer netip.Addr, forwardedFor []string) netip.Addr {
	peer = peer.Unmap()
	if !r.Trusted(peer) {
		return peer
	}
	var hops []string
	for _, h := range forwardedFor {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A malformed hop means the chain cannot be followed further
			// safely; the last trusted proxy is the best answer.
			return peer
		}
		addr = addr.Unmap()
		if !r.Trusted(addr) {
			return addr
		}
		peer = addr
	}
	return peer
}
