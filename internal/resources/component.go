package resources

import (
	"strings"
	"time"
)

// Component is a `kind: Component` resource.
type Component struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   ObjectMeta    `json:"metadata"`
	Spec       ComponentSpec `json:"spec"`
	Auth       Auth          `json:"auth,omitzero"`
	Scopes     []string      `json:"scopes,omitempty"`
	Source     Source        `json:"-"`
}

// ComponentSpec is the spec of a Component.
type ComponentSpec struct {
	Type         string         `json:"type"`
	Version      string         `json:"version,omitempty"`
	IgnoreErrors bool           `json:"ignoreErrors,omitempty"`
	InitTimeout  string         `json:"initTimeout,omitempty"`
	Metadata     []MetadataItem `json:"metadata,omitempty"`
}

// Category is the building block a component type belongs to: the part of
// spec.type before the first dot.
type Category string

// The component categories daprd knows.
const (
	CategoryState           Category = "state"
	CategoryPubSub          Category = "pubsub"
	CategoryBindings        Category = "bindings"
	CategorySecretStores    Category = "secretstores"
	CategoryConfiguration   Category = "configuration"
	CategoryLock            Category = "lock"
	CategoryMiddleware      Category = "middleware"
	CategoryCrypto          Category = "crypto"
	CategoryConversation    Category = "conversation"
	CategoryWorkflow        Category = "workflow"
	CategoryWorkflowBackend Category = "workflowbackend"
)

// categories lists the known categories in the order used in messages.
var categories = []Category{
	CategoryState, CategoryPubSub, CategoryBindings, CategorySecretStores,
	CategoryConfiguration, CategoryLock, CategoryMiddleware, CategoryCrypto,
	CategoryConversation, CategoryWorkflow, CategoryWorkflowBackend,
}

// DefaultInitTimeout bounds a component's Init when spec.initTimeout is
// empty or invalid.
const DefaultInitTimeout = 5 * time.Second

// Name returns metadata.name.
func (c Component) Name() string { return c.Metadata.Name }

// Category returns the known category of spec.type, or "" when it has none.
func (c Component) Category() Category {
	prefix, _, ok := strings.Cut(c.Spec.Type, ".")
	if !ok {
		return ""
	}
	for _, cat := range categories {
		if string(cat) == prefix {
			return cat
		}
	}
	return ""
}

// InitTimeout returns spec.initTimeout, or DefaultInitTimeout when it is
// empty, unparsable or not positive (a zero timeout could never succeed).
func (c Component) InitTimeout() time.Duration {
	if !validInitTimeout(c.Spec.InitTimeout) {
		return DefaultInitTimeout
	}
	d, _ := time.ParseDuration(c.Spec.InitTimeout)
	return d
}

func validInitTimeout(s string) bool {
	d, err := time.ParseDuration(s)
	return err == nil && d > 0
}

// IsActorStateStore reports whether the metadata marks this state store as
// the one backing actors and workflows (actorStateStore, any case, truthy).
func (c Component) IsActorStateStore() bool {
	if c.Category() != CategoryState {
		return false
	}
	for _, it := range c.Spec.Metadata {
		if strings.EqualFold(it.Name, "actorStateStore") && IsTruthy(it.Value.String()) {
			return true
		}
	}
	return false
}

// IsTruthy reports whether s is one of Dapr's truthy spellings:
// 1, t, true, y, yes, on (any case, surrounding spaces ignored).
func IsTruthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

func (c *Component) validate() []*Error {
	out := errs(checkName(c.Metadata.Name), c.checkType())
	return append(out, checkItems("spec.metadata", c.Spec.Metadata)...)
}

func (c *Component) checkType() *Error {
	const field = "spec.type"
	t := c.Spec.Type
	if t == "" {
		return fieldErr(field, "required (want <category>.<name>, e.g. state.redis)")
	}
	if c.Category() == "" {
		return fieldErr(field, "%q has no known category (want one of %s)", t, categoryList())
	}
	if strings.HasSuffix(t, ".") {
		return fieldErr(field, "%q names no component after the category", t)
	}
	return nil
}

func categoryList() string {
	names := make([]string, len(categories))
	for i, c := range categories {
		names[i] = string(c) + "."
	}
	return strings.Join(names, ", ")
}
