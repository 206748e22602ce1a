package oauth2

import (
	"strconv"
	"testing"
	"time"
)

func TestSessionsExpireAndAreBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := newSessions(5)
	for i := range 20 {
		s.put("id"+strconv.Itoa(i), session{auth: "x", expires: now.Add(time.Duration(i+1) * time.Minute)}, now)
		if len(s.m) > 5 {
			t.Fatalf("%d sessions held, bound is 5", len(s.m))
		}
	}
	if _, ok := s.get("id19", now); !ok {
		t.Error("newest session evicted")
	}
	if _, ok := s.get("id0", now); ok {
		t.Error("session closest to expiry kept past the bound")
	}
	if _, ok := s.get("id19", now.Add(time.Hour)); ok {
		t.Error("expired session returned")
	}
}
