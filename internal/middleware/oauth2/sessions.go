package oauth2

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// session is one browser's login state, kept server-side; the browser only
// holds a random id in a cookie.
type session struct {
	state    string // pending authorization request
	returnTo string // URL to go back to after login
	auth     string // header value once logged in: "<type> <token>"
	expires  time.Time
}

// sessions is a bounded in-memory table of sessions; expired entries are
// swept on access, and when full the ones closest to expiry go first.
type sessions struct {
	mu        sync.Mutex
	m         map[string]*session
	max       int
	lastSweep time.Time
}

func newSessions(max int) *sessions {
	return &sessions{m: map[string]*session{}, max: max}
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// get returns a copy of a live session.
func (s *sessions) get(id string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok || now.After(ss.expires) {
		delete(s.m, id)
		return session{}, false
	}
	return *ss, true
}

func (s *sessions) put(id string, ss session, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.m[id]; !exists {
		s.makeRoom(now)
	}
	s.m[id] = &ss
}

func (s *sessions) makeRoom(now time.Time) {
	if len(s.m) < s.max && now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for id, ss := range s.m {
		if now.After(ss.expires) {
			delete(s.m, id)
		}
	}
	for len(s.m) >= s.max {
		var oldest string
		for id, ss := range s.m {
			if oldest == "" || ss.expires.Before(s.m[oldest].expires) {
				oldest = id
			}
		}
		delete(s.m, oldest)
	}
}
