package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file decides whether an object may be used, for the cryptographic
// operations (requireUsable, consumeUsage) and for Check and Get Usage
// Allocation (KMIP 1.4 §4.10, §4.18; 2.0 §6.1.7, §6.1.22).

// processUsage holds the usage bits that process cryptographically
// protected information rather than apply protection. KMIP 1.4 §3.22 lets
// a Deactivated or Compromised object be used only for these ("decryption,
// signature verification, unwrapping, MAC verification"), §3.25 gates them
// by the Process Start Date, and §3.21 never limits them. Every other bit
// (encryption, signing, wrapping, MACing, deriving, ...) applies
// protection, which §3.26 stops at the Protect Stop Date.
const processUsage = kmip.CryptographicUsageMaskVerify |
	kmip.CryptographicUsageMaskDecrypt |
	kmip.CryptographicUsageMaskUnwrapKey |
	kmip.CryptographicUsageMaskMACVerify |
	kmip.CryptographicUsageMaskValidateCryptogram |
	kmip.CryptographicUsageMaskTranslateDecrypt |
	kmip.CryptographicUsageMaskTranslateUnwrap |
	kmip.CryptographicUsageMaskFPEDecrypt

// protectsWith reports whether usage applies cryptographic protection. A
// zero usage counts as protection, the strictest reading, so a caller that
// forgets to name the usage is held to the Active state.
func protectsWith(usage kmip.CryptographicUsageMask) bool {
	return usage == 0 || usage&^processUsage != 0
}

// usageProblem says why an object may not be used as asked.
type usageProblem int

const (
	usageOK usageProblem = iota
	usageArchived
	usageWrongState  // KMIP 1.4 §3.22: not in a state allowing the usage
	usageNotStarted  // §3.25: Process Start Date not yet reached
	usageStopped     // §3.26: Protect Stop Date reached
	usageMaskRefused // §3.19: usage not in the Cryptographic Usage Mask
)

// usabilityOf checks o against usage at now, in the order a client can act
// on: archived first (Recover), then the state, the dates, and the mask.
// The detail names the condition for the Result Message; it never carries
// key material.
func usabilityOf(o *objects.Object, now time.Time, usage kmip.CryptographicUsageMask) (usageProblem, string) {
	if o.Archived {
		return usageArchived, "object is archived"
	}
	protect := protectsWith(usage)
	switch st := objects.EffectiveState(o, now); st {
	case kmip.StateActive:
	case kmip.StateDeactivated, kmip.StateCompromised:
		if protect {
			return usageWrongState, fmt.Sprintf("object is %v: it may only process protected data", st)
		}
	default:
		return usageWrongState, fmt.Sprintf("object is %v", st)
	}
	if usage&processUsage != 0 {
		if at, ok := lifecycleDate(o, attrProcessStartDate); ok && now.Before(at) {
			return usageNotStarted, "process start date not reached"
		}
	}
	if protect {
		if at, ok := lifecycleDate(o, attrProtectStopDate); ok && !now.Before(at) {
			return usageStopped, "protect stop date passed"
		}
	}
	if usage != 0 {
		mask := objectUsageMask(o)
		if mask&kmip.CryptographicUsageMaskUnrestricted == 0 && usage&^mask != 0 {
			return usageMaskRefused, fmt.Sprintf("cryptographic usage mask does not allow %v", usage&^mask)
		}
	}
	return usageOK, ""
}

// objectUsageMask is o's Cryptographic Usage Mask. The attribute "SHALL
// always have a value" for cryptographic objects (KMIP 1.4 §3.19); an
// object without one allows nothing rather than everything.
func objectUsageMask(o *objects.Object) kmip.CryptographicUsageMask {
	a, ok := o.Attr(attrCryptoUsageMask)
	if !ok || a.Value.Type != ttlv.TypeInteger {
		return 0
	}
	return kmip.CryptographicUsageMask(uint32(a.Value.Int())) //nolint:gosec // G115: a bit mask travels as a KMIP Integer (KMIP 1.4 §9.1.3.3); its 32 bits are reinterpreted, not converted
}

// requireUsable is the gate every cryptographic operation (Encrypt,
// Decrypt, Sign, Signature Verify, MAC, MAC Verify, Derive Key, ...) passes
// before it touches the key: o must be on-line, in a state that allows
// usage (KMIP 1.4 §3.22: protection only while Active; Decrypt, Verify,
// Unwrap and MAC Verify also while Deactivated or Compromised), within its
// Process Start and Protect Stop Dates (§3.25, §3.26), and usage must be in
// its Cryptographic Usage Mask (§3.19). o should come from Service.object,
// which has already applied the date-driven transitions; they are applied
// again here at the same clock, so an object loaded otherwise is judged the
// same way. A zero usage is held to the Active state and skips the mask.
// A protecting operation calls consumeUsage next. ctx is unused today; it
// is there so a policy lookup can join without touching the callers.
//
// Result Reasons, as the OASIS vectors and the spec name them:
//   - archived: Object Archived (1.4 §11.30, 2.0 Table 438);
//   - wrong state: Wrong Key Lifecycle State in 2.x ("not Active for an
//     Encrypt operation", 2.0 Table 438), Permission Denied in 1.x (1.4
//     §11.30 "not able to be used for encryption");
//   - Process Start or Protect Stop Date: Permission Denied in every
//     version (vectors CS-BC-M-14 and CS-AC-M-8, 1.4 and 2.0);
//   - usage mask: Incompatible Cryptographic Usage Mask in 2.x, Permission
//     Denied in 1.x, which has no such reason.
func (s *Service) requireUsable(ctx context.Context, req *kmip.Request, o *objects.Object, usage kmip.CryptographicUsageMask) error {
	problem, detail := usabilityOf(o, s.now(), usage)
	switch problem {
	case usageOK:
		return nil
	case usageArchived:
		return archivedError(o.ID)
	case usageWrongState:
		return wrongState(req, "object %s: %s", o.ID, detail)
	case usageMaskRefused:
		if req.Version.Is2x() {
			return kmip.Errorf(kmip.ResultReasonIncompatibleCryptographicUsageMask, "object %s: %s", o.ID, detail)
		}
		return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s: %s", o.ID, detail)
	default:
		return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s: %s", o.ID, detail)
	}
}

// archivedError is the answer to any operation but Recover on an archived
// object (KMIP 1.4 §11: "Object is archived", Object Archived; 2.0 Table
// 438: "The object SHALL be recovered from the archive before performing
// the operation").
func archivedError(id string) error {
	return kmip.Errorf(kmip.ResultReasonObjectArchived, "object %s is archived; recover it first", id)
}

// usageLimits is the Usage Limits attribute (KMIP 1.4 §3.21, Table 101).
type usageLimits struct {
	total, count int64
	unit         kmip.UsageLimitsUnit
}

// usageLimitsOf returns o's Usage Limits. A missing Usage Limits Count is
// the Total: the server sets Count to Total when the attribute is first set
// and ignores a client's Count at creation (§3.21).
func usageLimitsOf(o *objects.Object) (usageLimits, bool) {
	a, ok := o.Attr(attrUsageLimits)
	if !ok || a.Value.Type != ttlv.TypeStructure {
		return usageLimits{}, false
	}
	var l usageLimits
	total, ok := a.Value.Child(kmip.TagUsageLimitsTotal)
	if !ok || total.Type != ttlv.TypeLongInteger {
		return usageLimits{}, false
	}
	l.total, l.count = total.Long(), total.Long()
	if c, ok := a.Value.Child(kmip.TagUsageLimitsCount); ok && c.Type == ttlv.TypeLongInteger {
		l.count = c.Long()
	}
	if u, ok := a.Value.Child(kmip.TagUsageLimitsUnit); ok && u.Type == ttlv.TypeEnumeration {
		l.unit = kmip.UsageLimitsUnit(u.Enum())
	}
	return l, true
}

// set stores l as o's Usage Limits, fields in the order of Table 101.
func (l usageLimits) set(o *objects.Object) {
	f := []ttlv.Value{
		ttlv.Long(kmip.TagUsageLimitsTotal, l.total),
		ttlv.Long(kmip.TagUsageLimitsCount, l.count),
	}
	if l.unit != 0 {
		f = append(f, ttlv.Enum(kmip.TagUsageLimitsUnit, uint32(l.unit)))
	}
	o.SetAttr(attr(attrUsageLimits, ttlv.Struct(0, f...)))
}

// consumeUsage takes the units a protecting operation uses from the Usage
// Limits Count of object id (KMIP 1.4 §3.21: "decremented when the object
// is used"): dataLen bytes for the Byte unit, one for the Object unit. It is
// a no-op for usages that only process protected data, which are never
// limited, and for objects without Usage Limits. Call it after
// requireUsable and before the operation: the spec has the server "assume
// that the entire allocated amount is going to be consumed" (§4.18), so a
// failed operation does not give units back. An exhausted count is
// Permission Denied in every version, as vector CS-BC-M-7 (1.4 and 2.0)
// expects.
func (s *Service) consumeUsage(ctx context.Context, req *kmip.Request, id string, usage kmip.CryptographicUsageMask, dataLen int) error {
	if !protectsWith(usage) {
		return nil
	}
	_, err := s.lifecycleUpdate(ctx, req, id, func(o *objects.Object, _ time.Time) error {
		l, ok := usageLimitsOf(o)
		if !ok {
			return errLifecycleUnchanged
		}
		units := int64(1)
		if l.unit == kmip.UsageLimitsUnitByte {
			units = int64(dataLen)
		}
		if units > l.count {
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s: usage limit exhausted (%d %v left, %d needed)", id, l.count, l.unit, units)
		}
		l.count -= units
		l.set(o)
		return nil
	})
	return err
}

// checkOp answers Check (KMIP 1.4 §4.10, 2.0 §6.1.7): may the client use
// the object with the given Cryptographic Usage Mask, Usage Limits Count
// and Lease Time? None given: the object merely has to exist for the
// client.
//
// A refusal is an Operation Failed item (1.4 §11.11: "The client is not
// allowed to use the object according to the specified attributes",
// Permission Denied; 2.0 §6.1.7.1 adds Incompatible Cryptographic Usage
// Mask and Usage Limit Exceeded). The spec also has the refusal return the
// offending attributes, but a failed batch item carries no payload in our
// kmip layer, so they are named in the Result Message instead.
func (s *Service) checkOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	maskV, hasMask, err := lifecycleField(req.Payload, kmip.TagCryptographicUsageMask, ttlv.TypeInteger)
	if err != nil {
		return ttlv.Value{}, err
	}
	countV, hasCount, err := lifecycleField(req.Payload, kmip.TagUsageLimitsCount, ttlv.TypeLongInteger)
	if err != nil {
		return ttlv.Value{}, err
	}
	leaseV, hasLease, err := lifecycleField(req.Payload, kmip.TagLeaseTime, ttlv.TypeInterval)
	if err != nil {
		return ttlv.Value{}, err
	}
	if hasCount && countV.Long() < 0 {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "check: negative usage limits count")
	}
	o, err := s.object(ctx, req, id)
	if err != nil {
		return ttlv.Value{}, err
	}
	if o.Archived {
		return ttlv.Value{}, archivedError(id)
	}
	if !lifecycleCryptographic(o.ObjectType) && (hasMask || hasCount || hasLease) {
		return ttlv.Value{}, illegalFor(req, kmip.ResultReasonIllegalObjectType, "check: cannot be performed on a %v", o.ObjectType)
	}
	now := s.now()
	var (
		refused []string
		reason  kmip.ResultReason
	)
	refuse := func(field string, r kmip.ResultReason) {
		refused = append(refused, field)
		if reason == 0 {
			reason = r
		}
	}
	if hasMask {
		usage := kmip.CryptographicUsageMask(uint32(maskV.Int())) //nolint:gosec // G115: a bit mask travels as a KMIP Integer (KMIP 1.4 §9.1.3.3); its 32 bits are reinterpreted, not converted
		switch p, _ := usabilityOf(o, now, usage); p {
		case usageOK:
		case usageMaskRefused:
			refuse(attrCryptoUsageMask, kmip.ResultReasonIncompatibleCryptographicUsageMask)
		default:
			refuse(attrCryptoUsageMask, kmip.ResultReasonPermissionDenied)
		}
	}
	if hasCount {
		if l, ok := usageLimitsOf(o); ok && countV.Long() > l.count {
			refuse("Usage Limits Count", kmip.ResultReasonUsageLimitExceeded)
		}
	}
	if hasLease {
		if max, ok := leaseTimeOf(o); ok && max != 0 && leaseV.Interval() > max {
			refuse(attrLeaseTime, kmip.ResultReasonPermissionDenied)
		}
	}
	if len(refused) > 0 {
		if !req.Version.Is2x() {
			// 1.x has neither Incompatible Cryptographic Usage Mask nor
			// Usage Limit Exceeded (both 2.0-).
			reason = kmip.ResultReasonPermissionDenied
		}
		return ttlv.Value{}, kmip.Errorf(reason, "check: object %s may not be used as asked: %s", id, strings.Join(refused, ", "))
	}
	return uidPayload(id), nil
}

// getUsageAllocationOp answers Get Usage Allocation (KMIP 1.4 §4.18, 2.0
// §6.1.22): it takes Usage Limits Count units from the object's remaining
// count, for a client that applies the protection itself.
func (s *Service) getUsageAllocationOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	countV, ok, err := lifecycleField(req.Payload, kmip.TagUsageLimitsCount, ttlv.TypeLongInteger)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !ok {
		// 1.4 §11.19: "No Usage Limits Count is specified": Invalid Message.
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidMessage, "get usage allocation: usage limits count missing")
	}
	want := countV.Long()
	if want <= 0 {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "get usage allocation: usage limits count must be positive")
	}
	_, err = s.lifecycleUpdate(ctx, req, id, func(o *objects.Object, now time.Time) error {
		if o.Archived {
			return archivedError(id)
		}
		l, ok := usageLimitsOf(o)
		if !ok {
			// 1.4 §11.19 Illegal Operation; 2.0 §6.1.22.1 has Attribute
			// Not Found for it (Illegal Operation is 1.x only).
			return illegalFor(req, kmip.ResultReasonAttributeNotFound, "get usage allocation: object %s has no usage limits", id)
		}
		protect := objectUsageMask(o) &^ processUsage
		if protect == 0 {
			return illegalFor(req, kmip.ResultReasonInvalidObjectType, "get usage allocation: object %s cannot apply cryptographic protection", id)
		}
		// §4.18: "SHALL only be requested during the time that protection
		// is enabled" (Active, before the Protect Stop Date). Neither
		// version names a state reason for this operation; Permission
		// Denied is the one both list.
		if p, detail := usabilityOf(o, now, protect); p != usageOK {
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "get usage allocation: object %s: %s", id, detail)
		}
		if want > l.count {
			if req.Version.Is2x() {
				return kmip.Errorf(kmip.ResultReasonUsageLimitExceeded, "get usage allocation: object %s has %d units left", id, l.count)
			}
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "get usage allocation: object %s has %d units left", id, l.count)
		}
		l.count -= want
		l.set(o)
		return nil
	})
	if err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(id), nil
}

// leaseTimeOf returns o's Lease Time attribute in seconds (KMIP 1.4 §3.20:
// the maximum lease the server grants for the object).
func leaseTimeOf(o *objects.Object) (uint32, bool) {
	a, ok := o.Attr(attrLeaseTime)
	if !ok || a.Value.Type != ttlv.TypeInterval {
		return 0, false
	}
	return a.Value.Interval(), true
}

// lifecycleCryptographic reports whether objects of type t are Managed
// Cryptographic Objects (KMIP 1.4 §2.2), the ones that have a usage mask,
// usage limits and a lease.
func lifecycleCryptographic(t kmip.ObjectType) bool {
	switch t {
	case kmip.ObjectTypeCertificate, kmip.ObjectTypeSymmetricKey, kmip.ObjectTypePublicKey,
		kmip.ObjectTypePrivateKey, kmip.ObjectTypeSplitKey, kmip.ObjectTypeSecretData, kmip.ObjectTypePGPKey:
		return true
	default:
		return false
	}
}
