package pubsub

import "testing"

func TestScopes(t *testing.T) {
	type check struct {
		topic          string
		pub, subscribe bool
	}
	tests := []struct {
		name   string
		appID  string
		props  map[string]string
		checks []check
	}{
		{"no rules", "app1", nil, []check{{"a", true, true}, {"any/thing", true, true}}},
		{"allowed restricts everyone", "app1", map[string]string{"allowedTopics": "a, b"},
			[]check{{"a", true, true}, {"b", true, true}, {"c", false, false}}},
		{"allowed list of only commas allows nothing", "app1", map[string]string{"allowedTopics": ","},
			[]check{{"a", false, false}}},
		{"empty allowed is no rule", "app1", map[string]string{"allowedTopics": ""}, []check{{"a", true, true}}},
		{"publishing scope grants only listed topics", "app1", map[string]string{"publishingScopes": "app1=a,b;app2=c"},
			[]check{{"a", true, true}, {"b", true, true}, {"c", false, true}}},
		{"app not listed is unrestricted", "app3", map[string]string{"publishingScopes": "app1=a;app2=c", "subscriptionScopes": "app1=a"},
			[]check{{"a", true, true}, {"z", true, true}}},
		{"empty grant denies everything", "app1", map[string]string{"publishingScopes": "app1=;app2=c", "subscriptionScopes": "app1="},
			[]check{{"a", false, false}, {"c", false, false}}},
		{"subscription scope independent of publishing", "app2", map[string]string{"publishingScopes": "app2=c", "subscriptionScopes": "app2=d"},
			[]check{{"c", true, false}, {"d", false, true}}},
		{"grants for the same app add up", "app1", map[string]string{"publishingScopes": "app1=a;app1=b"},
			[]check{{"a", true, true}, {"b", true, true}, {"c", false, true}}},
		{"spaces ignored", "app1", map[string]string{"publishingScopes": " app1 = a , b ; app2=c "},
			[]check{{"a", true, true}, {"b", true, true}, {"c", false, true}}},
		{"app ids are case-sensitive", "App1", map[string]string{"publishingScopes": "app1=a"},
			[]check{{"z", true, true}}},
		{"entry without = is skipped", "app1", map[string]string{"publishingScopes": "app1;app2=c"},
			[]check{{"a", true, true}}},
		{"protected needs a grant", "app3", map[string]string{"protectedTopics": "secret"},
			[]check{{"secret", false, false}, {"open", true, true}}},
		{"protected with grant", "app1", map[string]string{"protectedTopics": "secret", "publishingScopes": "app1=secret", "subscriptionScopes": "app2=secret"},
			[]check{{"secret", true, false}, {"open", false, true}}},
		{"allowed beats a grant", "app1", map[string]string{"allowedTopics": "a", "publishingScopes": "app1=a,b"},
			[]check{{"a", true, true}, {"b", false, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseScopes(tt.appID, tt.props)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.checks {
				if got := s.CanPublish(c.topic); got != c.pub {
					t.Errorf("CanPublish(%q) = %v, want %v", c.topic, got, c.pub)
				}
				if got := s.CanSubscribe(c.topic); got != c.subscribe {
					t.Errorf("CanSubscribe(%q) = %v, want %v", c.topic, got, c.subscribe)
				}
			}
		})
	}
}

func TestParseScopesErrors(t *testing.T) {
	for _, key := range []string{MetaPublishingScopes, MetaSubscriptionScopes} {
		if _, err := ParseScopes("app1", map[string]string{key: "app1=a=app2=b"}); err == nil {
			t.Errorf("%s: want an error for a grant with two '='", key)
		}
	}
	// Another app's malformed entry doesn't concern this app.
	if _, err := ParseScopes("app3", map[string]string{MetaPublishingScopes: "app1=a=b"}); err != nil {
		t.Errorf("unexpected error: %v", err)
	}
}

func TestZeroScopesAllowEverything(t *testing.T) {
	var s Scopes
	if !s.CanPublish("x") || !s.CanSubscribe("x") {
		t.Fatal("zero Scopes must allow everything")
	}
}
