package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kmipd/kmipd/acl"
	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds what every object operation shares: loading an object
// under the policy, storing one, mapping store and HSM errors to Result
// Reasons, and the common attribute plumbing.

// object loads the object id for op, applying the policy to it and the
// date-driven state changes of KMIP 1.4 §3.22 (persisted when they
// happened). An object the subject may not see is reported as absent. The
// caller owns the result.
func (s *Service) object(ctx context.Context, req *kmip.Request, id string) (*objects.Object, error) {
	return s.readObject(ctx, req, id, s.store.Get)
}

// sharedObject is object for a caller that only reads the result, which
// may be shared with other requests and must not be changed, not even its
// slices (objects.Store.Peek): the hot path of cryptographic operations
// and Get, which then cost no read transaction and no copy.
func (s *Service) sharedObject(ctx context.Context, req *kmip.Request, id string) (*objects.Object, error) {
	return s.readObject(ctx, req, id, s.store.Peek)
}

func (s *Service) readObject(ctx context.Context, req *kmip.Request, id string,
	read func(context.Context, string) (*objects.Object, error)) (*objects.Object, error) {
	o, err := read(ctx, id)
	if err != nil {
		return nil, storeError(err, id)
	}
	sub := SubjectFrom(ctx)
	dec := s.policy.Decide(sub, req.Operation, &acl.Object{ID: o.ID, Tenant: o.Tenant, Owner: o.Owner})
	if !dec.Allowed {
		// Do not reveal that another tenant's object exists.
		return nil, kmip.Errorf(kmip.ResultReasonItemNotFound, "object %s not found", id)
	}
	noteRead(ctx, req, id)
	now := s.now()
	if objects.EffectiveState(o, now) != o.State {
		updated, err := s.store.Update(ctx, id, func(o *objects.Object) error {
			objects.ApplyDates(o, now)
			return nil
		})
		if err != nil {
			return nil, storeError(err, id)
		}
		o = updated
	}
	return o, nil
}

// targetID is the Unique Identifier a request names, or its ID
// Placeholder (the request payload tables of KMIP 1.4 §4: "If omitted,
// then the ID Placeholder value is used by the server as the Unique
// Identifier"). With neither, the request names no object: the
// OASIS vectors answer Item Not Found, and so do we.
func targetID(req *kmip.Request) (string, error) {
	id, ok := req.UniqueIdentifier()
	if !ok || id == "" {
		return "", kmip.Errorf(kmip.ResultReasonItemNotFound, "no unique identifier and no ID placeholder")
	}
	return id, nil
}

// storeError maps store errors to Result Reasons.
func storeError(err error, id string) error {
	switch {
	case errors.Is(err, objects.ErrNotFound):
		return kmip.Errorf(kmip.ResultReasonItemNotFound, "object %s not found", id)
	case errors.Is(err, objects.ErrInvalidTransition):
		return kmip.Errorf(kmip.ResultReasonIllegalOperation, "object %s: %v", id, err)
	default:
		var ke *kmip.Error
		if errors.As(err, &ke) {
			return err
		}
		return fmt.Errorf("store: %w", err) // General Failure, logged
	}
}

// hsmError maps HSM errors to Result Reasons.
func hsmError(op string, err error) error {
	switch {
	case errors.Is(err, hsmbackend.ErrMechanismUnsupported), errors.Is(err, hsmbackend.ErrInvalidSpec):
		return kmip.Errorf(kmip.ResultReasonCryptographicFailure, "%s: not supported by the HSM", op)
	case errors.Is(err, hsmbackend.ErrBadWrappedKey):
		return kmip.Errorf(kmip.ResultReasonCryptographicFailure, "%s: key material cannot be unwrapped", op)
	default:
		return fmt.Errorf("hsm: %s: %w", op, err)
	}
}

// wrongState is the Result Reason for an operation refused because of the
// object's state: Wrong Key Lifecycle State exists from 2.0 on; 1.x has
// Permission Denied for it (KMIP 1.4 §11, e.g. Destroy of an Active key),
// as the OASIS 1.x vectors expect.
func wrongState(req *kmip.Request, format string, args ...any) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonWrongKeyLifecycleState, format, args...)
	}
	return kmip.Errorf(kmip.ResultReasonPermissionDenied, format, args...)
}

// toStored converts HSM-wrapped material to the store's form.
func toStored(w hsmbackend.Wrapped) *objects.WrappedMaterial {
	return &objects.WrappedMaterial{MasterKey: w.MasterKey, Mechanism: w.Mechanism, Blob: w.Blob, Len: w.Len}
}

// fromStored is the inverse of toStored.
func fromStored(w *objects.WrappedMaterial) hsmbackend.Wrapped {
	return hsmbackend.Wrapped{MasterKey: w.MasterKey, Mechanism: w.Mechanism, Blob: w.Blob, Len: w.Len}
}

// attr builds an attribute with a value of the attribute's own tag.
func attr(name string, v ttlv.Value) kmip.Attribute {
	if info, ok := kmip.AttributeByName(name); ok {
		v.Tag = info.Tag
	}
	return kmip.Attribute{Name: name, Value: v}
}

// Attribute names used by the handlers, as in the spec.
const (
	attrUniqueIdentifier      = "Unique Identifier"
	attrName                  = "Name"
	attrObjectType            = "Object Type"
	attrCryptoAlgorithm       = "Cryptographic Algorithm"
	attrCryptoLength          = "Cryptographic Length"
	attrCryptoParameters      = "Cryptographic Parameters"
	attrCryptoDomainParams    = "Cryptographic Domain Parameters"
	attrCryptoUsageMask       = "Cryptographic Usage Mask"
	attrState                 = "State"
	attrInitialDate           = "Initial Date"
	attrActivationDate        = "Activation Date"
	attrDeactivationDate      = "Deactivation Date"
	attrDestroyDate           = "Destroy Date"
	attrCompromiseDate        = "Compromise Date"
	attrCompromiseOccurrence  = "Compromise Occurrence Date"
	attrProcessStartDate      = "Process Start Date"
	attrProtectStopDate       = "Protect Stop Date"
	attrLastChangeDate        = "Last Change Date"
	attrOriginalCreationDate  = "Original Creation Date"
	attrRevocationReason      = "Revocation Reason"
	attrLink                  = "Link"
	attrObjectGroup           = "Object Group"
	attrDigest                = "Digest"
	attrFresh                 = "Fresh"
	attrLeaseTime             = "Lease Time"
	attrUsageLimits           = "Usage Limits"
	attrSensitive             = "Sensitive"
	attrExtractable           = "Extractable"
	attrAlwaysSensitive       = "Always Sensitive"
	attrNeverExtractable      = "Never Extractable"
	attrKeyValuePresent       = "Key Value Present"
	attrOperationPolicyName   = "Operation Policy Name"
	attrCertificateType       = "Certificate Type"
	attrCertificateLength     = "Certificate Length"
	attrSecretDataType        = "Secret Data Type"
	attrOpaqueDataType        = "Opaque Data Type"
	attrApplicationSpecific   = "Application Specific Information"
	attrContactInformation    = "Contact Information"
	attrAlternativeName       = "Alternative Name"
	attrRandomNumberGenerator = "Random Number Generator"
)

// touch sets Last Change Date to now (KMIP 1.4 §3.32: set by the server on
// every change of the object or its attributes).
func touch(o *objects.Object, now time.Time) {
	o.SetAttr(attr(attrLastChangeDate, ttlv.DateTime(0, now)))
}

// setState sets the state and its attribute together.
func setState(o *objects.Object, st kmip.State) {
	o.State = st
	o.SetAttr(attr(attrState, ttlv.Enum(0, uint32(st))))
}

// uidPayload is the response payload of the operations that answer only
// with the object's Unique Identifier: Activate, Revoke, Destroy, Archive,
// Recover, Register, Re-key, Derive Key, and the 2.x attribute changes
// (KMIP 2.0 Tables 153, 156, 188, 248, 297).
func uidPayload(id string) ttlv.Value {
	return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id))
}
