package pubsub

import (
	"fmt"
	"strings"
)

// Component metadata keys that restrict topics. They are read by the
// sidecar, not by brokers.
const (
	MetaAllowedTopics      = "allowedTopics"
	MetaProtectedTopics    = "protectedTopics"
	MetaPublishingScopes   = "publishingScopes"
	MetaSubscriptionScopes = "subscriptionScopes"
)

// ParseScopes reads appID's topic rules from a pub/sub component's metadata.
// Values are parsed as daprd does: spaces are ignored, topic lists are
// comma-separated, app grants are `app1=t1,t2;app2=t3`, and `app1=` (an
// empty list) grants nothing. Entries without `=` are skipped, as in daprd;
// the error is reserved for values that cannot be read at all (an app grant
// with more than one `=`), which daprd would silently misread.
func ParseScopes(appID string, props map[string]string) (Scopes, error) {
	var s Scopes
	s.Allowed = topicSet(props[MetaAllowedTopics])
	s.Protected = topicSet(props[MetaProtectedTopics])
	var err error
	if s.Publish, err = appTopics(props[MetaPublishingScopes], appID); err != nil {
		return Scopes{}, fmt.Errorf("%s: %w", MetaPublishingScopes, err)
	}
	if s.Subscribe, err = appTopics(props[MetaSubscriptionScopes], appID); err != nil {
		return Scopes{}, fmt.Errorf("%s: %w", MetaSubscriptionScopes, err)
	}
	return s, nil
}

// topicSet parses a CSV list; nil when the value is empty (no rule).
// Empty items are kept, as daprd keeps them: "," restricts to the empty
// topic, which no request can name, so it allows nothing.
func topicSet(v string) map[string]bool {
	if v == "" {
		return nil
	}
	out := map[string]bool{}
	for _, t := range strings.Split(strings.ReplaceAll(v, " ", ""), ",") {
		out[t] = true
	}
	return out
}

// appTopics returns the topics granted to appID in a scopes value, or nil
// when appID is not named. A grant `app=` yields an empty, non-nil set.
func appTopics(v, appID string) (map[string]bool, error) {
	if v == "" {
		return nil, nil
	}
	var out map[string]bool
	for _, entry := range strings.Split(strings.ReplaceAll(v, " ", ""), ";") {
		app, topics, ok := strings.Cut(entry, "=")
		if !ok || app != appID {
			continue
		}
		if strings.Contains(topics, "=") {
			return nil, fmt.Errorf("entry %q has more than one '='", entry)
		}
		if out == nil {
			out = map[string]bool{}
		}
		for _, t := range strings.Split(topics, ",") {
			if t != "" {
				out[t] = true
			}
		}
	}
	return out, nil
}

// CanPublish reports whether the app may publish to topic.
func (s Scopes) CanPublish(topic string) bool { return s.allowed(topic, s.Publish) }

// CanSubscribe reports whether the app may subscribe to topic.
func (s Scopes) CanSubscribe(topic string) bool { return s.allowed(topic, s.Subscribe) }

// allowed applies daprd's rules: allowedTopics restricts everyone; an app
// named in the scopes may use only its granted topics; an app not named may
// use any topic except protected ones, which need an explicit grant.
func (s Scopes) allowed(topic string, granted map[string]bool) bool {
	if s.Allowed != nil && !s.Allowed[topic] {
		return false
	}
	if granted != nil {
		return granted[topic]
	}
	return !s.Protected[topic]
}
