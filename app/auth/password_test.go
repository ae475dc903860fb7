package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// Cost 4 keeps the suite fast; the rules under test do not depend on cost.
func testHasher(t testing.TB, alg string) *Hasher {
	t.Helper()
	return NewHasher(HasherOptions{BcryptCost: 4, Algorithm: alg, Workers: 4})
}

func mustHash(t testing.TB, h *Hasher, pw string) string {
	t.Helper()
	hash, err := h.Hash(context.Background(), pw)
	if err != nil {
		t.Fatalf("Hash(%q): %v", pw, err)
	}
	return hash
}

func verifies(t testing.TB, h *Hasher, hash, pw string) bool {
	t.Helper()
	ok, err := h.Verify(context.Background(), hash, pw)
	if err != nil {
		t.Fatalf("Verify(%q, %q): %v", hash, pw, err)
	}
	return ok
}

// changeLast replaces the final character so the result has the same length
// in bytes, which is what makes truncation bugs invisible to length checks.
func changeLast(s string) string {
	r := []rune(s)
	switch r[len(r)-1] {
	case 'x':
		r[len(r)-1] = 'y'
	case 'é':
		r[len(r)-1] = 'è'
	default:
		r[len(r)-1] = 'x'
	}
	return string(r)
}

func TestVerifyBetterAuthScryptVectors(t *testing.T) {
	v := loadVectors(t)
	h := testHasher(t, AlgorithmBcrypt)
	for _, p := range v.Passwords {
		// scrypt is slow under -race; parallel subtests also exercise the pool.
		t.Run(p.Password, func(t *testing.T) {
			t.Parallel()
			if got := verifies(t, h, p.ScryptHash, p.Password); got != p.Verifies {
				t.Errorf("Verify(vector %q) = %v, want %v", p.Password, got, p.Verifies)
			}
			for _, wrong := range []string{p.Password + "x", changeLast(p.Password)} {
				if verifies(t, h, p.ScryptHash, wrong) {
					t.Errorf("wrong password %q verified against vector of %q", wrong, p.Password)
				}
			}
			if !h.NeedsRehash(p.ScryptHash) {
				t.Errorf("scrypt vector must need a rehash under a bcrypt Hasher")
			}
		})
	}
}

func TestVerifyFullwidthVectorNFKC(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	h := testHasher(t, AlgorithmBcrypt)
	for _, p := range v.Passwords {
		if p.Password != "ｆｕｌｌｗｉｄｔｈ１２３" {
			continue
		}
		if nfkc := norm.NFKC.String(p.Password); nfkc != "fullwidth123" {
			t.Fatalf("NFKC form = %q", nfkc)
		}
		if got := verifies(t, h, p.ScryptHash, "fullwidth123"); got != v.NFKCFormOfFullwidthVerifies {
			t.Fatalf("NFKC form verifies = %v, Better Auth says %v", got, v.NFKCFormOfFullwidthVerifies)
		}
		return
	}
	t.Fatal("full-width vector missing")
}

func TestBcryptRoundTrip(t *testing.T) {
	h := testHasher(t, AlgorithmBcrypt)
	hash := mustHash(t, h, "password123")
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != 4 {
		t.Fatalf("Cost = %d, %v", cost, err)
	}
	if !verifies(t, h, hash, "password123") {
		t.Fatal("correct password rejected")
	}
	for _, wrong := range []string{"password124", "password12", "Password123", ""} {
		if verifies(t, h, hash, wrong) {
			t.Fatalf("wrong password %q accepted", wrong)
		}
	}
	// NFKC applies to bcrypt too, matching what Better Auth does before any hash.
	hash = mustHash(t, h, "ｆｕｌｌｗｉｄｔｈ１２３")
	if !verifies(t, h, hash, "fullwidth123") {
		t.Fatal("NFKC-equivalent password rejected")
	}
}

func TestBcryptNeverTruncates(t *testing.T) {
	h := testHasher(t, AlgorithmBcrypt)
	a72 := strings.Repeat("a", 72)
	cases := []struct {
		name string
		pw   string
	}{
		{"100 bytes", strings.Repeat("x", 100)},
		{"73 bytes", strings.Repeat("b", 73)},
		{"é crossing 72 bytes", strings.Repeat("a", 71) + "é"},
		{"long multi-byte", strings.Repeat("ü", 60)},
	}
	for _, c := range cases {
		hash := mustHash(t, h, c.pw)
		if !verifies(t, h, hash, c.pw) {
			t.Errorf("%s: correct password rejected", c.name)
		}
		if verifies(t, h, hash, changeLast(c.pw)) {
			t.Errorf("%s: password with its last character changed also verifies", c.name)
		}
		prefix := c.pw[:72]
		if verifies(t, h, hash, prefix) || verifies(t, h, hash, a72) {
			t.Errorf("%s: 72-byte prefix verifies", c.name)
		}
	}
}

func TestBcrypt72BytesIsPlainBcrypt(t *testing.T) {
	h := testHasher(t, AlgorithmBcrypt)
	for _, pw := range []string{strings.Repeat("a", 72), strings.Repeat("a", 70) + "é", "short password"} {
		if len(pw) > 72 {
			t.Fatalf("test password %q is %d bytes", pw, len(pw))
		}
		hash := mustHash(t, h, pw)
		// Up to 72 bytes the hash must stay a standard bcrypt hash of the
		// password itself, so other bcrypt implementations can check it.
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)); err != nil {
			t.Errorf("%d-byte password is not hashed verbatim: %v", len(pw), err)
		}
		if !verifies(t, h, hash, pw) || verifies(t, h, hash, changeLast(pw)) {
			t.Errorf("%d-byte password: wrong verify results", len(pw))
		}
	}
	pw73 := strings.Repeat("a", 73)
	hash := mustHash(t, h, pw73)
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw73[:72])); err == nil {
		t.Error("73-byte password was hashed as its 72-byte prefix")
	}
}

func TestBcryptLengthRuleUsesNormalisedForm(t *testing.T) {
	h := testHasher(t, AlgorithmBcrypt)
	// 24 × U+3300 is 72 bytes as typed but 288 bytes after NFKC ("アパート" each).
	pw := strings.Repeat("㌀", 24)
	if len(pw) != 72 || len(norm.NFKC.String(pw)) <= 72 {
		t.Fatalf("unexpected lengths %d / %d", len(pw), len(norm.NFKC.String(pw)))
	}
	hash := mustHash(t, h, pw)
	if !verifies(t, h, hash, pw) || !verifies(t, h, hash, norm.NFKC.String(pw)) {
		t.Fatal("password or its NFKC form rejected")
	}
	if verifies(t, h, hash, strings.Repeat("㌀", 23)+"㌁") {
		t.Fatal("different password accepted")
	}
}

var scryptFormat = regexp.MustCompile(`^[0-9a-f]{32}:[0-9a-f]{128}$`)

func TestScryptRoundTrip(t *testing.T) {
	t.Parallel()
	h := testHasher(t, AlgorithmScrypt)
	hash := mustHash(t, h, "correct horse battery staple")
	if !scryptFormat.MatchString(hash) {
		t.Fatalf("hash %q is not Better Auth's format", hash)
	}
	salt, key, _ := strings.Cut(hash, ":")
	want, err := scryptKey("correct horse battery staple", salt)
	if err != nil || key != hexString(want) {
		t.Fatal("key is not scrypt over the salt's hex string")
	}
	if !verifies(t, h, hash, "correct horse battery staple") {
		t.Fatal("correct password rejected")
	}
	if verifies(t, h, hash, "correct horse battery stapl") {
		t.Fatal("wrong password accepted")
	}
	if other := mustHash(t, h, "correct horse battery staple"); other == hash {
		t.Fatal("two hashes of one password are identical: salt is not random")
	}
	if h.NeedsRehash(hash) {
		t.Fatal("own scrypt hash needs rehash")
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestVerifyMalformedHashes(t *testing.T) {
	h := testHasher(t, AlgorithmBcrypt)
	good := mustHash(t, h, "password123")
	v := loadVectors(t)
	scr := v.Passwords[0].ScryptHash
	salt, key, _ := strings.Cut(scr, ":")
	cases := map[string]string{
		"empty":                  "",
		"plain text":             "password123",
		"argon2":                 "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		"bcrypt prefix only":     "$2b$",
		"bcrypt truncated":       good[:40],
		"bcrypt one short":       good[:59],
		"bcrypt trailing byte":   good + "x",
		"bcrypt cost too high":   good[:4] + "99" + good[6:],
		"bcrypt cost not number": good[:4] + "xx" + good[6:],
		"bcrypt bad salt":        good[:7] + "!!!!" + good[11:],
		"bcrypt unknown minor":   "$2x$" + good[4:],
		"scrypt short salt":      salt[:31] + ":" + key,
		"scrypt long salt":       salt + "0:" + key,
		"scrypt short key":       salt + ":" + key[:127],
		"scrypt long key":        salt + ":" + key + "00",
		"scrypt non-hex salt":    "zz" + salt[2:] + ":" + key,
		"scrypt non-hex key":     salt + ":" + "zz" + key[2:],
		"scrypt extra part":      scr + ":00",
		"scrypt empty parts":     ":",
		"scrypt no salt":         ":" + key,
	}
	for name, hash := range cases {
		ok, err := h.Verify(context.Background(), hash, "password123")
		if ok || err == nil {
			t.Errorf("%s: Verify = %v, %v; want false and an error", name, ok, err)
			continue
		}
		if !errors.Is(err, ErrUnknownHashFormat) && !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: error %v is neither ErrUnknownHashFormat nor ErrMalformedHash", name, err)
		}
		if strings.Contains(err.Error(), "password123") {
			t.Errorf("%s: error leaks the stored value: %v", name, err)
		}
		if !h.NeedsRehash(hash) {
			t.Errorf("%s: NeedsRehash = false", name)
		}
	}
	if ok, err := h.Verify(context.Background(), "plaintext", "x"); !errors.Is(err, ErrUnknownHashFormat) || ok {
		t.Errorf("plain text: %v, %v; want ErrUnknownHashFormat", ok, err)
	}
}

func TestVerifyAcceptsBcryptVariants(t *testing.T) {
	h := testHasher(t, AlgorithmBcrypt)
	hash := mustHash(t, h, "password123")
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		variant := prefix + hash[4:]
		if !verifies(t, h, variant, "password123") || verifies(t, h, variant, "password124") {
			t.Errorf("%s variant: wrong verify results", prefix)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	b4 := testHasher(t, AlgorithmBcrypt)
	b5 := NewHasher(HasherOptions{BcryptCost: 5})
	s := testHasher(t, AlgorithmScrypt)
	h4 := mustHash(t, b4, "password123")
	h5 := mustHash(t, b5, "password123")
	hs := mustHash(t, s, "password123")
	cases := []struct {
		name string
		h    *Hasher
		hash string
		want bool
	}{
		{"same cost", b4, h4, false},
		{"lower cost", b5, h4, true},
		{"higher cost", b4, h5, true},
		{"scrypt under bcrypt", b4, hs, true},
		{"bcrypt under scrypt", s, h4, true},
		{"scrypt under scrypt", s, hs, false},
		{"$2y$ same cost", b4, "$2y$" + h4[4:], false},
		{"garbage", b4, "nope", true},
	}
	for _, c := range cases {
		if got := c.h.NeedsRehash(c.hash); got != c.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNewHasherOptions(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, DefaultBcryptCost}, {1, bcrypt.MinCost}, {12, 12}, {99, bcrypt.MaxCost}} {
		if got := NewHasher(HasherOptions{BcryptCost: c.in}).bcryptCost; got != c.want {
			t.Errorf("BcryptCost %d -> %d, want %d", c.in, got, c.want)
		}
	}
	if h := NewHasher(HasherOptions{}); h.algorithm != AlgorithmBcrypt || cap(h.sem) < 1 {
		t.Errorf("defaults: algorithm %q, workers %d", h.algorithm, cap(h.sem))
	}
	if h := NewHasher(HasherOptions{Algorithm: "SCRYPT", Workers: 3}); h.algorithm != AlgorithmScrypt || cap(h.sem) != 3 {
		t.Errorf("algorithm %q, workers %d", h.algorithm, cap(h.sem))
	}
	defer func() {
		if recover() == nil {
			t.Error("unknown algorithm did not panic")
		}
	}()
	NewHasher(HasherOptions{Algorithm: "md5"})
}

func TestVerifyDummyMatchesConfiguredCost(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{AlgorithmBcrypt, AlgorithmScrypt} {
		h := NewHasher(HasherOptions{BcryptCost: 5, Algorithm: alg, Workers: 2, Duty: 1})
		h.VerifyDummy(context.Background(), "whatever-password")
		h.VerifyDummy(context.Background(), "another")
		// The dummy must be a hash the real path would parse and run at full
		// cost; a malformed one would fail fast and reveal unknown emails.
		if _, err := parseHash(h.dummyHash); err != nil {
			t.Fatalf("%s: dummy hash unusable: %v", alg, err)
		}
		if h.NeedsRehash(h.dummyHash) {
			t.Fatalf("%s: dummy hash %q does not match the configured algorithm/cost", alg, h.dummyHash)
		}
		if len(h.sem) != 0 {
			t.Fatalf("%s: VerifyDummy leaked a worker slot", alg)
		}
	}
}

func TestPoolCancelledWhileQueued(t *testing.T) {
	h := NewHasher(HasherOptions{BcryptCost: 4, Workers: 1})
	hash := mustHash(t, h, "password123")

	// Occupy the only slot so every later call has to queue.
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "password123")
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("Hash did not queue: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("queued Hash returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("queued Hash ignored cancellation")
	}

	if _, err := h.Hash(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with cancelled ctx: %v", err)
	}
	if ok, err := h.Verify(ctx, hash, "password123"); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with cancelled ctx: %v, %v", ok, err)
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer tcancel()
	if _, err := h.Hash(tctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash past deadline: %v", err)
	}
	start := time.Now()
	h.VerifyDummy(ctx, "x")
	if time.Since(start) > time.Second {
		t.Error("VerifyDummy with cancelled ctx waited for a slot")
	}

	h.release(time.Now())
	if !verifies(t, h, hash, "password123") {
		t.Fatal("pool unusable after release")
	}
}

func TestPoolCancelledContextWithFreeSlot(t *testing.T) {
	h := NewHasher(HasherOptions{BcryptCost: 4, Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 20; i++ {
		if _, err := h.Hash(ctx, "x"); !errors.Is(err, context.Canceled) {
			t.Fatalf("abandoned request was hashed anyway: %v", err)
		}
	}
}

func TestHasherConcurrentUse(t *testing.T) {
	h := NewHasher(HasherOptions{BcryptCost: 4, Workers: 2, MaxWaiting: 16, Duty: 1})
	shared := mustHash(t, h, "shared-password")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			pw := RandomID()
			hash, err := h.Hash(ctx, pw)
			if err != nil {
				errs <- err
				return
			}
			if ok, err := h.Verify(ctx, hash, pw); !ok || err != nil {
				errs <- errors.New("own hash did not verify")
			}
			if ok, err := h.Verify(ctx, shared, "shared-password"); !ok || err != nil {
				errs <- errors.New("shared hash did not verify")
			}
			h.VerifyDummy(ctx, pw)
			_ = h.NeedsRehash(hash)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(h.sem) != 0 {
		t.Fatalf("%d worker slots leaked", len(h.sem))
	}
}

func BenchmarkVerifyBcrypt10(b *testing.B) {
	h := NewHasher(HasherOptions{BcryptCost: 10, Algorithm: AlgorithmBcrypt})
	hash := mustHash(b, h, "correct horse battery staple")
	ctx := context.Background()
	for b.Loop() {
		if ok, err := h.Verify(ctx, hash, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkVerifyScrypt(b *testing.B) {
	h := NewHasher(HasherOptions{Algorithm: AlgorithmScrypt})
	hash := mustHash(b, h, "correct horse battery staple")
	ctx := context.Background()
	for b.Loop() {
		if ok, err := h.Verify(ctx, hash, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// A flood of checks queues at most MaxWaiting behind the workers; the rest
// are refused at once with ErrBusy, from Verify and VerifyDummy alike, so a
// refusal says nothing about whether the account exists.
func TestHasherRefusesPastItsQueue(t *testing.T) {
	h := NewHasher(HasherOptions{BcryptCost: 4, Workers: 1, MaxWaiting: 2})
	hash, err := h.Hash(context.Background(), "a password 1")
	if err != nil {
		t.Fatal(err)
	}
	// Hold the only worker, then fill the queue.
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := h.Verify(ctx, hash, "a password 1")
			queued <- err
		}()
	}
	for h.waiting.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if _, err := h.Verify(context.Background(), hash, "a password 1"); !errors.Is(err, ErrBusy) {
		t.Errorf("Verify past the queue: %v, want ErrBusy", err)
	}
	if err := h.VerifyDummy(context.Background(), "a password 1"); !errors.Is(err, ErrBusy) {
		t.Errorf("VerifyDummy past the queue: %v, want ErrBusy", err)
	}
	if _, err := h.Hash(context.Background(), "a password 1"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash past the queue: %v, want ErrBusy", err)
	}
	cancel()
	for range 2 {
		if err := <-queued; !errors.Is(err, context.Canceled) {
			t.Errorf("queued check: %v, want cancelled", err)
		}
	}
	h.release(time.Now())
	if ok, err := h.Verify(context.Background(), hash, "a password 1"); !ok || err != nil {
		t.Errorf("Verify after the flood: %v %v", ok, err)
	}
}

// TestHasherSlotRestsAfterHash: after a hash, its slot stays taken for a
// time in proportion to the hash (DefaultDuty: as long again), so a flood
// cannot keep a worker hashing all the time; then it frees itself.
func TestHasherSlotRestsAfterHash(t *testing.T) {
	for _, tc := range []struct {
		name    string
		duty    float64
		resting bool
	}{
		{"default duty", 0, true},
		{"half", 0.5, true},
		{"full duty never rests", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Cost 12 takes tens of milliseconds, far longer than the
			// check below needs to run.
			h := NewHasher(HasherOptions{BcryptCost: 12, Workers: 1, Duty: tc.duty})
			if _, err := h.Hash(context.Background(), "password123"); err != nil {
				t.Fatal(err)
			}
			if resting := len(h.sem) == 1; resting != tc.resting {
				t.Fatalf("slot taken right after the hash: %v, want %v", resting, tc.resting)
			}
			deadline := time.Now().Add(10 * time.Second)
			for len(h.sem) != 0 {
				if time.Now().After(deadline) {
					t.Fatal("slot never freed after its rest")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}
