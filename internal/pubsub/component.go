package pubsub

// Component is a loaded, initialised pub/sub as the building block sees it:
// the broker plus its name, type and the topic rules from its metadata
// (allowedTopics, protectedTopics, publishingScopes, subscriptionScopes).
type Component struct {
	Name    string
	Type    string // e.g. "pubsub.redis"
	Version string
	Broker  Broker
	// Scopes are this app's topic rules, parsed from the component metadata.
	Scopes Scopes
	// NamespacePrefix, when set, prefixes every topic (components whose
	// metadata uses {namespace} are namespace-scoped in Dapr).
	NamespacePrefix string

	features []Feature
}

// NewComponent wraps an initialised broker.
func NewComponent(name, typ, version string, b Broker, scopes Scopes) *Component {
	return &Component{Name: name, Type: typ, Version: version, Broker: b, Scopes: scopes, features: b.Features()}
}

// Features returns the broker's capabilities.
func (c *Component) Features() []Feature { return c.features }

// Has reports whether the broker supports f.
func (c *Component) Has(f Feature) bool { return HasFeature(c.features, f) }

// Capabilities returns the feature names for the metadata API.
func (c *Component) Capabilities() []string {
	out := make([]string, 0, len(c.features))
	for _, f := range c.features {
		out = append(out, string(f))
	}
	return out
}

// Scopes are one app's topic permissions on one pub/sub, from Dapr's
// allowedTopics, protectedTopics, publishingScopes and subscriptionScopes
// metadata. The zero value allows everything.
type Scopes struct {
	// Allowed, when non-nil, lists the only topics anyone may use.
	Allowed map[string]bool
	// Protected topics need an explicit grant in the app's scopes.
	Protected map[string]bool
	// Publish and Subscribe, when non-nil, list this app's granted topics
	// (the app is named in publishingScopes/subscriptionScopes).
	Publish   map[string]bool
	Subscribe map[string]bool
}
