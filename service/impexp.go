package service

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/kmipd/kmipd/acl"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds Export and Import (KMIP 2.0 §6.1.18, §6.1.24): an
// object with all its attributes, to move it from one server to another
// or to restore it.
//
// Export answers like Get (same Key Format Type, Key Wrap Type, Key
// Compression Type and Key Wrapping Specification, same Sensitive and
// Extractable refusals: crGetObject) plus every attribute, as Get
// Attributes naming none would. Unlike Get it does not clear Fresh: the
// object was copied, not put to use, and TC-IMPEXP-3 reads Fresh true
// after an Export.
//
// Import stores the object under the Unique Identifier the client chose.
// Its material goes through Register's code (crRegisterKey and friends),
// so secrets are wrapped under the HSM master key at once; then the
// attributes the request lists replace whatever Register derived, as
// §6.1.24 requires ("all attributes MUST be set to the supplied values
// rather than any server generated values"). The object belongs to the
// caller, as a registered one does.

// registerImpExpOps registers Export and Import.
func (s *Service) registerImpExpOps() {
	s.mux.HandleFunc(kmip.OperationExport, s.exportOp)
	s.mux.HandleFunc(kmip.OperationImport, s.importOp)
}

// exportOp is Export (KMIP 2.0 §6.1.18).
func (s *Service) exportOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	o, opts, err := s.crObjectToServe(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	out := []ttlv.Value{
		ttlv.Enum(kmip.TagObjectType, uint32(o.ObjectType)),
		ttlv.Text(kmip.TagUniqueIdentifier, o.ID),
		ttlv.Struct(kmip.TagAttributes, encodeAttrsFor(s.effectiveAttributes(o), req.Version)...),
	}
	// §6.1.18: "If the Managed Object has been Destroyed then the key
	// material ... SHALL not be returned": the attributes alone are.
	if o.State == kmip.StateDestroyed || o.State == kmip.StateDestroyedCompromised {
		return kmip.Payload(out...), nil
	}
	obj, err := s.crGetObject(ctx, req, o, opts.want, opts.compression, opts.asRegistered, opts.spec)
	if err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(append(out, obj)...), nil
}

// impDerived are the attributes Import does not take from the request:
// the identity ones, which follow from the Unique Identifier and Object
// Type fields and are checked against them, Key Format Type, which must
// describe the Key Block actually stored, and Protection Storage Mask,
// which says where this server keeps the object (the HSM), not where the
// exporting server kept it.
var impDerived = map[string]bool{
	attrUniqueIdentifier: true, attrShortUniqueIdentifier: true, attrObjectType: true,
	attrKeyFormatType: true, attrProtectionStorageMask: true,
}

// importRequest is a parsed Import payload.
type importRequest struct {
	id      string
	ot      kmip.ObjectType
	replace bool
	attrs   []kmip.Attribute
	obj     ttlv.Value
}

// importOp is Import (KMIP 2.0 §6.1.24).
func (s *Service) importOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	ir, err := s.parseImport(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	existing, err := s.store.Get(ctx, ir.id)
	switch {
	case errors.Is(err, objects.ErrNotFound):
		existing = nil
	case err != nil:
		return ttlv.Value{}, storeError(err, ir.id)
	case !ir.replace:
		// Table 220, Replace Existing: "If absent or false and an object
		// exists with the same Unique Identifier then an error SHALL be
		// returned" (TC-IMPEXP-3: Object Already Exists).
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonObjectAlreadyExists,
			"import: object %s already exists: set Replace Existing to replace it", ir.id)
	default:
		sub := SubjectFrom(ctx)
		dec := s.policy.Decide(sub, req.Operation, &acl.Object{ID: existing.ID, Tenant: existing.Tenant, Owner: existing.Owner})
		if !dec.Allowed {
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonPermissionDenied,
				"import: object %s exists and may not be replaced by %s", ir.id, sub.Name)
		}
	}
	o, err := s.buildImported(ctx, req, ir)
	if err != nil {
		return ttlv.Value{}, err
	}
	if existing == nil {
		if err := s.crCreateObjects(ctx, req, o); err != nil {
			return ttlv.Value{}, err
		}
		return uidPayload(o.ID), nil
	}
	_, err = s.store.Update(ctx, ir.id, func(stored *objects.Object) error {
		// fn may run more than once: each run gets its own copy.
		*stored = *o.Clone()
		return nil
	})
	if err != nil {
		return ttlv.Value{}, crStoreError(req, err, ir.id)
	}
	return uidPayload(o.ID), nil
}

// parseImport reads and checks an Import payload (Table 220).
func (s *Service) parseImport(ctx context.Context, req *kmip.Request) (importRequest, error) {
	var ir importRequest
	fields, err := crFields(req.Payload)
	if err != nil {
		return ir, err
	}
	v, ok := fields[kmip.TagUniqueIdentifier]
	if !ok || v.Type != ttlv.TypeTextString || v.Text() == "" {
		return ir, kmip.Errorf(kmip.ResultReasonInvalidMessage, "import needs the Unique Identifier of the object, as a text string")
	}
	ir.id = v.Text()
	if ir.ot, err = crObjectTypeField(fields); err != nil {
		return ir, err
	}
	if v, ok := fields[kmip.TagReplaceExisting]; ok {
		if v.Type != ttlv.TypeBoolean {
			return ir, crFieldType(v)
		}
		ir.replace = v.Bool()
	}
	if v, ok := fields[kmip.TagKeyWrapType]; ok && v.Type != ttlv.TypeEnumeration {
		// A wrapped Key Block is unwrapped and kept as registered, as in
		// Register, whichever Key Wrap Type is named.
		return ir, crFieldType(v)
	}
	tag, ok := crObjectTags[ir.ot]
	if !ok {
		return ir, crBadObjectType(req, "import: objects of type %v cannot be imported", ir.ot)
	}
	if ir.obj, ok = fields[tag]; !ok || ir.obj.Type != ttlv.TypeStructure {
		return ir, kmip.Errorf(kmip.ResultReasonInvalidField, "import of %v without a %s structure", ir.ot, kmip.TagString(tag))
	}
	if ir.attrs, err = s.crRequestAttributes(ctx, req, fields, kmip.TagTemplateAttribute, kmip.TagAttributes); err != nil {
		return ir, err
	}
	return ir, checkImportedIdentity(ir)
}

// checkImportedIdentity refuses attributes that contradict the Unique
// Identifier and Object Type fields of the request.
func checkImportedIdentity(ir importRequest) error {
	for _, a := range ir.attrs {
		switch {
		case a.Name == attrUniqueIdentifier && (a.Value.Type != ttlv.TypeTextString || a.Value.Text() != ir.id):
			return kmip.Errorf(kmip.ResultReasonInvalidField, "import: the Unique Identifier attribute differs from the request's %q", ir.id)
		case a.Name == attrObjectType && (a.Value.Type != ttlv.TypeEnumeration || kmip.ObjectType(a.Value.Enum()) != ir.ot):
			return kmip.Errorf(kmip.ResultReasonInvalidField, "import: the Object Type attribute differs from the request's %v", ir.ot)
		}
	}
	return nil
}

// buildImported makes the object an Import stores: Register's object for
// the material and the attributes a client may set, with the server-set
// attributes then replaced by the imported values.
func (s *Service) buildImported(ctx context.Context, req *kmip.Request, ir importRequest) (*objects.Object, error) {
	var settable, verbatim []kmip.Attribute
	for _, a := range ir.attrs {
		switch {
		case impDerived[a.Name]:
		case crServerSetAttrs[a.Name]:
			if err := checkValue(req, a); err != nil {
				return nil, err
			}
			verbatim = append(verbatim, a)
		default:
			settable = append(settable, a)
		}
	}
	if err := checkClientAttributes(req, ir.ot, settable, false); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	o, err := s.crNewObject(ctx, ir.ot, settable, now)
	if err != nil {
		return nil, err
	}
	o.ID = ir.id
	o.SetAttr(attr(attrUniqueIdentifier, ttlv.Text(0, ir.id)))
	switch ir.ot {
	case kmip.ObjectTypeCertificate:
		err = registerCertificate(o, ir.obj)
	case kmip.ObjectTypeOpaqueObject:
		err = s.crRegisterOpaque(ctx, o, ir.obj)
	default:
		err = s.crRegisterKey(ctx, req, o, ir.attrs, ir.obj, ir.ot)
	}
	if err != nil {
		return nil, err
	}
	return o, applyImportedAttrs(req, o, verbatim)
}

// applyImportedAttrs replaces every instance of each attribute in attrs
// with the imported instances, and takes the State from them.
func applyImportedAttrs(req *kmip.Request, o *objects.Object, attrs []kmip.Attribute) error {
	replaced := map[string]bool{}
	for _, a := range attrs {
		if !replaced[a.Name] {
			replaced[a.Name] = true
			o.Attributes = slices.DeleteFunc(o.Attributes, func(b kmip.Attribute) bool { return b.Name == a.Name })
		}
		o.AddAttr(a)
	}
	st, ok := o.Attr(attrState)
	if !ok {
		return nil
	}
	state := kmip.State(st.Value.Enum())
	switch state {
	case kmip.StatePreActive, kmip.StateActive, kmip.StateDeactivated, kmip.StateCompromised:
		o.State = state
		return nil
	case kmip.StateDestroyed, kmip.StateDestroyedCompromised:
		// A destroyed object has no material, and Import carries some.
		return crBadValue(req, "import: a %v object cannot be imported: import it in its state before Destroy", state)
	default:
		return crBadValue(req, "import: unknown state %v", state)
	}
}
