package auth

import (
	"net/url"
	"strings"
	"testing"
)

func TestSignTokenMatchesBetterAuth(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Cookies {
		if got := tokenSignature(v.Secret, c.Token); got != c.SignatureBase64 {
			t.Errorf("signature(%q) = %q, want %q", c.Token, got, c.SignatureBase64)
		}
		if got := SignToken(v.Secret, c.Token); got != c.CookieValue {
			t.Errorf("SignToken(%q) = %q, want %q", c.Token, got, c.CookieValue)
		}
		tok, ok := VerifySignedToken(v.Secret, c.CookieValue)
		if !ok || tok != c.Token {
			t.Errorf("VerifySignedToken(%q) = %q, %v; want %q, true", c.CookieValue, tok, ok, c.Token)
		}
		// Already-decoded form, as bearer clients often send it: '+' must
		// survive decoding, which QueryUnescape would break.
		plain := c.Token + "." + c.SignatureBase64
		tok, ok = VerifySignedToken(v.Secret, plain)
		if !ok || tok != c.Token {
			t.Errorf("VerifySignedToken(%q) = %q, %v; want %q, true", plain, tok, ok, c.Token)
		}
	}
}

func TestVerifySignedTokenRejects(t *testing.T) {
	v := loadVectors(t)
	good := v.Cookies[0]
	sigStart := len(good.Token) + 1
	tampered := []byte(good.CookieValue)
	if tampered[sigStart] == 'A' {
		tampered[sigStart] = 'B'
	} else {
		tampered[sigStart] = 'A'
	}
	long := strings.Repeat("a", MaxTokenLength+1)
	cases := map[string]struct{ secret, value string }{
		"tampered signature":      {v.Secret, string(tampered)},
		"tampered token":          {v.Secret, "X" + good.CookieValue[1:]},
		"wrong secret":            {v.Secret + "x", good.CookieValue},
		"empty secret":            {"", SignToken("", good.Token)},
		"unsigned raw token":      {v.Secret, good.Token},
		"truncated signature":     {v.Secret, good.Token + "." + good.SignatureBase64[:43]},
		"signature without '='":   {v.Secret, good.Token + "." + good.SignatureBase64[:43] + "A"},
		"signature too long":      {v.Secret, good.Token + "." + "A" + good.SignatureBase64},
		"extra trailing dot":      {v.Secret, good.CookieValue + "."},
		"extra trailing segment":  {v.Secret, good.CookieValue + ".x"},
		"double dot":              {v.Secret, good.Token + ".." + good.SignatureBase64},
		"empty token":             {v.Secret, "." + good.SignatureBase64},
		"empty":                   {v.Secret, ""},
		"only dot":                {v.Secret, "."},
		"bad escape":              {v.Secret, good.CookieValue[:sigStart] + "%zz" + good.CookieValue[sigStart:]},
		"truncated escape":        {v.Secret, strings.TrimSuffix(good.CookieValue, "3D") + "3"},
		"lone percent":            {v.Secret, good.CookieValue + "%"},
		"very long garbage":       {v.Secret, strings.Repeat("a", 100000) + "." + good.SignatureBase64},
		"validly signed too long": {v.Secret, SignToken(v.Secret, long)},
		"signature of other token": {v.Secret,
			v.Cookies[1].Token + "." + good.SignatureBase64},
	}
	for name, c := range cases {
		if tok, ok := VerifySignedToken(c.secret, c.value); ok {
			t.Errorf("%s: VerifySignedToken accepted %q as %q", name, c.value, tok)
		}
	}
}

func TestVerifySignedTokenLengthBoundary(t *testing.T) {
	v := loadVectors(t)
	// Worst case for the encoded-length limit: every token byte escaped.
	tok := strings.Repeat("/", MaxTokenLength)
	signed := SignToken(v.Secret, tok)
	got, ok := VerifySignedToken(v.Secret, signed)
	if !ok || got != tok {
		t.Fatalf("a %d-byte token must verify (encoded length %d)", MaxTokenLength, len(signed))
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	const secret = "a-secret-that-is-long-enough-0123456789"
	for _, tok := range []string{RandomID(), "with space", "ümlaut", "a.b.c", "%41", "+/=", "😀"} {
		got, ok := VerifySignedToken(secret, SignToken(secret, tok))
		if !ok || got != tok {
			t.Errorf("round trip of %q = %q, %v", tok, got, ok)
		}
	}
}

func TestEncodeURIComponentMatchesJavaScript(t *testing.T) {
	// Outputs of encodeURIComponent in Node.js.
	cases := []struct{ in, want string }{
		{"", ""},
		{"abcXYZ019", "abcXYZ019"},
		{"a b", "a%20b"},
		{"é", "%C3%A9"},
		{"€", "%E2%82%AC"},
		{"😀", "%F0%9F%98%80"},
		{"!~*'()", "!~*'()"},
		{"-_.", "-_."},
		{"+/=", "%2B%2F%3D"},
		{"?&#", "%3F%26%23"},
		{"$,:;@", "%24%2C%3A%3B%40"},
		{"%", "%25"},
		{"%20", "%2520"},
		{"[]{}|\\^`\"<>", "%5B%5D%7B%7D%7C%5C%5E%60%22%3C%3E"},
		{"\x00\n\x7f", "%00%0A%7F"},
	}
	for _, c := range cases {
		if got := encodeURIComponent(c.in); got != c.want {
			t.Errorf("encodeURIComponent(%q) = %q, want %q", c.in, got, c.want)
		}
		if back, err := url.PathUnescape(c.want); err != nil || back != c.in {
			t.Errorf("PathUnescape(%q) = %q, %v; want %q", c.want, back, err, c.in)
		}
	}
	// Every byte must survive the trip, including invalid UTF-8.
	var all []byte
	for i := 0; i < 256; i++ {
		all = append(all, byte(i))
	}
	if back, err := url.PathUnescape(encodeURIComponent(string(all))); err != nil || back != string(all) {
		t.Errorf("all-bytes round trip failed: %v", err)
	}
}

func TestTokenFromBearer(t *testing.T) {
	v := loadVectors(t)
	good := v.Cookies[0]
	forged := good.Token + "." + strings.Repeat("A", 43) + "="
	cases := []struct {
		name   string
		header string
		want   string
		ok     bool
	}{
		{"raw", "Bearer " + good.Token, good.Token, true},
		{"raw lower-case scheme", "bearer " + good.Token, good.Token, true},
		{"raw upper-case scheme", "BEARER " + good.Token, good.Token, true},
		{"signed", "Bearer " + good.Token + "." + good.SignatureBase64, good.Token, true},
		{"signed url-encoded", "Bearer " + good.CookieValue, good.Token, true},
		{"signed token with dots", "Bearer " + v.Cookies[2].CookieValue, v.Cookies[2].Token, true},
		{"surrounding spaces", "  Bearer   " + good.Token + "  ", good.Token, true},
		{"forged signature", "Bearer " + forged, "", false},
		{"signed with wrong secret", "Bearer " + SignToken("other-secret", good.Token), "", false},
		{"dotted unsigned", "Bearer " + v.Cookies[2].Token, "", false},
		{"percent unsigned", "Bearer abc%41", "", false},
		{"missing scheme", good.Token, "", false},
		{"scheme only", "Bearer", "", false},
		{"scheme and space", "Bearer ", "", false},
		{"basic", "Basic dXNlcjpwYXNz", "", false},
		{"bearer-ish scheme", "Bearerx " + good.Token, "", false},
		{"two credentials", "Bearer " + good.Token + " " + good.Token, "", false},
		{"empty", "", "", false},
		{"non-ascii raw", "Bearer tökén", "", false},
		{"control char raw", "Bearer abc\x01def", "", false},
		{"raw too long", "Bearer " + strings.Repeat("a", MaxTokenLength+1), "", false},
		{"raw at limit", "Bearer " + strings.Repeat("a", MaxTokenLength), strings.Repeat("a", MaxTokenLength), true},
		{"huge header", "Bearer " + strings.Repeat("a", 1<<20), "", false},
	}
	for _, c := range cases {
		got, ok := TokenFromBearer(v.Secret, c.header)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: TokenFromBearer(%.60q) = %q, %v; want %q, %v", c.name, c.header, got, ok, c.want, c.ok)
		}
	}
}

func TestCookieNames(t *testing.T) {
	if SessionCookieName(false) != "better-auth.session_token" ||
		SessionCookieName(true) != "__Secure-better-auth.session_token" {
		t.Fatal("session cookie names differ from Better Auth's")
	}
	insecure, secure := SignOutCookieNames(false), SignOutCookieNames(true)
	want := []string{"better-auth.session_token", "better-auth.session_data", "better-auth.dont_remember"}
	for i := range want {
		if insecure[i] != want[i] || secure[i] != "__Secure-"+want[i] {
			t.Fatalf("SignOutCookieNames = %v / %v, want %v (and __Secure- variants)", insecure, secure, want)
		}
	}
}
