package apierr

import (
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
)

// --- pub/sub ---
//
// Pub/sub errors are rich: ErrorInfo reason DAPR_PUBSUB_*, and (except the
// lookup failures) a ResourceInfo naming the pub/sub, whose description
// repeats the message.

const reasonPubSubNotConfigured = "DAPR_PUBSUB_NOT_CONFIGURED"

// CodePubSubPublishMessage is also the errorCode field of a failed bulk
// publish's HTTP body.
const CodePubSubPublishMessage = "ERR_PUBSUB_PUBLISH_MESSAGE"

func pubsubErr(code string, httpStatus int, grpc codes.Code, reason, pubsub, msg string, md map[string]string, withResource bool) *Error {
	e := &Error{Code: code, HTTPStatus: httpStatus, GRPCCode: grpc, Message: msg, Reason: reason, Metadata: md}
	if withResource {
		e.Resource = &Resource{Type: "pubsub", Name: pubsub, Description: msg}
	}
	return e
}

// PubSubNotConfigured is returned when no pub/sub component is loaded.
// Over HTTP the ErrorInfo metadata is the request metadata; gRPC callers
// get none (see PubSubForGRPC).
func PubSubNotConfigured(pubsub string, reqMD map[string]string) *Error {
	return pubsubErr("ERR_PUBSUB_NOT_CONFIGURED", http.StatusBadRequest, codes.FailedPrecondition, reasonPubSubNotConfigured,
		pubsub, fmt.Sprintf("pubsub %s is not configured", pubsub), reqMD, false)
}

// PubSubEmpty is returned for a request without a pub/sub name.
func PubSubEmpty(reqMD map[string]string) *Error {
	return pubsubErr("ERR_PUBSUB_EMPTY", http.StatusNotFound, codes.InvalidArgument, "DAPR_PUBSUB_NAME_EMPTY",
		"", "pubsub name is empty", reqMD, true)
}

// PubSubNotFound is returned for an unknown pub/sub name.
func PubSubNotFound(pubsub string, reqMD map[string]string) *Error {
	return pubsubErr("ERR_PUBSUB_NOT_FOUND", http.StatusNotFound, codes.InvalidArgument, "DAPR_PUBSUB_NOT_FOUND",
		pubsub, fmt.Sprintf("pubsub %s is not found", pubsub), reqMD, false)
}

// PubSubTopicEmpty is returned for a request without a topic.
func PubSubTopicEmpty(pubsub string, reqMD map[string]string) *Error {
	return pubsubErr("ERR_TOPIC_NAME_EMPTY", http.StatusNotFound, codes.InvalidArgument, "DAPR_PUBSUB_TOPIC_NAME_EMPTY",
		pubsub, fmt.Sprintf("topic is empty in pubsub %s", pubsub), reqMD, true)
}

// PubSubRequestMetadata is returned when publish metadata can't be read
// (rawPayload not a boolean).
func PubSubRequestMetadata(pubsub string, reqMD map[string]string, err error) *Error {
	return pubsubErr("ERR_PUBSUB_REQUEST_METADATA", http.StatusBadRequest, codes.InvalidArgument, "DAPR_PUBSUB_METADATA_DESERIALIZATION",
		pubsub, "failed deserializing metadata. Error: "+err.Error(), reqMD, true)
}

// PubSubForbidden is returned when the app may not use the topic.
func PubSubForbidden(pubsub, topic, appID string) *Error {
	msg := fmt.Sprintf("topic %s is not allowed for app id %s", topic, appID)
	return pubsubErr("ERR_PUBSUB_FORBIDDEN", http.StatusForbidden, codes.PermissionDenied, "DAPR_PUBSUB_FORBIDDEN",
		pubsub, msg, map[string]string{"topic": topic, "error": msg}, true)
}

// PubSubTestNotFound is returned when the broker reports that the pub/sub
// or topic does not exist.
func PubSubTestNotFound(pubsub, topic string, err error) *Error {
	return pubsubErr("ERR_PUBSUB_NOT_FOUND", http.StatusBadRequest, codes.NotFound, "DAPR_PUBSUB_TEST_NOT_FOUND",
		pubsub, fmt.Sprintf("pubsub '%s' not found", pubsub), map[string]string{"topic": topic, "error": err.Error()}, true)
}

// PubSubPublishMessage is returned when the broker failed to publish.
func PubSubPublishMessage(pubsub, topic string, err error) *Error {
	return pubsubErr(CodePubSubPublishMessage, http.StatusInternalServerError, codes.Internal, "DAPR_PUBSUB_PUBLISH_MESSAGE",
		pubsub, fmt.Sprintf("error when publishing to topic %s in pubsub %s: %v", topic, pubsub, err),
		map[string]string{"topic": topic, "error": err.Error()}, true)
}

// PubSubCloudEventCreation is returned when the CloudEvent could not be
// built (a cloudevents+json body that is not a JSON object).
func PubSubCloudEventCreation(pubsub, appID string, err error) *Error {
	return pubsubErr("ERR_PUBSUB_CLOUD_EVENTS_SER", http.StatusInternalServerError, codes.InvalidArgument, "DAPR_PUBSUB_CLOUD_EVENT_CREATION",
		pubsub, "cannot create cloudevent", map[string]string{"appID": appID, "error": err.Error()}, true)
}

// ErrContentTypeMismatch is a bulk entry whose event does not fit its
// contentType.
var ErrContentTypeMismatch = errors.New("error: mismatch between contentType and event")

// PubSubMarshalEnvelope is returned when an event could not be serialised
// (also a bulk entry whose event does not fit its contentType).
func PubSubMarshalEnvelope(pubsub, topic, appID string, err error) *Error {
	return pubsubErr("ERR_PUBSUB_EVENTS_SER", http.StatusBadRequest, codes.InvalidArgument, "DAPR_PUBSUB_MARSHAL_ENVELOPE",
		pubsub, fmt.Sprintf("error when marshalling cloud event envelope for topic %s pubsub %s: %v", topic, pubsub, err),
		map[string]string{"appID": appID, "error": err.Error()}, true)
}

// PubSubEntryID is returned for a bulk entry whose entryId is missing or
// repeats an earlier one.
func PubSubEntryID(pubsub, topic, appID string) *Error {
	const detail = "entryId is duplicated or not present for entry"
	return pubsubErr("ERR_PUBSUB_EVENTS_SER", http.StatusBadRequest, codes.InvalidArgument, "DAPR_PUBSUB_MARSHAL_EVENTS",
		pubsub, fmt.Sprintf("error marshaling events to bytes for topic %s pubsub %s. error: %s", topic, pubsub, detail),
		map[string]string{"appID": appID, "error": detail}, true)
}

// PubSubUnmarshalEvents is returned when a bulk body is not a JSON array of
// entries.
func PubSubUnmarshalEvents(pubsub, topic, appID string, err error) *Error {
	return pubsubErr("ERR_PUBSUB_EVENTS_SER", http.StatusBadRequest, codes.InvalidArgument, "DAPR_PUBSUB_UNMARSHAL_EVENTS",
		pubsub, fmt.Sprintf("error when unmarshaling the request for topic %s pubsub %s: %v", topic, pubsub, err),
		map[string]string{"appID": appID}, true)
}

// PubSubForGRPC adjusts a pub/sub error for the gRPC API: daprd attaches
// no request metadata to ERR_PUBSUB_NOT_CONFIGURED there. Other errors are
// returned unchanged.
func PubSubForGRPC(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Reason != reasonPubSubNotConfigured || e.Metadata == nil {
		return err
	}
	c := *e
	c.Metadata = nil
	return &c
}
