package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
)

// Cookie names are Better Auth's defaults so that a browser already signed in
// against a Better Auth backend stays signed in here. Browsers only accept the
// __Secure- variants over https, which is why each has both forms.
const (
	SessionTokenCookie       = "better-auth.session_token"
	SecureSessionTokenCookie = "__Secure-better-auth.session_token"

	// Better Auth's cookie cache; this server never sets it, but sign-out
	// expires it so a stale cache from a previous backend cannot linger.
	SessionDataCookie       = "better-auth.session_data"
	SecureSessionDataCookie = "__Secure-better-auth.session_data"

	// Set by Better Auth for rememberMe=false sign-ins; expired on sign-out.
	DontRememberCookie       = "better-auth.dont_remember"
	SecureDontRememberCookie = "__Secure-better-auth.dont_remember"
)

// MaxTokenLength bounds a session token accepted from a client. Real tokens
// are IDLength characters; the slack tolerates foreign generators while keeping
// a hostile header from costing more than a small HMAC.
const MaxTokenLength = 255

// signatureLength is the length of base64.StdEncoding of a 32-byte HMAC-SHA256,
// which always ends in one '=' of padding.
const signatureLength = 44

// maxSignedValueLength is the longest percent-encoded "token.signature" that
// can decode to a token within MaxTokenLength: every byte may be "%XX".
const maxSignedValueLength = 3*MaxTokenLength + 1 + 3*signatureLength

// SessionCookieName returns the session cookie's name; secure selects the
// __Secure- variant, which Better Auth uses whenever cookies are secure.
func SessionCookieName(secure bool) string {
	if secure {
		return SecureSessionTokenCookie
	}
	return SessionTokenCookie
}

// SignOutCookieNames returns the cookies Better Auth expires on sign-out, in
// the variant matching secure.
func SignOutCookieNames(secure bool) []string {
	if secure {
		return []string{SecureSessionTokenCookie, SecureSessionDataCookie, SecureDontRememberCookie}
	}
	return []string{SessionTokenCookie, SessionDataCookie, DontRememberCookie}
}

// SignToken returns the session cookie value exactly as Better Auth's
// setSignedCookie writes it, so cookies are interchangeable between the two
// servers sharing a secret. An empty secret produces a value VerifySignedToken
// never accepts.
func SignToken(secret, token string) string {
	return encodeURIComponent(token + "." + tokenSignature(secret, token))
}

// VerifySignedToken checks a signed cookie (or bearer) value and returns the
// raw session token. Like Better Auth it URI-decodes with PathUnescape (a '+'
// in the base64 signature must stay '+'), so an already-decoded value is
// accepted as well. The split is at the last '.', because tokens from other
// generators may themselves contain dots while the signature never does. A
// bare token is rejected: a cookie must prove it was issued by this server.
func VerifySignedToken(secret, value string) (token string, ok bool) {
	if secret == "" || value == "" || len(value) > maxSignedValueLength {
		return "", false
	}
	decoded, err := url.PathUnescape(value)
	if err != nil {
		return "", false
	}
	dot := strings.LastIndexByte(decoded, '.')
	if dot <= 0 || dot > MaxTokenLength {
		return "", false
	}
	token, sig := decoded[:dot], decoded[dot+1:]
	if len(sig) != signatureLength || sig[signatureLength-1] != '=' {
		return "", false
	}
	if !hmac.Equal([]byte(sig), []byte(tokenSignature(secret, token))) {
		return "", false
	}
	return token, true
}

// TokenFromBearer extracts the session token from an Authorization header the
// way Better Auth's bearer plugin does: the credential is either a raw token or
// a signed "token.signature" (possibly URI-encoded). Anything that looks signed
// must verify; falling back to treating it as a raw token would let a forged
// signature through whenever the token part happens to be valid.
func TokenFromBearer(secret, header string) (token string, ok bool) {
	if len(header) > len("Bearer ")+maxSignedValueLength {
		return "", false
	}
	fields := strings.Fields(header)
	if len(fields) != 2 || !strings.EqualFold(fields[0], "Bearer") {
		return "", false
	}
	cred := fields[1]
	if strings.ContainsAny(cred, ".%") {
		return VerifySignedToken(secret, cred)
	}
	if !isRawToken(cred) {
		return "", false
	}
	return cred, true
}

// isRawToken limits unsigned bearer tokens to printable ASCII so that odd
// bytes never reach the database lookup or the logs.
func isRawToken(s string) bool {
	if len(s) == 0 || len(s) > MaxTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func tokenSignature(secret, token string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(token))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// encodeURIComponent reproduces JavaScript's encodeURIComponent, which Better
// Auth applies to cookie values. Go's url.QueryEscape turns ' ' into '+' and
// escapes "!'()*~"; url.PathEscape leaves "$&+,/:;=@" alone; either would yield
// cookies Better Auth cannot verify byte for byte. The input is encoded byte by
// byte, which equals JavaScript's UTF-8 output for valid UTF-8 and still
// round-trips through PathUnescape for invalid UTF-8 (where JavaScript would
// throw).
func encodeURIComponent(s string) string {
	const upperHex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !uriUnreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uriUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0x0f])
	}
	return b.String()
}

// uriUnreserved is the set encodeURIComponent leaves untouched (ECMA-262
// uriUnreserved: alphanumerics and "-_.!~*'()").
func uriUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '~', '*', '\'', '(', ')':
		return true
	}
	return false
}
