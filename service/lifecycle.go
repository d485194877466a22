package service

import (
	"context"
	"errors"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds the lifecycle operations: Activate, Revoke, Destroy,
// Archive, Recover and Obtain Lease (KMIP 1.4 §4.17, §4.19-§4.23; 2.0
// §6.1.1, §6.1.4, §6.1.15, §6.1.34, §6.1.38, §6.1.40). State changes follow
// the one transition table of objects.Transition (1.4 §3.22).

// lifecycleArchiveDate is the Archive Date attribute (KMIP 1.4 §3.32),
// which core.go does not name.
const lifecycleArchiveDate = "Archive Date"

// maxRevocationMessage bounds the Revocation Message kept with an object
// (KMIP 1.4 §3.31: for the audit trail only). The message limits of the
// codec bound it already; this keeps one object's record small.
const maxRevocationMessage = 4096

// errLifecycleUnchanged, returned by a lifecycleUpdate callback, means
// there is nothing to write: the operation succeeds without touching the
// object (and its Last Change Date).
var errLifecycleUnchanged = errors.New("lifecycle: object unchanged")

// lifecycleUpdate loads object id for req through Service.object (the
// policy and the date-driven transitions), then runs change on the stored
// object inside one store transaction, so that the state it judges is the
// state it writes over even when requests race. The callback sees the
// date-driven transitions applied at the same clock and may be run more
// than once (objects.Store.Update), so it must only change o. Last Change
// Date is set on every write (KMIP 1.4 §3.38).
func (s *Service) lifecycleUpdate(ctx context.Context, req *kmip.Request, id string, change func(o *objects.Object, now time.Time) error) (*objects.Object, error) {
	loaded, err := s.object(ctx, req, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	o, err := s.store.Update(ctx, id, func(o *objects.Object) error {
		objects.ApplyDates(o, now)
		if err := change(o, now); err != nil {
			return err
		}
		touch(o, now)
		return nil
	})
	if errors.Is(err, errLifecycleUnchanged) {
		return loaded, nil
	}
	if err != nil {
		return nil, storeError(err, id)
	}
	return o, nil
}

// lifecycleField returns the payload field with the given tag, checking
// its item type: a known tag used with the wrong type is Invalid Message
// (KMIP 2.0 Table 438: "the invalid use of a known tag").
func lifecycleField(payload ttlv.Value, tag ttlv.Tag, typ ttlv.Type) (ttlv.Value, bool, error) {
	v, ok := payload.Child(tag)
	if !ok {
		return ttlv.Value{}, false, nil
	}
	if v.Type != typ {
		return ttlv.Value{}, false, kmip.Errorf(kmip.ResultReasonInvalidMessage, "%s has the wrong item type", kmip.TagString(tag))
	}
	return v, true, nil
}

// lifecycleDate returns the date attribute name of o (Date-Time, or a 2.x
// Date-Time Extended).
func lifecycleDate(o *objects.Object, name string) (time.Time, bool) {
	a, ok := o.Attr(name)
	if !ok || (a.Value.Type != ttlv.TypeDateTime && a.Value.Type != ttlv.TypeDateTimeExtended) {
		return time.Time{}, false
	}
	return a.Value.Time(), true
}

// illegalFor is the error for an operation the object cannot undergo at
// all: Illegal Operation in 1.x (KMIP 1.4 §11), which 2.0 removed; 2.x
// answers with the reason its operation's error table names instead.
func illegalFor(req *kmip.Request, reason2x kmip.ResultReason, format string, args ...any) error {
	if req.Version.Is2x() {
		return kmip.Errorf(reason2x, format, args...)
	}
	return kmip.Errorf(kmip.ResultReasonIllegalOperation, format, args...)
}

// lifecycleHasState reports whether o takes part in the lifecycle of KMIP
// 1.4 §3.22: every stored object has a State, except Templates (1.x, no
// longer created) and records without one.
func lifecycleHasState(o *objects.Object) bool {
	return o.State != 0 && o.ObjectType != kmip.ObjectTypeTemplate
}

// activateOp answers Activate (KMIP 1.4 §4.19, 2.0 §6.1.1): Pre-Active to
// Active (§3.22 transition 4), with the Activation Date set to now even if
// one was set for later.
func (s *Service) activateOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	_, err = s.lifecycleUpdate(ctx, req, id, func(o *objects.Object, now time.Time) error {
		if o.Archived {
			return archivedError(id)
		}
		if !lifecycleHasState(o) {
			return illegalFor(req, kmip.ResultReasonInvalidObjectType, "activate: a %v cannot be activated", o.ObjectType)
		}
		// 1.4 §11.20: "Object is not in Pre-Active state": Permission
		// Denied; 2.0 §6.1.1.1: Wrong Key Lifecycle State.
		if err := objects.Transition(o.State, kmip.StateActive); err != nil {
			return wrongState(req, "activate: object %s is %v, not PreActive", id, o.State)
		}
		setState(o, kmip.StateActive)
		o.SetAttr(attr(attrActivationDate, ttlv.DateTime(0, now)))
		return nil
	})
	if err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(id), nil
}

// revokeRequest is a parsed Revoke request payload (KMIP 1.4 Table 212).
type revokeRequest struct {
	code        kmip.RevocationReasonCode
	reason      ttlv.Value // the Revocation Reason to store
	occurred    time.Time
	hasOccurred bool
}

// compromise reports whether the reason moves the object to Compromised
// (KMIP 1.4 §4.20: "key compromise" or "CA compromise").
func (r *revokeRequest) compromise() bool {
	return r.code == kmip.RevocationReasonCodeKeyCompromise || r.code == kmip.RevocationReasonCodeCACompromise
}

func parseRevoke(req *kmip.Request) (*revokeRequest, error) {
	rr, ok, err := lifecycleField(req.Payload, kmip.TagRevocationReason, ttlv.TypeStructure)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "revoke: revocation reason missing")
	}
	code, ok, err := lifecycleField(rr, kmip.TagRevocationReasonCode, ttlv.TypeEnumeration)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "revoke: revocation reason code missing")
	}
	// 1.4 §11.21: "Revocation Reason is not recognized": Invalid Field.
	if !kmip.EnumDefinedIn(kmip.TagRevocationReasonCode, code.Enum(), req.Version.Major, req.Version.Minor) {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "revoke: revocation reason code 0x%08X is not recognized", code.Enum())
	}
	r := &revokeRequest{code: kmip.RevocationReasonCode(code.Enum())}
	// Rebuilt rather than kept as sent: only the fields of 1.4 Table 121,
	// in its order, and nothing that aliases the request buffer.
	fields := []ttlv.Value{ttlv.Enum(kmip.TagRevocationReasonCode, code.Enum())}
	msg, ok, err := lifecycleField(rr, kmip.TagRevocationMessage, ttlv.TypeTextString)
	if err != nil {
		return nil, err
	}
	if ok {
		if len(msg.Bytes()) > maxRevocationMessage {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "revoke: revocation message longer than %d bytes", maxRevocationMessage)
		}
		fields = append(fields, ttlv.Text(kmip.TagRevocationMessage, msg.Text()))
	}
	r.reason = ttlv.Struct(kmip.TagRevocationReason, fields...)
	if v, ok := req.Payload.Child(kmip.TagCompromiseOccurrenceDate); ok {
		if v.Type != ttlv.TypeDateTime && v.Type != ttlv.TypeDateTimeExtended {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "revoke: compromise occurrence date has the wrong item type")
		}
		r.occurred, r.hasOccurred = v.Time(), true
	}
	return r, nil
}

// revokeOp answers Revoke (KMIP 1.4 §4.20, 2.0 §6.1.40). Key Compromise
// and CA Compromise move the object to Compromised (§3.22 transitions 3,
// 5, 8) or a Destroyed one to Destroyed Compromised (10), set the
// Compromise Date to now (§3.30) and the Compromise Occurrence Date to the
// request's, else to the Initial Date (§3.29). Any other reason moves an
// Active object to Deactivated (6) and sets the Deactivation Date to now.
// Other changes are not transitions of §3.22 and are refused as a wrong
// state. A Compromise Occurrence Date sent with another reason, which the
// spec says SHALL NOT be sent, is ignored rather than refused: neither
// version names an error for it.
func (s *Service) revokeOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	r, err := parseRevoke(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	_, err = s.lifecycleUpdate(ctx, req, id, func(o *objects.Object, now time.Time) error {
		if o.Archived {
			return archivedError(id)
		}
		if !lifecycleHasState(o) {
			return illegalFor(req, kmip.ResultReasonInvalidObjectType, "revoke: a %v cannot be revoked", o.ObjectType)
		}
		to := kmip.StateDeactivated
		if r.compromise() {
			to = kmip.StateCompromised
			if o.State == kmip.StateDestroyed {
				to = kmip.StateDestroyedCompromised
			}
		}
		if err := objects.Transition(o.State, to); err != nil {
			return wrongState(req, "revoke: object %s is %v and cannot become %v", id, o.State, to)
		}
		setState(o, to)
		o.SetAttr(attr(attrRevocationReason, r.reason))
		if !r.compromise() {
			o.SetAttr(attr(attrDeactivationDate, ttlv.DateTime(0, now)))
			return nil
		}
		o.SetAttr(attr(attrCompromiseDate, ttlv.DateTime(0, now)))
		occurred := r.occurred
		if !r.hasOccurred {
			var ok bool
			if occurred, ok = lifecycleDate(o, attrInitialDate); !ok {
				occurred = o.Created
			}
		}
		o.SetAttr(attr(attrCompromiseOccurrence, ttlv.DateTime(0, occurred)))
		return nil
	})
	if err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(id), nil
}

// destroyOp answers Destroy (KMIP 1.4 §4.21, 2.0 §6.1.15): the key
// material is erased and the metadata kept, with the state moved to
// Destroyed (§3.22 transitions 2, 7) or Destroyed Compromised (9) and the
// Destroy Date set (§3.28).
//
// An Active object is refused with Permission Denied in every version: the
// OASIS vectors SKLC-M-2 and AKLC-M-2 expect it of 1.4 and of 2.0 alike
// (2.0 §6.1.15.1 would also allow Wrong Key Lifecycle State). A second
// Destroy is Permission Denied in 1.x (1.4 §11.22 "already been
// destroyed") and Object Destroyed in 2.x.
func (s *Service) destroyOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if done, err := s.tplDestroy(ctx, req, id); done || err != nil {
		if err != nil {
			return ttlv.Value{}, err
		}
		return uidPayload(id), nil
	}
	_, err = s.lifecycleUpdate(ctx, req, id, func(o *objects.Object, now time.Time) error {
		if o.Archived {
			return archivedError(id)
		}
		to := kmip.StateDestroyed
		switch o.State {
		case kmip.StateActive:
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "destroy: object %s is Active; revoke it first", id)
		case kmip.StateDestroyed, kmip.StateDestroyedCompromised:
			if req.Version.Is2x() {
				return kmip.Errorf(kmip.ResultReasonObjectDestroyed, "destroy: object %s is already destroyed", id)
			}
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "destroy: object %s is already destroyed", id)
		case kmip.StateCompromised:
			to = kmip.StateDestroyedCompromised
		case kmip.StatePreActive, kmip.StateDeactivated:
			// Destroyed (KMIP 1.4 §3.22, transitions 2 and 7).
		}
		if err := objects.Transition(o.State, to); err != nil {
			return wrongState(req, "destroy: object %s is %v", id, o.State)
		}
		// The wrapped blob is dropped, not wiped: it was never plaintext
		// (it is encrypted under the HSM master key), and bbolt may keep
		// the old page until it is reused anyway. Public material goes too:
		// §4.21 destroys the object's material, whatever its kind.
		o.Wrapped = nil
		o.Public = nil
		setState(o, to)
		o.SetAttr(attr(attrDestroyDate, ttlv.DateTime(0, now)))
		return nil
	})
	if err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(id), nil
}

// archiveOp answers Archive (KMIP 1.4 §4.22, 2.0 §6.1.4). We keep archived
// objects in the same store, marked Archived: Locate skips them unless asked
// (objects.StorageArchival) and every other operation but Recover answers
// Object Archived until they are recovered. The Archive Date is set
// (§3.32). Archiving an archived object is Object Archived (§11.23).
func (s *Service) archiveOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	_, err = s.lifecycleUpdate(ctx, req, id, func(o *objects.Object, now time.Time) error {
		if o.Archived {
			return archivedError(id)
		}
		o.Archived = true
		o.SetAttr(attr(lifecycleArchiveDate, ttlv.DateTime(0, now)))
		return nil
	})
	if err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(id), nil
}

// recoverOp answers Recover (KMIP 1.4 §4.23, 2.0 §6.1.38): the object is
// on-line again and its Archive Date deleted (§3.32: "The server SHALL
// delete this attribute whenever a Recover operation is performed").
// Recovering an on-line object succeeds without change; the only error
// 1.4 §11.24 names is Item Not Found.
func (s *Service) recoverOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	_, err = s.lifecycleUpdate(ctx, req, id, func(o *objects.Object, _ time.Time) error {
		if !o.Archived {
			return errLifecycleUnchanged
		}
		o.Archived = false
		for _, a := range o.AttrsNamed(lifecycleArchiveDate) {
			o.DeleteAttr(a.Name, a.Index)
		}
		return nil
	})
	if err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(id), nil
}

// obtainLeaseOp answers Obtain Lease (KMIP 1.4 §4.17, 2.0 §6.1.34) with
// the object's Lease Time (the longest lease the server grants, §3.20; 0
// when the object has none: "no lease interval is effective") and its
// Last Change Date. Nothing is stored: the lease lives in the client.
//
// A lease is refused (Permission Denied, the reason both versions name)
// for objects that may not be used at all: Pre-Active, Destroyed and
// Destroyed Compromised (§3.22). Deactivated and Compromised objects may
// still process protected data, so they get one.
func (s *Service) obtainLeaseOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	o, err := s.object(ctx, req, id)
	if err != nil {
		return ttlv.Value{}, err
	}
	if o.Archived {
		return ttlv.Value{}, archivedError(id)
	}
	switch o.State {
	case kmip.StateActive, kmip.StateDeactivated, kmip.StateCompromised:
	default:
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonPermissionDenied, "obtain lease: object %s is %v", id, o.State)
	}
	lease, _ := leaseTimeOf(o)
	changed, ok := lifecycleDate(o, attrLastChangeDate)
	if !ok {
		if changed, ok = lifecycleDate(o, attrInitialDate); !ok {
			changed = o.Updated
		}
	}
	return kmip.Payload(
		ttlv.Text(kmip.TagUniqueIdentifier, id),
		ttlv.Interval(kmip.TagLeaseTime, lease),
		ttlv.DateTime(kmip.TagLastChangeDate, changed),
	), nil
}
