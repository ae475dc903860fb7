package auth

import (
	"sync"
	"time"

	"github.com/todo-app/todo/models"
)

// sessionCache keeps recently authenticated sessions with their users, so
// most requests skip the session query. Entries live at most ttl; a session
// ended by this server is dropped at once (forget), and one ended anywhere
// else when the change log says so (see WatchSessionChanges).
//
// A lookup that missed may race with a revocation: it read the row just
// before the delete, and would put a dead session back. Every drop bumps
// gen, and put only stores an entry whose read began in the current
// generation, so such a fill is discarded.
type sessionCache struct {
	ttl time.Duration
	max int

	mu      sync.RWMutex
	gen     uint64
	byToken map[string]*cachedSession
	byUser  map[string]map[string]struct{}
}

type cachedSession struct {
	sess  models.Session
	user  models.User
	until time.Time
}

func newSessionCache(ttl time.Duration, max int) *sessionCache {
	return &sessionCache{ttl: ttl, max: max, byToken: map[string]*cachedSession{}, byUser: map[string]map[string]struct{}{}}
}

// get returns copies of the cached session and user, so callers may change
// them freely.
func (c *sessionCache) get(token string, now time.Time) (*models.Session, *models.User, bool) {
	c.mu.RLock()
	e, ok := c.byToken[token]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, nil, false
	}
	sess, user := e.sess, e.user
	return &sess, &user, true
}

// generation is read before a lookup whose result may be put.
func (c *sessionCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *sessionCache) put(gen uint64, sess *models.Session, user *models.User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.byToken) >= c.max {
		// Rare (max is far above the sessions one server sees within ttl);
		// starting over is simpler and safer than an eviction order.
		c.clearLocked()
	}
	c.byToken[sess.Token] = &cachedSession{sess: *sess, user: *user, until: now.Add(c.ttl)}
	tokens := c.byUser[user.ID]
	if tokens == nil {
		tokens = map[string]struct{}{}
		c.byUser[user.ID] = tokens
	}
	tokens[sess.Token] = struct{}{}
}

// forget drops a session by token.
func (c *sessionCache) forget(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.dropLocked(token)
}

// forgetUser drops every session of the user.
func (c *sessionCache) forgetUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for token := range c.byUser[userID] {
		c.dropLocked(token)
	}
}

// clear drops everything, for when changes may have been missed.
func (c *sessionCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.clearLocked()
}

func (c *sessionCache) clearLocked() {
	clear(c.byToken)
	clear(c.byUser)
}

func (c *sessionCache) dropLocked(token string) {
	e, ok := c.byToken[token]
	if !ok {
		return
	}
	delete(c.byToken, token)
	if tokens := c.byUser[e.user.ID]; tokens != nil {
		delete(tokens, token)
		if len(tokens) == 0 {
			delete(c.byUser, e.user.ID)
		}
	}
}

// expire drops entries past their time, so idle sessions do not pile up.
func (c *sessionCache) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for token, e := range c.byToken {
		if !now.Before(e.until) {
			c.dropLocked(token)
		}
	}
}
