package auth

import (
	"net/url"
	"strings"
	"testing"
)

const fuzzSecret = "fuzz-secret-0123456789-abcdefghijklmnopqrstuv"

// FuzzVerifySignedToken feeds arbitrary cookie values to the verifier: it
// must never panic, and whatever it accepts must be exactly what SignToken
// produces for the token it returns, so a forged value can never pass.
func FuzzVerifySignedToken(f *testing.F) {
	good := SignToken(fuzzSecret, "Zk3mQ8vT1pWcR6yN0aLs4HdE7uJ2bXoG")
	for _, seed := range []string{good, "", ".", "a.b", "%zz", good + "x", strings.Repeat("%25", 300),
		"token." + strings.Repeat("A", 43) + "=", "Q%2B%2F%3Dweird.token.with.dots.WBO%2B3VcXG%2FqK2oUbpylmqJa%2BAgr8PgFbYPvbGeOfUyY%3D"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		token, ok := VerifySignedToken(fuzzSecret, value)
		if !ok {
			return
		}
		signed := SignToken(fuzzSecret, token)
		if value != signed && decodeOrSelf(value) != decodeOrSelf(signed) {
			t.Fatalf("accepted %q for token %q, which signs to %q", value, token, signed)
		}
	})
}

// FuzzTokenFromBearer feeds arbitrary Authorization headers: no panic, and an
// accepted credential is either a raw token without dots or a correctly
// signed one.
func FuzzTokenFromBearer(f *testing.F) {
	good := SignToken(fuzzSecret, "Zk3mQ8vT1pWcR6yN0aLs4HdE7uJ2bXoG")
	for _, seed := range []string{"Bearer " + good, "Bearer abc", "bearer abc", "Basic abc", "Bearer", "Bearer a b",
		"Bearer a.b", "Bearer  %zz", "Bearer \x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := TokenFromBearer(fuzzSecret, header)
		if !ok {
			return
		}
		if token == "" || len(token) > MaxTokenLength {
			t.Fatalf("accepted token %q from %q", token, header)
		}
		if strings.ContainsAny(header, ".%") {
			if _, verified := VerifySignedToken(fuzzSecret, strings.TrimSpace(header[strings.LastIndex(header, " ")+1:])); !verified {
				t.Fatalf("accepted an unsigned dotted credential from %q", header)
			}
		}
	})
}

// decodeOrSelf is the percent-decoded value, or the value itself when it
// does not decode (the verifier accepts both forms).
func decodeOrSelf(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}
