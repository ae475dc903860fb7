package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"
)

// Algorithms accepted in HasherOptions.Algorithm.
const (
	AlgorithmBcrypt = "bcrypt"
	AlgorithmScrypt = "scrypt"
)

// DefaultBcryptCost is used when HasherOptions.BcryptCost is zero.
const DefaultBcryptCost = 10

// Better Auth's scrypt parameters. They are fixed by its stored format (which
// records only salt and key), so changing any of them would make every
// existing Better Auth password unverifiable.
const (
	scryptN         = 16384
	scryptR         = 16
	scryptP         = 1
	scryptKeyLen    = 64
	scryptSaltBytes = 16
)

// bcryptMaxInput is the number of bytes bcrypt actually uses; anything beyond
// is ignored by the algorithm, and golang.org/x/crypto refuses it outright.
const bcryptMaxInput = 72

// bcryptAlphabet is bcrypt's own base64 alphabet for salt and digest.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

var (
	// ErrUnknownHashFormat means a stored hash is neither bcrypt nor Better
	// Auth's scrypt format, so no password can ever match it.
	ErrUnknownHashFormat = errors.New("auth: unknown password hash format")
	// ErrMalformedHash means a stored hash looks like a known format but is
	// corrupt (truncated, wrong lengths, bad encoding, invalid cost).
	ErrMalformedHash = errors.New("auth: malformed password hash")
)

// HasherOptions configures a Hasher.
type HasherOptions struct {
	// BcryptCost for new bcrypt hashes: 0 means DefaultBcryptCost; other values
	// are clamped to [bcrypt.MinCost, bcrypt.MaxCost] because the bcrypt
	// package would otherwise silently substitute its own default for low
	// values, making NeedsRehash fire on every login.
	BcryptCost int
	// Algorithm for new hashes: "bcrypt" (default when empty) or "scrypt".
	// Verification accepts both regardless.
	Algorithm string
	// Workers bounds concurrent hash operations; 0 means half the CPUs
	// (at least one), so a login flood leaves the other half to everything
	// else: with every core hashing, task reads' p99 grew 5x under 100
	// logins/s on two cores.
	// With scrypt each operation holds 32 MiB, so Workers also bounds memory.
	Workers int
	// Duty is the share of time each worker may spend hashing, in (0, 1]; 0
	// means DefaultDuty. After a hash its slot rests for as long again as
	// the hash took times (1/Duty - 1), so a flood of logins takes at most
	// Workers x Duty cores. A lone login is never delayed: the rest comes
	// after it.
	Duty float64
	// MaxWaiting bounds the operations queued for a worker; past it they
	// fail at once with ErrBusy. 0 means 8 per worker: at bcrypt's default
	// cost, about half a second of work, and well under the server's
	// in-flight limit, so a login flood cannot take every request slot.
	MaxWaiting int
}

// DefaultDuty lets a hashing worker work half the time. On two cores (one
// worker) a flood of 100 logins/s then takes a quarter of the machine:
// with the worker hashing without rest, task reads' p99 grew 3.2x under the
// flood on SQLite and 2.1x on PostgreSQL (docs/performance.md).
const DefaultDuty = 0.5

// DefaultWorkers is the number of hashing workers when HasherOptions.Workers
// is 0: half the CPUs, at least one.
func DefaultWorkers() int { return max(1, runtime.NumCPU()/2) }

// ErrBusy is returned when more password checks are queued than the hasher
// lets wait: a login flood is refused quickly (503) instead of holding
// requests, and the server's slots, while a queue of hashes drains.
var ErrBusy = errors.New("password hashing is saturated; retry shortly")

// Hasher hashes and verifies passwords. A fixed pool of slots makes a flood of
// login attempts queue rather than occupy every core (and, with scrypt, every
// spare megabyte), keeping the rest of the server responsive.
//
// Passwords are NFKC-normalised first, as Better Auth does, so that visually
// identical input typed on different keyboards or IMEs yields the same hash.
//
// Bcrypt only reads the first 72 bytes of its input. To keep every character
// significant, a normalised password longer than 72 UTF-8 bytes is replaced
// by base64.StdEncoding(SHA-256(password)) (44 bytes) before bcrypt; shorter
// ones are passed unchanged, so those hashes remain ordinary bcrypt hashes any
// other implementation can check. The rule depends only on the length, so
// verification reapplies it without storing a marker.
type Hasher struct {
	algorithm  string
	bcryptCost int
	sem        chan struct{}
	rest       float64 // a slot's rest after a hash, in multiples of its duration
	maxWaiting int64
	waiting    atomic.Int64

	dummyOnce sync.Once
	dummyHash string
}

// NewHasher returns a Hasher for opts. It panics on an unknown algorithm: that
// is a configuration error the config layer must catch, and silently falling
// back to another algorithm would hide it.
func NewHasher(opts HasherOptions) *Hasher {
	alg := strings.ToLower(strings.TrimSpace(opts.Algorithm))
	switch alg {
	case "":
		alg = AlgorithmBcrypt
	case AlgorithmBcrypt, AlgorithmScrypt:
	default:
		panic(fmt.Sprintf("auth: unknown password hash algorithm %q (want %q or %q)",
			opts.Algorithm, AlgorithmBcrypt, AlgorithmScrypt))
	}
	cost := opts.BcryptCost
	switch {
	case cost == 0:
		cost = DefaultBcryptCost
	case cost < bcrypt.MinCost:
		cost = bcrypt.MinCost
	case cost > bcrypt.MaxCost:
		cost = bcrypt.MaxCost
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers()
	}
	maxWaiting := opts.MaxWaiting
	if maxWaiting <= 0 {
		maxWaiting = 8 * workers
	}
	duty := opts.Duty
	if duty <= 0 {
		duty = DefaultDuty
	}
	return &Hasher{
		algorithm:  alg,
		bcryptCost: cost,
		sem:        make(chan struct{}, workers),
		rest:       1/min(duty, 1) - 1,
		maxWaiting: int64(maxWaiting),
	}
}

// Hash returns a new hash of password in the configured algorithm. It waits
// for a free slot and returns ctx.Err() if ctx ends first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release(time.Now())
	return h.hash(password)
}

// Verify reports whether password matches hash, which may be bcrypt
// ($2a$/$2b$/$2y$) or Better Auth's scrypt "salt:key". A wrong password is
// (false, nil); an error means the hash itself is unusable (ErrUnknownHashFormat,
// ErrMalformedHash) or ctx ended while waiting for a slot.
func (h *Hasher) Verify(ctx context.Context, hash, password string) (bool, error) {
	ph, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release(time.Now())
	return ph.verify(password)
}

// VerifyDummy spends as much time as Verify would on a real hash of the
// configured algorithm and cost, then discards the result. Call it when the
// email is unknown so that response time does not reveal which accounts exist.
// It returns ErrBusy (or ctx's error) exactly when Verify would, so a
// refusal does not reveal which accounts exist either.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release(time.Now())
	// Built on first use rather than in NewHasher so that commands that never
	// log anyone in do not pay for a hash.
	h.dummyOnce.Do(func() {
		h.dummyHash, _ = h.hash(RandomID())
	})
	if ph, err := parseHash(h.dummyHash); err == nil {
		_, _ = ph.verify(password)
	}
	return nil
}

// NeedsRehash reports whether hash was made with a different algorithm or
// bcrypt cost than the configured ones, so that a successful login can
// upgrade it transparently.
func (h *Hasher) NeedsRehash(hash string) bool {
	ph, err := parseHash(hash)
	if err != nil {
		return true
	}
	if ph.algorithm != h.algorithm {
		return true
	}
	return ph.algorithm == AlgorithmBcrypt && ph.bcryptCost != h.bcryptCost
}

func (h *Hasher) acquire(ctx context.Context) error {
	// Checked first because select picks randomly among ready cases, and a
	// request already abandoned should never burn a hash.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release frees the slot taken at start, after its rest: the slot stays
// taken meanwhile, so no other hash starts in its place, and no goroutine
// waits for the rest to end.
func (h *Hasher) release(start time.Time) {
	if h.rest <= 0 {
		<-h.sem
		return
	}
	time.AfterFunc(time.Duration(float64(time.Since(start))*h.rest), func() { <-h.sem })
}

func (h *Hasher) hash(password string) (string, error) {
	pw := norm.NFKC.String(password)
	if h.algorithm == AlgorithmScrypt {
		var salt [scryptSaltBytes]byte
		_, _ = rand.Read(salt[:])
		saltHex := hex.EncodeToString(salt[:])
		key, err := scryptKey(pw, saltHex)
		if err != nil {
			return "", err
		}
		return saltHex + ":" + hex.EncodeToString(key), nil
	}
	out, err := bcrypt.GenerateFromPassword(bcryptInput(pw), h.bcryptCost)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// bcryptInput applies the >72-byte pre-hash rule documented on Hasher to an
// already normalised password.
func bcryptInput(normalised string) []byte {
	if len(normalised) <= bcryptMaxInput {
		return []byte(normalised)
	}
	sum := sha256.Sum256([]byte(normalised))
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum[:])
	return out
}

// scryptKey derives the key the way Better Auth does: the salt input is the
// hex string's bytes, not the 16 bytes it encodes.
func scryptKey(normalised, saltHex string) ([]byte, error) {
	return scrypt.Key([]byte(normalised), []byte(saltHex), scryptN, scryptR, scryptP, scryptKeyLen)
}

// parsedHash is a stored hash whose format has been checked, so that the
// expensive part runs only on hashes that can possibly match.
type parsedHash struct {
	algorithm  string
	raw        string
	bcryptCost int
	scryptSalt string
	scryptKey  []byte
}

func parseHash(hash string) (parsedHash, error) {
	switch {
	case hash == "":
		return parsedHash{}, fmt.Errorf("%w: empty hash", ErrUnknownHashFormat)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		// The bcrypt package tolerates trailing bytes (they just never
		// match), which would turn corruption into "wrong password".
		if len(hash) != 60 {
			return parsedHash{}, fmt.Errorf("%w: bcrypt hash has %d characters, want 60", ErrMalformedHash, len(hash))
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return parsedHash{}, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
		}
		// Checked here rather than left to bcrypt so that NeedsRehash agrees
		// with Verify about which hashes are usable.
		if hash[6] != '$' || strings.Trim(hash[7:], bcryptAlphabet) != "" {
			return parsedHash{}, fmt.Errorf("%w: bcrypt salt or digest has invalid characters", ErrMalformedHash)
		}
		return parsedHash{algorithm: AlgorithmBcrypt, raw: hash, bcryptCost: cost}, nil
	case strings.Contains(hash, ":"):
		salt, keyHex, _ := strings.Cut(hash, ":")
		if len(salt) != 2*scryptSaltBytes || len(keyHex) != 2*scryptKeyLen {
			return parsedHash{}, fmt.Errorf("%w: scrypt hash must be %d hex characters, ':' and %d hex characters",
				ErrMalformedHash, 2*scryptSaltBytes, 2*scryptKeyLen)
		}
		if _, err := hex.DecodeString(salt); err != nil {
			return parsedHash{}, fmt.Errorf("%w: scrypt salt is not hex", ErrMalformedHash)
		}
		key, err := hex.DecodeString(keyHex)
		if err != nil {
			return parsedHash{}, fmt.Errorf("%w: scrypt key is not hex", ErrMalformedHash)
		}
		return parsedHash{algorithm: AlgorithmScrypt, raw: hash, scryptSalt: salt, scryptKey: key}, nil
	default:
		// The value is deliberately not quoted: an unrecognised "hash" may be
		// a plaintext password stored by mistake, and errors end up in logs.
		return parsedHash{}, fmt.Errorf("%w: want bcrypt ($2a$, $2b$, $2y$) or scrypt (32 hex:128 hex), got %d characters",
			ErrUnknownHashFormat, len(hash))
	}
}

func (p parsedHash) verify(password string) (bool, error) {
	pw := norm.NFKC.String(password)
	if p.algorithm == AlgorithmScrypt {
		key, err := scryptKey(pw, p.scryptSalt)
		if err != nil {
			return false, err
		}
		return subtle.ConstantTimeCompare(key, p.scryptKey) == 1, nil
	}
	err := bcrypt.CompareHashAndPassword([]byte(p.raw), bcryptInput(pw))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
	}
}
