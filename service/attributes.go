package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds the attribute model the attribute operations share: the
// attributes an object shows a client (stored ones plus those kept in the
// Object's own fields), their encoding for a protocol version, and the
// rules deciding what a client may add, change or delete (KMIP 1.4 §3, the
// "Attribute Rules" tables; 2.0 §4), with the Result Reason each version
// names for a refusal (KMIP 1.4 §11.13-11.17; 2.0 §6.1.x.1).

// Server limits on attribute instances. KMIP 1.4 §11.15 names Index Out of
// Bounds (2.0: Server Limit Exceeded) for an Add beyond the server's limit;
// without one a client could grow a record until every read of it is slow.
const (
	maxAttributeInstances = 256  // instances of one attribute
	maxObjectAttributes   = 4096 // attribute instances of one object
)

// attrKind is what a name denotes.
type attrKind int

const (
	attrUnknown attrKind = iota
	attrStandard
	attrClientCustom // "x-..." or a 2.x Vendor Attribute of another vendor than "y"
	attrServerCustom // "y-...": KMIP 1.4 §3.39, never set by a client
)

// classifyAttr tells standard, client custom and server custom attributes
// apart. A 2.x Vendor Attribute of vendor V is named "V:name" (kmip.Attribute),
// which belongs to the client unless V is "y".
func classifyAttr(name string) (attrKind, kmip.AttributeInfo) {
	if info, ok := kmip.AttributeByName(name); ok {
		return attrStandard, info
	}
	switch {
	case len(name) > 2 && name[:2] == "y-":
		return attrServerCustom, kmip.AttributeInfo{}
	case kmip.IsCustomAttributeName(name) || isVendorAttrName(name):
		return attrClientCustom, kmip.AttributeInfo{}
	}
	return attrUnknown, kmip.AttributeInfo{}
}

// isVendorAttrName reports whether name is the internal name of a 2.x
// Vendor Attribute of a vendor other than "x" and "y" ("vendor:name").
func isVendorAttrName(name string) bool {
	if kmip.IsCustomAttributeName(name) {
		return false // "x-a:b" is a 1.x custom name
	}
	for i := 0; i < len(name); i++ {
		if name[i] == ':' {
			return i > 0
		}
	}
	return false
}

// allowsMultipleInstances reports whether an attribute may have several
// instances. Custom attributes may (KMIP 1.4 Table 138; 2.0 Vendor
// Attribute).
func allowsMultipleInstances(name string) bool {
	kind, info := classifyAttr(name)
	return kind == attrClientCustom || kind == attrServerCustom || info.MultiInstance
}

// versionReason picks the Result Reason of the request's major version: 2.0
// replaced several 1.x reasons (Illegal Operation and Index Out of Bounds
// exist only up to 1.4) with more specific ones.
func versionReason(req *kmip.Request, r1x, r2x kmip.ResultReason) kmip.ResultReason {
	if req.Version.Is2x() {
		return r2x
	}
	return r1x
}

// readOnlyError refuses a change to an attribute the client may not write:
// KMIP 1.4 §11.15-11.17 Permission Denied; 2.0 names it Read Only Attribute
// for Add, Set and Adjust (§6.1.2.1, §6.1.47.1, §6.1.3.1) and Attribute
// Read Only for Modify and Delete (§6.1.33.1, §6.1.13.1).
func readOnlyError(req *kmip.Request, name string) error {
	r2 := kmip.ResultReasonReadOnlyAttribute
	if req.Operation == kmip.OperationModifyAttribute || req.Operation == kmip.OperationDeleteAttribute {
		r2 = kmip.ResultReasonAttributeReadOnly
	}
	return kmip.Errorf(versionReason(req, kmip.ResultReasonPermissionDenied, r2), "attribute %q is read-only", name)
}

// checkClientWritable refuses names a client may not add or modify: server
// attributes, attributes of another protocol version, and unknown names.
func checkClientWritable(req *kmip.Request, name string) error {
	kind, info := classifyAttr(name)
	switch kind {
	case attrServerCustom:
		// KMIP 1.4 §3.39: "The server SHALL NOT accept a client-created or
		// modified attribute, where the name of the attribute has a
		// prefix of y-".
		return readOnlyError(req, name)
	case attrClientCustom:
		return nil
	case attrUnknown:
		return kmip.Errorf(versionReason(req, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttribute), "unknown attribute %q", name)
	case attrStandard:
		// Checked below against the attribute's rules.
	}
	if !info.DefinedIn(req.Version.Major, req.Version.Minor) {
		return kmip.Errorf(versionReason(req, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttribute), "%q is not an attribute of KMIP %s", name, req.Version)
	}
	if !info.ClientModifiable {
		return readOnlyError(req, name)
	}
	return nil
}

// checkClientDeletable refuses deleting attributes that are read-only or
// always required (KMIP 1.4 §4.16 and §11.17: Permission Denied).
func checkClientDeletable(req *kmip.Request, name string) error {
	kind, info := classifyAttr(name)
	switch kind {
	case attrServerCustom:
		return readOnlyError(req, name)
	case attrClientCustom:
		return nil
	case attrUnknown:
		// Not an attribute we could hold: nothing to delete.
		return deleteNotFound(req, name)
	case attrStandard:
		// Checked below against the attribute's rules.
	}
	if !info.ClientDeletable || info.AlwaysPresent {
		return readOnlyError(req, name)
	}
	return nil
}

func deleteNotFound(req *kmip.Request, name string) error {
	return kmip.Errorf(versionReason(req, kmip.ResultReasonItemNotFound, kmip.ResultReasonAttributeNotFound), "object has no attribute %q", name)
}

// checkStateRules applies the conditions the Attribute Rules tables put on
// "Modifiable by client" for the dates that drive the lifecycle (KMIP 1.4
// §3.24-3.27): Activation Date only while Pre-Active; Deactivation Date
// only while Pre-Active or Active; Process Start and Protect Stop Date only
// while Pre-Active or Active and before the date currently set is reached.
// The OASIS vectors (SKLC-M-3, AKLC-M-3 in 1.4 and 2.0) expect Permission
// Denied for a change refused by these rules, in both major versions.
func checkStateRules(o *objects.Object, name string, now time.Time) error {
	preOrActive := o.State == kmip.StatePreActive || o.State == kmip.StateActive
	switch name {
	case attrActivationDate:
		if o.State != kmip.StatePreActive {
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "activation date can only change while the object is pre-active (it is %v)", o.State)
		}
	case attrDeactivationDate:
		if !preOrActive {
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "deactivation date can only change while the object is pre-active or active (it is %v)", o.State)
		}
	case attrProcessStartDate, attrProtectStopDate:
		if !preOrActive {
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "%s can only change while the object is pre-active or active (it is %v)", name, o.State)
		}
		if cur, ok := o.Attr(name); ok && isDateValue(cur.Value) && !cur.Value.Time().After(now) {
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "%s has been reached and can no longer change", name)
		}
	}
	return nil
}

func isDateValue(v ttlv.Value) bool {
	return v.Type == ttlv.TypeDateTime || v.Type == ttlv.TypeDateTimeExtended
}

// checkValue checks that a standard attribute's value has the item type
// the specification gives it, so that a malformed value is refused with
// Invalid Field (2.0: Invalid Attribute Value) instead of being stored and
// served back. Custom attributes may be of any type (KMIP 1.4 Table 137).
func checkValue(req *kmip.Request, a kmip.Attribute) error {
	bad := func(format string, args ...any) error {
		return kmip.Errorf(versionReason(req, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue), format, args...)
	}
	if a.Value.IsZero() {
		return bad("attribute %q has no value", a.Name)
	}
	kind, info := classifyAttr(a.Name)
	if kind != attrStandard {
		return nil
	}
	ti, ok := kmip.LookupTag(info.Tag)
	if !ok {
		return nil
	}
	want := ti.Type1x
	if req.Version.Is2x() || want == 0 {
		want = ti.Type2x
	}
	switch {
	case want == 0:
	case want == ttlv.TypeDateTime && isDateValue(a.Value):
	case a.Value.Type != want:
		return bad("attribute %q must be a %s", a.Name, itemTypeName(want))
	}
	switch a.Name {
	case attrName:
		if nv, ok := a.Value.Child(kmip.TagNameValue); !ok || nv.Type != ttlv.TypeTextString {
			return bad("name needs a name value")
		}
	case attrLink:
		// 2.x lets the Linked Object Identifier be a Text String, an
		// Enumeration or an Integer (KMIP 2.0 §4.31), so only presence
		// is checked.
		lt, ok := a.Value.Child(kmip.TagLinkType)
		if !ok || lt.Type != ttlv.TypeEnumeration || !a.Value.Has(kmip.TagLinkedObjectIdentifier) {
			return bad("link needs a link type and a linked object identifier")
		}
	}
	return nil
}

func itemTypeName(t ttlv.Type) string {
	switch t {
	case ttlv.TypeStructure:
		return "structure"
	case ttlv.TypeInteger:
		return "integer"
	case ttlv.TypeLongInteger:
		return "long integer"
	case ttlv.TypeBigInteger:
		return "big integer"
	case ttlv.TypeEnumeration:
		return "enumeration"
	case ttlv.TypeBoolean:
		return "boolean"
	case ttlv.TypeTextString:
		return "text string"
	case ttlv.TypeByteString:
		return "byte string"
	case ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		return "date-time"
	case ttlv.TypeInterval:
		return "interval"
	}
	return fmt.Sprintf("type 0x%02X", uint8(t))
}

// effectiveAttributes is every attribute of o as a client sees it, in a
// stable order: Unique Identifier and Object Type first, then the stored
// attributes in the order they were set. Unique Identifier, Object Type and
// State come from the Object's own fields, which are authoritative (State
// includes the date-driven changes Service.object applied); Key Format Type
// (an attribute from KMIP 2.0 on, §4.26) comes from Object.KeyFormat unless
// stored. The result may hold attributes the request's version does not
// define; encoding drops them.
func (s *Service) effectiveAttributes(o *objects.Object) []kmip.Attribute {
	out := effectiveAttributes(o)
	// Protection Storage Mask (KMIP 2.0 §4.44) "SHALL always have a
	// value": where the server keeps the object, which is the HSM's kind.
	if _, ok := o.Attr(attrProtectionStorageMask); !ok {
		out = append(out, attr(attrProtectionStorageMask, ttlv.Int(0, int32(s.storageMask)))) //nolint:gosec // a mask of KMIP 2.0 §12.2 bits, all below 2^31
	}
	return out
}

const attrProtectionStorageMask = "Protection Storage Mask"

// effectiveAttributes is what a client sees of o's attributes, before the
// service-wide derived ones.
func effectiveAttributes(o *objects.Object) []kmip.Attribute {
	out := make([]kmip.Attribute, 0, len(o.Attributes)+4)
	// Short Unique Identifier (KMIP 2.0 §4.52) "SHALL always have a
	// value": the SHA-256 of the Unique Identifier, derived rather than
	// stored. 1.x responses leave it out (EncodeAttributes filters by
	// version).
	short := sha256.Sum256([]byte(o.ID))
	out = append(out,
		attr(attrUniqueIdentifier, ttlv.Text(0, o.ID)),
		attr(attrShortUniqueIdentifier, ttlv.Bytes(0, short[:])),
		attr(attrObjectType, ttlv.Enum(0, uint32(o.ObjectType))),
	)
	var haveState, haveFormat bool
	for _, a := range o.Attributes {
		switch a.Name {
		case attrUniqueIdentifier, attrShortUniqueIdentifier, attrObjectType:
			continue
		case attrState:
			if haveState {
				continue
			}
			haveState = true
			a = attr(attrState, ttlv.Enum(0, uint32(o.State)))
		case attrKeyFormatType:
			haveFormat = true
		}
		out = append(out, a)
	}
	if !haveState && o.State != 0 {
		out = append(out, attr(attrState, ttlv.Enum(0, uint32(o.State))))
	}
	if !haveFormat && o.KeyFormat != 0 {
		out = append(out, attr(attrKeyFormatType, ttlv.Enum(0, o.KeyFormat)))
	}
	return out
}

// attrShortUniqueIdentifier is derived from the Unique Identifier.
const attrShortUniqueIdentifier = "Short Unique Identifier"

// attrKeyFormatType is the 2.x attribute kept in Object.KeyFormat.
const attrKeyFormatType = "Key Format Type"

// encodeAttr1x encodes a as a 1.x Attribute structure, with Attribute Index
// only when it is not 0: KMIP 1.4 §4.14-4.16 let the server omit index 0,
// and the OASIS 1.x vectors show it only on later instances.
func encodeAttr1x(a kmip.Attribute, ver kmip.ProtocolVersion) ttlv.Value {
	return kmip.EncodeAttribute(a, ver, a.Index > 0)
}

// shownIn reports whether a client of version ver may see the attribute:
// never one its version does not define (KMIP 1.4 §11.1; Percona's 1.0
// client breaks on Fresh), and for 1.x no 2.x Vendor Attribute of a vendor
// other than "x" and "y", whose name 1.x cannot spell (1.4 §3.39: custom
// names start with "x-" or "y-").
func shownIn(name string, ver kmip.ProtocolVersion) bool {
	if !ver.Is2x() && isVendorAttrName(name) {
		return false
	}
	return kmip.AttributeDefinedIn(name, ver)
}

// encodeAttrsFor encodes the attributes of attrs a client of version ver
// may see (shownIn): 1.x Attribute structures to place in a payload, or
// the items of a 2.x Attributes structure.
func encodeAttrsFor(attrs []kmip.Attribute, ver kmip.ProtocolVersion) []ttlv.Value {
	out := make([]ttlv.Value, 0, len(attrs))
	for _, a := range attrs {
		if !shownIn(a.Name, ver) {
			continue
		}
		if ver.Is2x() {
			out = append(out, kmip.EncodeAttribute(a, ver, false))
		} else {
			out = append(out, encodeAttr1x(a, ver))
		}
	}
	return out
}

// attributeReference encodes a 2.x Attribute Reference for name (KMIP 2.0
// §7.3): the attribute's tag as an Enumeration, or for a vendor attribute a
// structure of Vendor Identification and Attribute Name.
func attributeReference(name string, ver kmip.ProtocolVersion) ttlv.Value {
	if info, ok := kmip.AttributeByName(name); ok {
		return ttlv.Enum(kmip.TagAttributeReference, uint32(info.Tag))
	}
	// Let the codec split the name into vendor and attribute name, so the
	// reference names the attribute exactly as Get Attributes shows it.
	enc := kmip.EncodeAttribute(kmip.Attribute{Name: name, Value: ttlv.Text(0, "")}, ver, false)
	vid, _ := enc.Child(kmip.TagVendorIdentification)
	an, _ := enc.Child(kmip.TagAttributeName)
	return ttlv.Struct(kmip.TagAttributeReference, vid, an)
}

// attrValuesEqual compares two values of one attribute. The top-level tag
// is left out: it depends on the protocol version the value came in.
func attrValuesEqual(a, b ttlv.Value) bool {
	a.Tag, b.Tag = 0, 0
	return ttlv.Equal(a, b)
}

// nameValueOf is the Name Value of a Name attribute.
func nameValueOf(v ttlv.Value) (string, bool) {
	nv, ok := v.Child(kmip.TagNameValue)
	if !ok || nv.Type != ttlv.TypeTextString {
		return "", false
	}
	return nv.Text(), true
}

// nameTaken reports whether another object of tenant than selfID has the
// name. KMIP 1.4 §3.2: a Name "SHALL be unique within a given key
// management domain", our domain being the tenant; §11.15/§11.16 refuse a
// duplicate with Illegal Operation (2.0: Non Unique Name Attribute).
// Destroyed objects keep their metadata but no longer hold the name. This
// is the early check, with a clear answer; the store checks again in the
// transaction that writes (objects.ErrNameTaken, mapped by updateError),
// which is what keeps two concurrent requests from giving one name to two
// objects.
func (s *Service) nameTaken(ctx context.Context, tenant, name, selfID string) (bool, error) {
	q := objects.Query{
		Filters: []objects.Filter{objects.Equals(attrName, ttlv.Text(0, name))},
		Tenant:  tenant,
		Storage: objects.StorageOnLine | objects.StorageArchival,
	}
	if tenant != "" {
		q.MaxItems = 2 // the object itself and one other are enough to tell
	}
	ids, err := s.store.Locate(ctx, q)
	if err != nil {
		return false, fmt.Errorf("check name: %w", err)
	}
	for _, id := range ids {
		if id == selfID {
			continue
		}
		if tenant != "" {
			return true, nil
		}
		// An empty tenant in a Query matches every tenant: look.
		o, err := s.store.Get(ctx, id)
		if err != nil {
			if errors.Is(err, objects.ErrNotFound) {
				continue
			}
			return false, fmt.Errorf("check name: %w", err)
		}
		if o.Tenant == "" {
			return true, nil
		}
	}
	return false, nil
}

// checkUniqueName refuses a Name value another object already has.
func (s *Service) checkUniqueName(ctx context.Context, req *kmip.Request, o *objects.Object, a kmip.Attribute) error {
	if a.Name != attrName {
		return nil
	}
	n, ok := nameValueOf(a.Value)
	if !ok {
		return nil
	}
	taken, err := s.nameTaken(ctx, o.Tenant, n, o.ID)
	if err != nil {
		return err
	}
	if taken {
		return nameTakenError(req, n)
	}
	return nil
}

// nameTakenError refuses adding or setting a Name another object has:
// KMIP 1.4 §11.15/§11.16 Illegal Operation, 2.0 Non Unique Name Attribute.
func nameTakenError(req *kmip.Request, name string) error {
	return kmip.Errorf(versionReason(req, kmip.ResultReasonIllegalOperation, kmip.ResultReasonNonUniqueNameAttribute), "name %q is used by another object", name)
}

// afterChange keeps the server-maintained attributes consistent after the
// client changed a: KMIP 1.4 §3.49 Always Sensitive becomes false once
// Sensitive has been false, §3.51 Never Extractable false once Extractable
// has been true; the object moves on if a date now due drives its state
// (§3.22); and Last Change Date is set (§3.38).
func afterChange(o *objects.Object, a kmip.Attribute, now time.Time) {
	switch {
	case a.Name == attrSensitive && a.Value.Type == ttlv.TypeBoolean && !a.Value.Bool():
		if cur, ok := o.Attr(attrAlwaysSensitive); ok && cur.Value.Bool() {
			o.SetAttr(attr(attrAlwaysSensitive, ttlv.Bool(0, false)))
		}
	case a.Name == attrExtractable && a.Value.Type == ttlv.TypeBoolean && a.Value.Bool():
		if cur, ok := o.Attr(attrNeverExtractable); ok && cur.Value.Bool() {
			o.SetAttr(attr(attrNeverExtractable, ttlv.Bool(0, false)))
		}
	}
	objects.ApplyDates(o, now)
	touch(o, now)
}

// instanceLimitError refuses an instance beyond the server's limits.
func instanceLimitError(req *kmip.Request, name string) error {
	return kmip.Errorf(versionReason(req, kmip.ResultReasonIndexOutOfBounds, kmip.ResultReasonServerLimitExceeded), "too many instances of attribute %q", name)
}

// checkInstanceLimits refuses adding one more instance of name to o.
func checkInstanceLimits(req *kmip.Request, o *objects.Object, name string) error {
	if len(o.Attributes) >= maxObjectAttributes {
		return instanceLimitError(req, name)
	}
	n := 0
	for _, a := range o.Attributes {
		if a.Name == name {
			n++
		}
	}
	if n >= maxAttributeInstances {
		return instanceLimitError(req, name)
	}
	return nil
}

// updateError maps what an attribute change's Update returned: the
// handler's own *kmip.Error, a value the store cannot keep (Invalid Field),
// or a store failure.
func updateError(req *kmip.Request, err error, id string) error {
	var taken *objects.NameTakenError
	if errors.As(err, &taken) {
		// Taken meanwhile: answered as checkUniqueName does.
		return nameTakenError(req, taken.Name)
	}
	if errors.Is(err, objects.ErrInvalidObject) {
		return kmip.Errorf(versionReason(req, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue), "object %s: attribute value cannot be stored", id)
	}
	return storeError(err, id)
}

// adjustValue applies a 2.x Adjust Attribute (KMIP 2.0 §6.1.3, Table 390)
// to cur: Increment and Decrement add or subtract param (default 1, one
// second for a Date-Time, one microsecond for a Date-Time Extended) to an
// Integer, Long Integer, Big Integer, Interval or date; Negate negates a
// number or a Boolean. Results out of the type's range fail with Numeric
// Range.
func adjustValue(cur ttlv.Value, how kmip.AdjustmentType, param ttlv.Value) (ttlv.Value, error) {
	invalidType := func() error {
		return kmip.Errorf(kmip.ResultReasonInvalidDataType, "%v cannot be applied to a %s", how, itemTypeName(cur.Type))
	}
	if how == kmip.AdjustmentTypeNegate {
		switch cur.Type {
		case ttlv.TypeBoolean:
			return ttlv.Bool(cur.Tag, !cur.Bool()), nil
		case ttlv.TypeInteger, ttlv.TypeLongInteger, ttlv.TypeBigInteger:
			return adjustFromBig(cur, new(big.Int).Neg(adjustToBig(cur)))
		default:
			return ttlv.Value{}, invalidType()
		}
	}
	if how != kmip.AdjustmentTypeIncrement && how != kmip.AdjustmentTypeDecrement {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "unknown adjustment type %v", how)
	}
	switch cur.Type {
	case ttlv.TypeInteger, ttlv.TypeLongInteger, ttlv.TypeBigInteger, ttlv.TypeInterval, ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
	default:
		return ttlv.Value{}, invalidType()
	}
	delta := big.NewInt(1)
	if !param.IsZero() {
		switch param.Type {
		case ttlv.TypeInteger, ttlv.TypeLongInteger, ttlv.TypeBigInteger, ttlv.TypeInterval:
			delta = adjustToBig(param)
		default:
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidDataType, "adjustment value must be a number or an interval")
		}
	}
	if how == kmip.AdjustmentTypeDecrement {
		delta.Neg(delta)
	}
	return adjustFromBig(cur, delta.Add(delta, adjustToBig(cur)))
}

// adjustToBig returns a numeric or date value as an integer (seconds for a
// Date-Time, microseconds for a Date-Time Extended).
func adjustToBig(v ttlv.Value) *big.Int {
	switch v.Type {
	case ttlv.TypeInteger:
		return big.NewInt(int64(v.Int()))
	case ttlv.TypeLongInteger, ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		return big.NewInt(v.Long())
	case ttlv.TypeInterval:
		return new(big.Int).SetUint64(uint64(v.Interval()))
	case ttlv.TypeBigInteger:
		return v.BigInt()
	default:
		return new(big.Int)
	}
}

// maxBigIntBytes bounds an adjusted Big Integer, so repeated adjustments
// cannot grow a value without limit.
const maxBigIntBytes = 1024

// adjustFromBig builds a value of like's tag and type holding x, or fails with
// Numeric Range when x does not fit the type.
func adjustFromBig(like ttlv.Value, x *big.Int) (ttlv.Value, error) {
	outOfRange := kmip.Errorf(kmip.ResultReasonNumericRange, "adjusted value is out of range for a %s", itemTypeName(like.Type))
	switch like.Type {
	case ttlv.TypeInteger:
		if !x.IsInt64() {
			return ttlv.Value{}, outOfRange
		}
		n := x.Int64()
		if n < math.MinInt32 || n > math.MaxInt32 {
			return ttlv.Value{}, outOfRange
		}
		return ttlv.Int(like.Tag, int32(n)), nil
	case ttlv.TypeLongInteger:
		if !x.IsInt64() {
			return ttlv.Value{}, outOfRange
		}
		return ttlv.Long(like.Tag, x.Int64()), nil
	case ttlv.TypeInterval:
		if !x.IsUint64() {
			return ttlv.Value{}, outOfRange
		}
		n := x.Uint64()
		if n > math.MaxUint32 {
			return ttlv.Value{}, outOfRange
		}
		return ttlv.Interval(like.Tag, uint32(n)), nil
	case ttlv.TypeDateTime:
		if !x.IsInt64() || x.Int64() < 0 {
			return ttlv.Value{}, outOfRange
		}
		return ttlv.DateTime(like.Tag, time.Unix(x.Int64(), 0)), nil
	case ttlv.TypeDateTimeExtended:
		if !x.IsInt64() || x.Int64() < 0 {
			return ttlv.Value{}, outOfRange
		}
		return ttlv.DateTimeExtended(like.Tag, time.UnixMicro(x.Int64())), nil
	case ttlv.TypeBigInteger:
		v := ttlv.BigInt(like.Tag, x)
		if len(v.Bytes()) > maxBigIntBytes {
			return ttlv.Value{}, outOfRange
		}
		return v, nil
	default:
		return ttlv.Value{}, outOfRange
	}
}

// zeroValueFor is the value KMIP 2.0 §6.1.3 assumes for an attribute
// without one: 0 for numbers and intervals, false for a Boolean. Other
// types (and custom attributes, whose type is unknown) have none.
func zeroValueFor(name string, ver kmip.ProtocolVersion) (ttlv.Value, bool) {
	info, ok := kmip.AttributeByName(name)
	if !ok {
		return ttlv.Value{}, false
	}
	ti, ok := kmip.LookupTag(info.Tag)
	if !ok {
		return ttlv.Value{}, false
	}
	t := ti.Type2x
	if !ver.Is2x() || t == 0 {
		t = ti.Type1x
	}
	switch t {
	case ttlv.TypeInteger:
		return ttlv.Int(info.Tag, 0), true
	case ttlv.TypeLongInteger:
		return ttlv.Long(info.Tag, 0), true
	case ttlv.TypeBigInteger:
		return ttlv.BigInt(info.Tag, new(big.Int)), true
	case ttlv.TypeInterval:
		return ttlv.Interval(info.Tag, 0), true
	case ttlv.TypeBoolean:
		return ttlv.Bool(info.Tag, false), true
	default:
		return ttlv.Value{}, false
	}
}
