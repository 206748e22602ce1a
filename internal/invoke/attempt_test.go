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
		addOwnMetadata(m.Metadata, []ownMetadata{{hdrXForwardedFor, "10.0.0.2", true}, {hdrCallerAppID, "me", false}})
		m.Message.Data = typeOnly(m.Message.Data)
	}
	if !proto.Equal(orig, want) {
		t.Fatalf("the original changed: %v, want %v", orig, want)
	}
	if m := attemptMessage(&internalsv1.InternalInvokeRequest{}); m.Metadata != nil || m.Message != nil {
		t.Fatalf("an empty request copies to %v", m)
	}
}
