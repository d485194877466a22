package service

import (
	"context"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds the KMIP 1.x Template managed object (KMIP 1.4 §2.2.6,
// deprecated since 1.3, gone in 2.0): a named set of client-settable
// attributes that Create, Create Key Pair, Register, Re-key, Re-key Key
// Pair and Derive Key apply to the object they make when a Template-
// Attribute names the template (§2.1.8).
//
// A Template is stored as an object without material and without State
// (§3.22 does not apply to it): its attributes are the object's own (the
// cross-reference of KMIP 1.4 Appendix B lists Templates among the objects
// most client-settable attributes apply to), so Get Attributes, Modify
// Attribute and Locate treat it like any other object, and a template
// applied later gives what it holds then.

// tplRegister registers a Template (KMIP 1.4 §4.3): the attributes of the
// Template structure and of the request's Template-Attribute (which names
// the template) become the new object's.
func (s *Service) tplRegister(ctx context.Context, req *kmip.Request, fields map[ttlv.Tag]ttlv.Value, attrs []kmip.Attribute) (ttlv.Value, error) {
	if req.Version.Is2x() {
		// KMIP 2.0 §4.2 has no Template object type.
		return ttlv.Value{}, crBadObjectType(req, "objects of type Template do not exist in KMIP %v", req.Version)
	}
	tv, ok := fields[kmip.TagTemplate]
	if !ok || tv.Type != ttlv.TypeStructure {
		// KMIP 1.4 §11.4: "Object Type does not match type of
		// cryptographic object provided": Invalid Field.
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "register of a Template without a Template structure")
	}
	content, err := kmip.ParseAttributes(tv)
	if err != nil {
		return ttlv.Value{}, err
	}
	if len(content) == 0 {
		// KMIP 1.4 Table 50: Attribute is REQUIRED in a Template.
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "register: a Template needs at least one attribute")
	}
	if _, named := crFindAttr(content, attrName); named {
		// KMIP 1.4 §11.4: "Trying to register a new Template object
		// containing a Name attribute with the Template structure":
		// Invalid Field. The name goes in the Template-Attribute.
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "register: a Template's Name goes in the Template-Attribute, not in the Template structure")
	}
	all := mergeKeyPairAttributes(attrs, content)
	if err := checkClientAttributes(req, kmip.ObjectTypeTemplate, all, false); err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCheckNamesFree(ctx, req, all); err != nil {
		return ttlv.Value{}, err
	}
	o, err := s.tplNewObject(ctx, all, s.now().UTC().Truncate(time.Second))
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCreateObjects(ctx, req, o); err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(o.ID), nil
}

// tplNewObject builds a Template object: Unique Identifier, Object Type,
// Initial Date and Last Change Date (the server-set attributes KMIP 1.4
// Appendix B applies to Templates), and the client's attributes. It has
// no State, no material and none of the attributes that describe material
// (Sensitive, Fresh, Digest...).
func (s *Service) tplNewObject(ctx context.Context, attrs []kmip.Attribute, now time.Time) (*objects.Object, error) {
	id, err := s.store.NewID(ctx)
	if err != nil {
		return nil, storeError(err, "")
	}
	sub := SubjectFrom(ctx)
	o := &objects.Object{ID: id, ObjectType: kmip.ObjectTypeTemplate, Tenant: sub.Tenant, Owner: sub.Name}
	o.Attributes = make([]kmip.Attribute, 0, len(attrs)+4)
	o.SetAttr(attr(attrUniqueIdentifier, ttlv.Text(0, id)))
	o.SetAttr(attr(attrObjectType, ttlv.Enum(0, uint32(kmip.ObjectTypeTemplate))))
	for _, a := range attrs {
		if a.Name != attrObjectType {
			o.Attributes = append(o.Attributes, a)
		}
	}
	o.SetAttr(attr(attrInitialDate, ttlv.DateTime(0, now)))
	o.SetAttr(attr(attrLastChangeDate, ttlv.DateTime(0, now)))
	return o, nil
}

// tplContent is what a template gives the objects made with it: its
// client-settable attributes, without its own Name (a Name is unique to
// one object, KMIP 1.4 §3.2) and without what the server set on the
// template itself.
func tplContent(o *objects.Object) []kmip.Attribute {
	out := make([]kmip.Attribute, 0, len(o.Attributes))
	for _, a := range o.Attributes {
		if a.Name == attrName || a.Name == attrObjectType || crServerSetAttrs[a.Name] {
			continue
		}
		out = append(out, a)
	}
	return out
}

// tplGetObject is the Template structure Get returns (KMIP 1.4 §2.2.6,
// Table 50): the attributes the template applies, as 1.x Attribute
// structures.
func tplGetObject(req *kmip.Request, o *objects.Object, formatAsked bool) (ttlv.Value, error) {
	if req.Version.Is2x() {
		return ttlv.Value{}, crBadObjectType(req, "object %s is a Template, which KMIP %v does not define", o.ID, req.Version)
	}
	if formatAsked {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "object %s is a Template: it has no key to format or wrap", o.ID)
	}
	return ttlv.Struct(kmip.TagTemplate, kmip.EncodeAttributes(tplContent(o), req.Version, false)...), nil
}

// tplSplitNames separates the Names of a 1.x Template-Attribute (references
// to templates, KMIP 1.4 §2.1.8) from its Attributes.
func tplSplitNames(c ttlv.Value) (rest ttlv.Value, names []ttlv.Value) {
	children := c.Children()
	kept := make([]ttlv.Value, 0, len(children))
	for _, ch := range children {
		if ch.Tag == kmip.TagName {
			names = append(names, ch)
			continue
		}
		kept = append(kept, ch)
	}
	if names == nil {
		return c, nil
	}
	return ttlv.Struct(c.Tag, kept...), names
}

// tplApply merges the templates a Template-Attribute names into its
// attributes, as KMIP 1.4 §4 says: between templates the last one wins for
// a single-instance attribute, the request's own attributes win over every
// template, and multi-instance attributes are the union.
func (s *Service) tplApply(ctx context.Context, req *kmip.Request, names []ttlv.Value, own []kmip.Attribute) ([]kmip.Attribute, error) {
	var merged []kmip.Attribute
	for _, n := range names {
		o, err := s.tplFind(ctx, req, n)
		if err != nil {
			return nil, err
		}
		merged = mergeKeyPairAttributes(merged, tplContent(o))
	}
	return tplUnion(mergeKeyPairAttributes(merged, own)), nil
}

// tplUnion drops the repeated values of a multi-instance attribute that
// both a template and the request (or two templates) gave: the union of
// KMIP 1.4 §4 has each value once.
func tplUnion(attrs []kmip.Attribute) []kmip.Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		dup := false
		for _, b := range out {
			if b.Name == a.Name && ttlv.Equal(b.Value, a.Value) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	next := map[string]int{}
	for i := range out {
		out[i].Index = next[out[i].Name]
		next[out[i].Name]++
	}
	return out
}

// tplFind loads the template a Name structure of a Template-Attribute
// names, in the caller's tenant, checking the caller may use it for this
// operation (KMIP 1.4 Table 94: "Create ... using a Template-Attribute").
func (s *Service) tplFind(ctx context.Context, req *kmip.Request, name ttlv.Value) (*objects.Object, error) {
	nv, ok := name.Child(kmip.TagNameValue)
	if name.Type != ttlv.TypeStructure || !ok || nv.Type != ttlv.TypeTextString || nv.Text() == "" {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "a template reference needs a Name Value")
	}
	tenant := SubjectFrom(ctx).Tenant
	ids, err := s.store.Locate(ctx, objects.Query{
		Filters:     []objects.Filter{objects.Equals(attrName, ttlv.Text(kmip.TagNameValue, nv.Text()))},
		ObjectTypes: []kmip.ObjectType{kmip.ObjectTypeTemplate},
		Tenant:      tenant,
		Storage:     objects.StorageOnLine | objects.StorageArchival,
	})
	if err != nil {
		return nil, storeError(err, "")
	}
	for _, id := range ids {
		o, err := s.object(ctx, req, id)
		if err != nil || o.Tenant != tenant {
			continue // an empty Query tenant matches every tenant
		}
		if o.Archived {
			// KMIP 1.4 §11.1-11.6: "Template object is archived".
			return nil, kmip.Errorf(kmip.ResultReasonObjectArchived, "template %q is archived: recover it first", nv.Text())
		}
		return o, nil
	}
	// KMIP 1.4 §11.1-11.6: "Templates that do not exist are given in
	// request": Item Not Found.
	return nil, kmip.Errorf(kmip.ResultReasonItemNotFound, "template %q not found: register it first (or give the attributes themselves)", nv.Text())
}

// tplDestroy destroys id if it is a Template, reporting whether it was
// one. A Template has neither State nor Destroy Date (KMIP 1.4 Appendix B)
// and nothing but attributes to destroy (§4.21), so its record is deleted:
// its Name is free again, and a later Template-Attribute naming it finds
// nothing (Item Not Found).
func (s *Service) tplDestroy(ctx context.Context, req *kmip.Request, id string) (bool, error) {
	o, err := s.sharedObject(ctx, req, id)
	if err != nil {
		return false, err
	}
	if o.ObjectType != kmip.ObjectTypeTemplate {
		return false, nil
	}
	if o.Archived {
		return true, archivedError(id)
	}
	if err := s.store.Delete(ctx, id); err != nil {
		return true, storeError(err, id)
	}
	return true, nil
}
