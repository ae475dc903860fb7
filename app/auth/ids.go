// Package auth holds the database-free primitives of authentication: random
// identifiers, Better Auth's signed session cookie format and password hashing.
// Everything here must stay byte-compatible with Better Auth 1.7 so that this
// server can replace a Better Auth backend without invalidating existing
// sessions or passwords.
package auth

import "crypto/rand"

// IDLength matches Better Auth's generateId(32), so ids and tokens minted here
// are indistinguishable from ones a Better Auth server wrote into the same
// tables.
const IDLength = 32

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// idRejectAt is the largest multiple of len(idAlphabet) that fits in a byte.
// Bytes at or above it are thrown away: mapping all 256 values with a modulo
// would make the first 256%62 characters slightly more likely, which weakens
// session tokens.
const idRejectAt = 256 / len(idAlphabet) * len(idAlphabet)

// RandomID returns IDLength characters from [A-Za-z0-9] drawn from crypto/rand.
// It is used for user, session and account ids and for session tokens, so it
// must be unpredictable, not merely unique.
func RandomID() string {
	var out [IDLength]byte
	// About 3% of bytes are rejected, so one batch of 48 almost always suffices.
	var buf [48]byte
	n := 0
	for n < len(out) {
		// crypto/rand.Read never fails since Go 1.24 (it crashes the program
		// instead of returning weak randomness).
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			if int(b) >= idRejectAt {
				continue
			}
			out[n] = idAlphabet[int(b)%len(idAlphabet)]
			n++
			if n == len(out) {
				break
			}
		}
	}
	return string(out[:])
}
