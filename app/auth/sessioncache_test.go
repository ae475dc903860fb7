package auth

import (
	"testing"
	"time"

	"github.com/todo-app/todo/models"
)

func cachedPair(token, userID string) (*models.Session, *models.User) {
	return &models.Session{ID: "s-" + token, Token: token, UserID: userID}, &models.User{ID: userID, Name: "n"}
}

func TestSessionCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name string
		run  func(c *sessionCache) (token string, wantHit bool)
	}{
		{"a put is found", func(c *sessionCache) (string, bool) {
			s, u := cachedPair("t1", "u1")
			c.put(c.generation(), s, u, now)
			return "t1", true
		}},
		{"an entry ends after ttl", func(c *sessionCache) (string, bool) {
			s, u := cachedPair("t1", "u1")
			c.put(c.generation(), s, u, now.Add(-time.Minute))
			return "t1", false
		}},
		{"forget drops the token", func(c *sessionCache) (string, bool) {
			s, u := cachedPair("t1", "u1")
			c.put(c.generation(), s, u, now)
			c.forget("t1")
			return "t1", false
		}},
		{"forgetUser drops every session of the user", func(c *sessionCache) (string, bool) {
			for _, tok := range []string{"t1", "t2"} {
				s, u := cachedPair(tok, "u1")
				c.put(c.generation(), s, u, now)
			}
			c.forgetUser("u1")
			return "t2", false
		}},
		{"forgetUser leaves other users alone", func(c *sessionCache) (string, bool) {
			s, u := cachedPair("t1", "u1")
			c.put(c.generation(), s, u, now)
			s, u = cachedPair("t2", "u2")
			c.put(c.generation(), s, u, now)
			c.forgetUser("u1")
			return "t2", true
		}},
		{"a fill that raced a revocation is discarded", func(c *sessionCache) (string, bool) {
			gen := c.generation() // the lookup starts
			c.forget("t1")        // the session ends meanwhile
			s, u := cachedPair("t1", "u1")
			c.put(gen, s, u, now) // the lookup read the row before the delete
			return "t1", false
		}},
		{"clear drops everything", func(c *sessionCache) (string, bool) {
			s, u := cachedPair("t1", "u1")
			c.put(c.generation(), s, u, now)
			c.clear()
			return "t1", false
		}},
		{"a full cache starts over", func(c *sessionCache) (string, bool) {
			for _, tok := range []string{"t1", "t2", "t3"} {
				s, u := cachedPair(tok, "u1")
				c.put(c.generation(), s, u, now)
			}
			return "t1", false
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newSessionCache(30*time.Second, 2)
			token, want := tc.run(c)
			_, _, hit := c.get(token, now.Add(time.Second))
			if hit != want {
				t.Fatalf("hit = %v, want %v", hit, want)
			}
		})
	}
}

// Callers change what they get (the sliding refresh moves the expiry); the
// cached copy must not change with it.
func TestSessionCacheReturnsCopies(t *testing.T) {
	now := time.Now()
	c := newSessionCache(time.Minute, 10)
	s, u := cachedPair("t1", "u1")
	c.put(c.generation(), s, u, now)
	got, gotUser, _ := c.get("t1", now)
	got.UserID, gotUser.Name = "changed", "changed"
	again, againUser, _ := c.get("t1", now)
	if again.UserID != "u1" || againUser.Name != "n" {
		t.Fatalf("cache entry changed through a returned copy: %+v %+v", again, againUser)
	}
}

func TestSessionCacheExpireDropsOldEntries(t *testing.T) {
	now := time.Now()
	c := newSessionCache(time.Second, 10)
	s, u := cachedPair("t1", "u1")
	c.put(c.generation(), s, u, now)
	c.expire(now.Add(2 * time.Second))
	if len(c.byToken) != 0 || len(c.byUser) != 0 {
		t.Fatalf("expire left %d tokens, %d users", len(c.byToken), len(c.byUser))
	}
}
