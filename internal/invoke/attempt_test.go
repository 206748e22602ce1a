package invoke

import (
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Sending an attempt adds metadata and moves the data out of the message;
// none of that may reach the request the next attempt is copied from.
func TestAttemptMessageIsolatesWhatSendingChanges(t *testing.T) {
	orig := &internalsv1.InternalInvokeRequest{
		Ver: internalsv1.APIVersion_V1,
		Metadata: map[string]*internalsv1.ListStringValue{
			"x-forwarded-for": {Values: []string{"10.0.0.1"}},
		},
		Message: &commonv1.InvokeRequest{
			Method: "charge", ContentType: "application/json",
			Data:          &anypb.Any{TypeUrl: "t", Value: []byte(`{"a":1}`)},
			HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_POST},
		},
	}
	want := proto.Clone(orig)
	for range 3 { // three attempts, each sent the way outgoing sends one
		m := attemptMessage(orig)
		if !proto.Equal(m, want) {
			t.Fatalf("attempt message = %v, want a copy of %v", m, want)
		}
		addOwnMetadata(m.Metadata, []ownMetadata{{hdrXForwardedFor, "10.0.0.2", appendIfSet}, {hdrCallerAppID, "me", replace}})
		m.Message.Data = typeOnly(m.Message.Data)
	}
	if !proto.Equal(orig, want) {
		t.Fatalf("the original changed: %v, want %v", orig, want)
	}
	if m := attemptMessage(&internalsv1.InternalInvokeRequest{}); m.Metadata != nil || m.Message != nil {
		t.Fatalf("an empty request copies to %v", m)
	}
}

func TestAddOwnMetadata(t *testing.T) {
	list := func(v ...string) *internalsv1.ListStringValue { return &internalsv1.ListStringValue{Values: v} }
	tests := []struct {
		name string
		own  ownMetadata
		had  *internalsv1.ListStringValue // the caller's values; nil for none
		want *internalsv1.ListStringValue // nil for no entry
	}{
		{"replace drops the caller's value", ownMetadata{hdrCallerAppID, "me", replace}, list("posing"), list("me")},
		{"replace sets even an empty value", ownMetadata{hdrCallerAppID, "", replace}, list("posing"), list("")},
		{"replaceIfSet replaces", ownMetadata{hdrCallerNS, "ns1", replaceIfSet}, list("other"), list("ns1")},
		{"replaceIfSet adds nothing when empty", ownMetadata{hdrCallerNS, "", replaceIfSet}, nil, nil},
		{"appendIfSet goes after the caller's", ownMetadata{hdrXForwardedFor, "10.0.0.2", appendIfSet}, list("10.0.0.1"), list("10.0.0.1", "10.0.0.2")},
		{"appendIfSet alone", ownMetadata{hdrXForwardedFor, "10.0.0.2", appendIfSet}, nil, list("10.0.0.2")},
		{"appendIfSet adds nothing when empty", ownMetadata{hdrXForwardedFor, "", appendIfSet}, list("10.0.0.1"), list("10.0.0.1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := map[string]*internalsv1.ListStringValue{}
			if tc.had != nil {
				md[tc.own.key] = tc.had
			}
			addOwnMetadata(md, []ownMetadata{tc.own})
			got, ok := md[tc.own.key]
			if tc.want == nil {
				if ok {
					t.Fatalf("%s = %v, want no entry", tc.own.key, got.GetValues())
				}
				return
			}
			if !proto.Equal(got, tc.want) {
				t.Fatalf("%s = %v, want %v", tc.own.key, got.GetValues(), tc.want.GetValues())
			}
		})
	}
}
