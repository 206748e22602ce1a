package lock

import "testing"

func TestKey(t *testing.T) {
	tests := []struct{ prefix, resource, want string }{
		{"myapp", "orders", "lock||myapp||orders"},
		{"lockstore", "a b", "lock||lockstore||a b"},
		{"", "orders", "lock||orders"},
	}
	for _, tt := range tests {
		c := &Component{Prefix: tt.prefix}
		if got := c.Key(tt.resource); got != tt.want {
			t.Errorf("Key(%q) with prefix %q = %q, want %q", tt.resource, tt.prefix, got, tt.want)
		}
	}
}

func TestUnlockStatusString(t *testing.T) {
	tests := []struct {
		s    UnlockStatus
		want string
	}{
		{UnlockSuccess, "SUCCESS"},
		{UnlockLockDoesNotExist, "LOCK_DOES_NOT_EXIST"},
		{UnlockLockBelongsToOthers, "LOCK_BELONGS_TO_OTHERS"},
		{UnlockInternalError, "INTERNAL_ERROR"},
		{UnlockStatus(9), "UnlockStatus(9)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int32(tt.s), got, tt.want)
		}
	}
}
