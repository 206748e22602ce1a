package resources

// Subscription is a declarative `kind: Subscription`, always in the
// dapr.io/v2alpha1 shape; v1alpha1 documents are converted on load.
type Subscription struct {
	APIVersion string           `json:"apiVersion"` // as written in the file
	Kind       string           `json:"kind"`
	Metadata   ObjectMeta       `json:"metadata"`
	Spec       SubscriptionSpec `json:"spec"`
	Scopes     []string         `json:"scopes,omitempty"`
	Source     Source           `json:"-"`
}

// SubscriptionSpec is the v2alpha1 spec.
type SubscriptionSpec struct {
	PubsubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	Routes          Routes            `json:"routes"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	DeadLetterTopic string            `json:"deadLetterTopic,omitempty"`
	BulkSubscribe   BulkSubscribe     `json:"bulkSubscribe,omitzero"`
}

// Routes selects the app path for each event: the first rule whose CEL
// match is true, else Default.
type Routes struct {
	Rules   []Rule `json:"rules,omitempty"`
	Default string `json:"default,omitempty"`
}

// Rule is one CEL-matched route.
type Rule struct {
	Match string `json:"match"`
	Path  string `json:"path"`
}

// BulkSubscribe configures batched delivery.
type BulkSubscribe struct {
	Enabled            bool  `json:"enabled"`
	MaxMessagesCount   int32 `json:"maxMessagesCount,omitempty"`
	MaxAwaitDurationMs int32 `json:"maxAwaitDurationMs,omitempty"`
}

// subscriptionV1 is the dapr.io/v1alpha1 shape, with a single route.
type subscriptionV1 struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       struct {
		PubsubName      string            `json:"pubsubname"`
		Topic           string            `json:"topic"`
		Route           string            `json:"route"`
		Metadata        map[string]string `json:"metadata"`
		DeadLetterTopic string            `json:"deadLetterTopic"`
		BulkSubscribe   BulkSubscribe     `json:"bulkSubscribe"`
	} `json:"spec"`
	Scopes []string `json:"scopes"`
}

// toV2 moves route to routes.default.
func (s subscriptionV1) toV2() Subscription {
	return Subscription{
		APIVersion: s.APIVersion,
		Kind:       s.Kind,
		Metadata:   s.Metadata,
		Scopes:     s.Scopes,
		Spec: SubscriptionSpec{
			PubsubName:      s.Spec.PubsubName,
			Topic:           s.Spec.Topic,
			Routes:          Routes{Default: s.Spec.Route},
			Metadata:        s.Spec.Metadata,
			DeadLetterTopic: s.Spec.DeadLetterTopic,
			BulkSubscribe:   s.Spec.BulkSubscribe,
		},
	}
}

func (s subscriptionV1) validate() []*Error {
	return errs(checkName(s.Metadata.Name), requiredString("spec.pubsubname", s.Spec.PubsubName),
		requiredString("spec.topic", s.Spec.Topic), requiredString("spec.route", s.Spec.Route))
}

func (s *Subscription) validate() []*Error {
	out := errs(checkName(s.Metadata.Name), requiredString("spec.pubsubname", s.Spec.PubsubName),
		requiredString("spec.topic", s.Spec.Topic))
	if len(s.Spec.Routes.Rules) == 0 && s.Spec.Routes.Default == "" {
		out = append(out, fieldErr("spec.routes", "needs a default path or at least one rule"))
	}
	for i, r := range s.Spec.Routes.Rules {
		if r.Path == "" {
			out = append(out, fieldErr(joinPath(indexPath("spec.routes.rules", i), "path"), "required"))
		}
	}
	return out
}

func requiredString(field, v string) *Error {
	if v == "" {
		return fieldErr(field, "required")
	}
	return nil
}
