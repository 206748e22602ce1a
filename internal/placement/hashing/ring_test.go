package hashing

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// The golden owners below were produced by Dapr 1.18.3's own ring
// (pkg/placement/hashing: NewFromExisting + GetHost, load map keyed and
// named by the host address), run outside this repository. They are the
// mixed-fleet contract: a Dapr sidecar given the same table routes these ids
// to these hosts.
func TestRingMatchesDapr(t *testing.T) {
	tests := []struct {
		name   string
		factor int
		hosts  []string
		owners map[string]string
	}{
		{
			name:   "three hosts, default factor",
			factor: 100,
			hosts:  []string{"10.0.0.1:50002", "10.0.0.2:50002", "10.0.0.3:50002"},
			owners: map[string]string{
				"":                     "10.0.0.1:50002",
				"a":                    "10.0.0.2:50002",
				"actor-1":              "10.0.0.1:50002",
				"order-42":             "10.0.0.1:50002",
				"user/émile":           "10.0.0.2:50002",
				"0":                    "10.0.0.2:50002",
				"1":                    "10.0.0.3:50002",
				"2":                    "10.0.0.3:50002",
				"3":                    "10.0.0.2:50002",
				"4":                    "10.0.0.3:50002",
				"5":                    "10.0.0.3:50002",
				"6":                    "10.0.0.1:50002",
				"7":                    "10.0.0.1:50002",
				"9":                    "10.0.0.2:50002",
				"99":                   "10.0.0.3:50002",
				"12345678901234567890": "10.0.0.3:50002",
				"cart||42":             "10.0.0.2:50002",
			},
		},
		{
			name:   "one virtual node each",
			factor: 1,
			hosts:  []string{"10.0.0.1:50002", "10.0.0.2:50002"},
			owners: map[string]string{
				"":         "10.0.0.1:50002",
				"actor-1":  "10.0.0.1:50002",
				"order-42": "10.0.0.2:50002",
				"6":        "10.0.0.1:50002",
				"7":        "10.0.0.2:50002",
				"8":        "10.0.0.1:50002",
			},
		},
		{
			name:   "single host",
			factor: 5,
			hosts:  []string{"127.0.0.1:50002"},
			owners: map[string]string{"": "127.0.0.1:50002", "a": "127.0.0.1:50002", "cart||42": "127.0.0.1:50002"},
		},
		{
			name:   "names of every shape",
			factor: 100,
			hosts:  []string{"localhost:50100", "localhost:50101", "localhost:50102", "192.168.1.89:62362", "[::1]:50002"},
			owners: map[string]string{
				"":           "localhost:50100",
				"a":          "192.168.1.89:62362",
				"actor-1":    "192.168.1.89:62362",
				"order-42":   "[::1]:50002",
				"user/émile": "localhost:50102",
				"1":          "localhost:50100",
				"2":          "localhost:50101",
				"3":          "localhost:50102",
				"4":          "192.168.1.89:62362",
				"8":          "localhost:50101",
				"cart||42":   "localhost:50100",
			},
		},
		{
			name:   "small factor, four hosts",
			factor: 3,
			hosts:  []string{"h1:1", "h2:2", "h3:3", "h4:4"},
			owners: map[string]string{
				"":        "h1:1",
				"actor-1": "h3:3",
				"0":       "h2:2",
				"1":       "h4:4",
				"3":       "h1:1",
				"6":       "h3:3",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			members := map[string]Host{}
			for _, h := range tc.hosts {
				members[h] = Host{Name: h, AppID: "app-" + h}
			}
			ring := NewRing(members, tc.factor, NewVirtualNodeCache())
			for id, want := range tc.owners {
				got, ok := ring.Lookup(id)
				if !ok {
					t.Fatalf("Lookup(%q): empty ring", id)
				}
				if got.Name != want || got.AppID != "app-"+want {
					t.Errorf("Lookup(%q) = %+v, want host %s", id, got, want)
				}
			}
		})
	}
}

func TestHash(t *testing.T) {
	// BLAKE2b-512("") starts 78 6a 02 f7 42 01 59 03 (RFC 7693 test
	// vectors), read little-endian.
	tests := []struct {
		key  string
		want uint64
	}{
		{"", 0x03590142f7026a78},
		{"a", 1260069880423202611},
		{"actor-1", 10015260465285814958},
		{"10.0.0.1:500020", 7120362376346592644},
	}
	for _, tc := range tests {
		if got := Hash(tc.key); got != tc.want {
			t.Errorf("Hash(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

// oracleOwner finds the owner by the definition, with a linear scan and an
// independently computed digest, to check the ring on many ids.
func oracleOwner(hosts []string, factor int, id string) string {
	digest := func(s string) uint64 {
		h, _ := blake2b.New512(nil)
		h.Write([]byte(s))
		return binary.LittleEndian.Uint64(h.Sum(nil))
	}
	key := digest(id)
	var best, lowest string
	var bestPos, lowestPos uint64
	for _, host := range hosts {
		for i := range factor {
			pos := digest(host + strconv.Itoa(i))
			if lowest == "" || pos < lowestPos {
				lowest, lowestPos = host, pos
			}
			if pos >= key && (best == "" || pos < bestPos) {
				best, bestPos = host, pos
			}
		}
	}
	if best == "" {
		return lowest
	}
	return best
}

func TestRingAgreesWithDefinition(t *testing.T) {
	hosts := []string{"10.1.0.7:50002", "10.1.0.8:50002", "10.1.0.9:50002", "10.1.0.10:50002"}
	members := map[string]Host{}
	for _, h := range hosts {
		members[h] = Host{Name: h}
	}
	for _, factor := range []int{1, 7, 100} {
		ring := NewRing(members, factor, nil)
		for i := range 300 {
			id := fmt.Sprintf("id-%d", i)
			got, _ := ring.Lookup(id)
			if want := oracleOwner(hosts, factor, id); got.Name != want {
				t.Fatalf("factor %d: Lookup(%q) = %s, want %s", factor, id, got.Name, want)
			}
		}
	}
}

func TestRingSpreadsKeys(t *testing.T) {
	members := map[string]Host{}
	for i := range 4 {
		name := fmt.Sprintf("10.2.0.%d:50002", i)
		members[name] = Host{Name: name}
	}
	ring := NewRing(members, 100, nil)
	counts := map[string]int{}
	const n = 20000
	for i := range n {
		h, _ := ring.Lookup(strconv.Itoa(i))
		counts[h.Name]++
	}
	// With 100 virtual nodes each, every host owns a fair share; a host
	// below a tenth of the keys would mean the virtual nodes are broken.
	for name := range members {
		if counts[name] < n/10 {
			t.Errorf("host %s owns %d of %d keys: %v", name, counts[name], n, counts)
		}
	}
}

func TestRingEmpty(t *testing.T) {
	tests := []struct {
		name    string
		members map[string]Host
		factor  int
	}{
		{"no hosts", nil, 100},
		{"zero factor", map[string]Host{"a:1": {Name: "a:1"}}, 0},
		{"negative factor", map[string]Host{"a:1": {Name: "a:1"}}, -3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if h, ok := NewRing(tc.members, tc.factor, nil).Lookup("x"); ok {
				t.Fatalf("Lookup on an empty ring = %+v, want none", h)
			}
		})
	}
}

func TestRingEqual(t *testing.T) {
	base := map[string]Host{"a:1": {Name: "a:1", AppID: "x"}, "b:1": {Name: "b:1", AppID: "x"}}
	tests := []struct {
		name    string
		members map[string]Host
		factor  int
		want    bool
	}{
		{"same", map[string]Host{"b:1": {Name: "b:1", AppID: "x"}, "a:1": {Name: "a:1", AppID: "x"}}, 100, true},
		{"other factor", base, 50, false},
		{"host added", map[string]Host{"a:1": base["a:1"], "b:1": base["b:1"], "c:1": {Name: "c:1"}}, 100, false},
		{"host removed", map[string]Host{"a:1": base["a:1"]}, 100, false},
		{"app id changed", map[string]Host{"a:1": base["a:1"], "b:1": {Name: "b:1", AppID: "y"}}, 100, false},
	}
	ring := NewRing(base, 100, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ring.Equal(NewRing(tc.members, tc.factor, nil)); got != tc.want {
				t.Fatalf("Equal = %v, want %v", got, tc.want)
			}
		})
	}
	if ring.Equal(nil) || !(*Ring)(nil).Equal(nil) {
		t.Fatal("Equal with nil rings is wrong")
	}
}

func TestRingKeepsItsOwnMembers(t *testing.T) {
	members := map[string]Host{"a:1": {Name: "a:1"}}
	ring := NewRing(members, 10, nil)
	members["b:1"] = Host{Name: "b:1"}
	if ring.Equal(NewRing(members, 10, nil)) {
		t.Fatal("changing the caller's map changed the ring")
	}
}

func TestVirtualNodeCache(t *testing.T) {
	cache := NewVirtualNodeCache()
	first := cache.get("a:1", 10)
	if again := cache.get("a:1", 10); &again[0] != &first[0] {
		t.Error("cache recomputed a known host")
	}
	if other := cache.get("a:1", 20); len(other) != 20 {
		t.Errorf("after a factor change got %d positions, want 20", len(other))
	}
	cache.get("b:1", 20)
	cache.Prune(func(h string) bool { return h == "b:1" })
	if _, ok := cache.positions["a:1"]; ok {
		t.Error("Prune kept a host it was told to drop")
	}
	if _, ok := cache.positions["b:1"]; !ok {
		t.Error("Prune dropped a host it was told to keep")
	}
}

func BenchmarkRingLookup(b *testing.B) {
	members := map[string]Host{}
	for i := range 10 {
		name := fmt.Sprintf("10.3.0.%d:50002", i)
		members[name] = Host{Name: name}
	}
	ring := NewRing(members, 100, nil)
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("actor-%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := ring.Lookup(ids[i%len(ids)]); !ok {
			b.Fatal("empty ring")
		}
	}
}

func BenchmarkNewRing(b *testing.B) {
	members := map[string]Host{}
	for i := range 20 {
		name := fmt.Sprintf("10.4.0.%d:50002", i)
		members[name] = Host{Name: name}
	}
	cache := NewVirtualNodeCache()
	b.ReportAllocs()
	for b.Loop() {
		NewRing(members, 100, cache)
	}
}
