package service

import (
	"context"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// registerAttributeOps registers the attribute operations and Locate: KMIP
// 1.4 §4.9, §4.12-4.16; 2.0 §6.1.2, §6.1.3, §6.1.13, §6.1.20, §6.1.21,
// §6.1.27, §6.1.33, §6.1.47. Each handler is written once for every
// protocol version: requests are parsed with the kmip attribute codec and
// answers encoded for req.Version.
func (s *Service) registerAttributeOps() {
	s.mux.HandleFunc(kmip.OperationGetAttributes, s.getAttributes)
	s.mux.HandleFunc(kmip.OperationGetAttributeList, s.getAttributeList)
	s.mux.HandleFunc(kmip.OperationAddAttribute, s.addAttribute)
	s.mux.HandleFunc(kmip.OperationModifyAttribute, s.modifyAttribute)
	s.mux.HandleFunc(kmip.OperationDeleteAttribute, s.deleteAttribute)
	s.mux.HandleFunc(kmip.OperationSetAttribute, s.setAttribute)
	s.mux.HandleFunc(kmip.OperationAdjustAttribute, s.adjustAttribute)
	s.mux.HandleFunc(kmip.OperationLocate, s.locate)
}

// attrTarget loads the object an attribute operation names. An archived
// object is refused with Object Archived (KMIP 1.4 §11.13-11.17): its
// attributes are reached again after Recover.
func (s *Service) attrTarget(ctx context.Context, req *kmip.Request) (*objects.Object, error) {
	id, err := targetID(req)
	if err != nil {
		return nil, err
	}
	o, err := s.object(ctx, req, id)
	if err != nil {
		return nil, err
	}
	if o.Archived {
		return nil, kmip.Errorf(kmip.ResultReasonObjectArchived, "object %s is archived", id)
	}
	return o, nil
}

// getAttributes answers Get Attributes (KMIP 1.4 §4.12, 2.0 §6.1.20): the
// named attributes (1.x Attribute Name, 2.x Attribute Reference) in the
// order requested, every instance of each; all attributes when none is
// named. Attributes the object lacks are left out; one named twice is
// Invalid Message (§11.13).
func (s *Service) getAttributes(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	var names []string
	seen := map[string]bool{}
	for _, c := range req.Payload.Children() {
		if c.Tag != kmip.TagAttributeName && c.Tag != kmip.TagAttributeReference {
			continue
		}
		n, err := kmip.ParseAttributeReference(c)
		if err != nil {
			return ttlv.Value{}, err
		}
		if seen[n] {
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidMessage, "attribute %q is named more than once", n)
		}
		seen[n] = true
		names = append(names, n)
	}
	o, err := s.attrTarget(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	all := s.effectiveAttributes(o)
	selected := all
	if len(names) > 0 {
		byName := make(map[string][]kmip.Attribute, len(all))
		for _, a := range all {
			byName[a.Name] = append(byName[a.Name], a)
		}
		selected = make([]kmip.Attribute, 0, len(names))
		for _, n := range names {
			selected = append(selected, byName[n]...)
		}
	}
	enc := encodeAttrsFor(selected, req.Version)
	if req.Version.Is2x() {
		return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, o.ID), ttlv.Struct(kmip.TagAttributes, enc...)), nil
	}
	return kmip.Payload(append([]ttlv.Value{ttlv.Text(kmip.TagUniqueIdentifier, o.ID)}, enc...)...), nil
}

// getAttributeList answers Get Attribute List (KMIP 1.4 §4.13, 2.0
// §6.1.21): the names of the object's attributes, each once, as 1.x
// Attribute Names or 2.x Attribute References.
func (s *Service) getAttributeList(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	o, err := s.attrTarget(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	attrs := s.effectiveAttributes(o)
	out := make([]ttlv.Value, 0, len(attrs)+1)
	out = append(out, ttlv.Text(kmip.TagUniqueIdentifier, o.ID))
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		if seen[a.Name] || !shownIn(a.Name, req.Version) {
			continue
		}
		seen[a.Name] = true
		if req.Version.Is2x() {
			out = append(out, attributeReference(a.Name, req.Version))
		} else {
			out = append(out, ttlv.Text(kmip.TagAttributeName, a.Name))
		}
	}
	return kmip.Payload(out...), nil
}

// requestAttribute parses the one attribute of an Add, Modify or Set
// request: the 1.x Attribute, or the attribute inside a 2.x New Attribute
// (or Current Attribute, with tag kmip.TagCurrentAttribute).
func requestAttribute(req *kmip.Request, container ttlv.Tag) (kmip.Attribute, bool, error) {
	if req.Version.Is2x() {
		c, ok := req.Payload.Child(container)
		if !ok {
			return kmip.Attribute{}, false, nil
		}
		items := c.Children()
		if c.Type != ttlv.TypeStructure || len(items) != 1 {
			return kmip.Attribute{}, true, kmip.Errorf(kmip.ResultReasonInvalidField, "%s must hold exactly one attribute", kmip.TagString(container))
		}
		a, err := kmip.ParseAttribute(items[0])
		return a, true, err
	}
	v, ok := req.Payload.Child(kmip.TagAttribute)
	if !ok {
		return kmip.Attribute{}, false, nil
	}
	a, err := kmip.ParseAttribute(v)
	return a, true, err
}

// requestNewAttribute is the attribute an Add, Modify or Set request sets,
// refused with Invalid Field when absent or without a value.
func requestNewAttribute(req *kmip.Request) (kmip.Attribute, error) {
	a, ok, err := requestAttribute(req, kmip.TagNewAttribute)
	if err != nil {
		return a, err
	}
	if !ok {
		if req.Version.Is2x() {
			return a, kmip.Errorf(kmip.ResultReasonInvalidField, "request has no new attribute")
		}
		return a, kmip.Errorf(kmip.ResultReasonInvalidField, "request has no attribute")
	}
	if err := checkValue(req, a); err != nil {
		return a, err
	}
	return a, nil
}

// attrPayload1x is the 1.x answer of Add, Modify and Delete Attribute: the
// Unique Identifier and the attribute added, modified or deleted (KMIP 1.4
// Tables 201, 203, 205), which the OASIS vectors (SKFF-M-9..12) and
// clients such as Synology's expect.
func attrPayload1x(id string, a kmip.Attribute, ver kmip.ProtocolVersion) ttlv.Value {
	return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, id), encodeAttr1x(a, ver))
}

// addAttribute answers Add Attribute (KMIP 1.4 §4.14, 2.0 §6.1.2): a new
// instance, whose index the server assigns. A single-instance attribute
// that already has a value is refused (1.x Illegal Operation, 2.x Attribute
// Single Valued); Modify Attribute changes it.
func (s *Service) addAttribute(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	a, err := requestNewAttribute(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !req.Version.Is2x() && a.Index != 0 {
		// KMIP 1.4 §4.14: "The Attribute Index SHALL NOT be specified in
		// the request"; §11.15 Invalid Field. Index 0 is let through: it
		// is what an absent index means.
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "add attribute: the server assigns the attribute index")
	}
	if err := checkClientWritable(req, a.Name); err != nil {
		return ttlv.Value{}, err
	}
	o, err := s.attrTarget(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.checkUniqueName(ctx, req, o, a); err != nil {
		return ttlv.Value{}, err
	}
	now := s.now()
	var added kmip.Attribute
	_, err = s.store.Update(ctx, o.ID, func(o *objects.Object) error {
		if err := checkStateRules(o, a.Name, now); err != nil {
			return err
		}
		if !allowsMultipleInstances(a.Name) {
			if _, exists := o.Attr(a.Name); exists {
				return kmip.Errorf(versionReason(req, kmip.ResultReasonIllegalOperation, kmip.ResultReasonAttributeSingleValued), "attribute %q already has a value", a.Name)
			}
		}
		if err := checkInstanceLimits(req, o, a.Name); err != nil {
			return err
		}
		added = a
		added.Index = o.AddAttr(a)
		afterChange(o, a, now)
		return nil
	})
	if err != nil {
		return ttlv.Value{}, updateError(req, err, o.ID)
	}
	if req.Version.Is2x() {
		return uidPayload(o.ID), nil
	}
	return attrPayload1x(o.ID, added, req.Version), nil
}

// modifyAttribute answers Modify Attribute (KMIP 1.4 §4.15, 2.0 §6.1.33).
// 1.x names the instance by Attribute Index (default 0). 2.x names it by
// its Current Attribute value, or, without one, the attribute's only
// instance. Only existing instances change: an absent attribute is 1.x
// Invalid Field / 2.x Attribute Not Found, an absent instance 1.x Item Not
// Found / 2.x Attribute Instance Not Found.
func (s *Service) modifyAttribute(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	a, err := requestNewAttribute(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	cur, haveCur, err := requestAttribute(req, kmip.TagCurrentAttribute)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !req.Version.Is2x() {
		haveCur = false // 1.x has no Current Attribute
	}
	if haveCur && cur.Name != a.Name {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "current attribute %q and new attribute %q differ", cur.Name, a.Name)
	}
	if haveCur && cur.Value.IsZero() {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "current attribute %q has no value", cur.Name)
	}
	if err := checkClientWritable(req, a.Name); err != nil {
		return ttlv.Value{}, err
	}
	o, err := s.attrTarget(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.checkUniqueName(ctx, req, o, a); err != nil {
		return ttlv.Value{}, err
	}
	now := s.now()
	var modified kmip.Attribute
	_, err = s.store.Update(ctx, o.ID, func(o *objects.Object) error {
		insts := o.AttrsNamed(a.Name)
		if len(insts) == 0 {
			return kmip.Errorf(versionReason(req, kmip.ResultReasonInvalidField, kmip.ResultReasonAttributeNotFound), "object has no attribute %q; add it first", a.Name)
		}
		idx, found := a.Index, false
		switch {
		case !req.Version.Is2x():
			for _, in := range insts {
				found = found || in.Index == idx
			}
		case haveCur:
			for _, in := range insts {
				if attrValuesEqual(in.Value, cur.Value) {
					idx, found = in.Index, true
					break
				}
			}
		case len(insts) > 1:
			// KMIP 2.0 §6.1.33: without a Current Attribute the instance
			// cannot be determined.
			return kmip.Errorf(kmip.ResultReasonMultiValuedAttribute, "attribute %q has %d instances; name one with current attribute", a.Name, len(insts))
		default:
			idx, found = insts[0].Index, true
		}
		if !found {
			return kmip.Errorf(versionReason(req, kmip.ResultReasonItemNotFound, kmip.ResultReasonAttributeInstanceNotFound), "attribute %q has no such instance", a.Name)
		}
		if err := checkStateRules(o, a.Name, now); err != nil {
			return err
		}
		modified = a
		modified.Index = idx
		o.SetAttr(modified)
		afterChange(o, modified, now)
		return nil
	})
	if err != nil {
		return ttlv.Value{}, updateError(req, err, o.ID)
	}
	if req.Version.Is2x() {
		return uidPayload(o.ID), nil
	}
	return attrPayload1x(o.ID, modified, req.Version), nil
}

// deleteAttribute answers Delete Attribute (KMIP 1.4 §4.16, 2.0 §6.1.13).
// 1.x names the instance by Attribute Name and Attribute Index (default 0);
// 2.x by its Current Attribute value, or every instance by Attribute
// Reference. Attributes that must always have a value, and read-only ones,
// are refused (1.x Permission Denied, 2.x Attribute Read Only).
func (s *Service) deleteAttribute(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	var (
		name   string
		index  int
		cur    kmip.Attribute
		byCur  bool
		allOfs bool
	)
	if req.Version.Is2x() {
		c, ok, err := requestAttribute(req, kmip.TagCurrentAttribute)
		if err != nil {
			return ttlv.Value{}, err
		}
		switch ref, hasRef := req.Payload.Child(kmip.TagAttributeReference); {
		case ok:
			if c.Value.IsZero() {
				return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "current attribute %q has no value", c.Name)
			}
			name, cur, byCur = c.Name, c, true
		case hasRef:
			n, err := kmip.ParseAttributeReference(ref)
			if err != nil {
				return ttlv.Value{}, err
			}
			name, allOfs = n, true
		default:
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "delete attribute needs a current attribute or an attribute reference")
		}
	} else {
		// KMIP 1.4 Table 204: Attribute Name and Attribute Index in the
		// payload; some clients send an Attribute structure instead.
		if v, ok := req.Payload.Child(kmip.TagAttribute); ok {
			a, err := kmip.ParseAttribute(v)
			if err != nil {
				return ttlv.Value{}, err
			}
			name, index = a.Name, a.Index
		} else {
			n, ok := req.Payload.Child(kmip.TagAttributeName)
			if !ok || n.Type != ttlv.TypeTextString {
				return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "delete attribute needs an attribute name")
			}
			name = n.Text()
			if iv, ok := req.Payload.Child(kmip.TagAttributeIndex); ok {
				if iv.Type != ttlv.TypeInteger || iv.Int() < 0 {
					return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "attribute index of %q is invalid", name)
				}
				index = int(iv.Int())
			}
		}
	}
	if err := checkClientDeletable(req, name); err != nil {
		return ttlv.Value{}, err
	}
	o, err := s.attrTarget(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	now := s.now()
	var deleted kmip.Attribute
	_, err = s.store.Update(ctx, o.ID, func(o *objects.Object) error {
		insts := o.AttrsNamed(name)
		if len(insts) == 0 {
			return deleteNotFound(req, name)
		}
		var gone []kmip.Attribute
		for _, in := range insts {
			switch {
			case allOfs,
				byCur && attrValuesEqual(in.Value, cur.Value),
				!byCur && !allOfs && in.Index == index:
				gone = append(gone, in)
			}
		}
		if len(gone) == 0 {
			return kmip.Errorf(versionReason(req, kmip.ResultReasonItemNotFound, kmip.ResultReasonAttributeInstanceNotFound), "attribute %q has no such instance", name)
		}
		if byCur {
			gone = gone[:1] // one instance: the value named
		}
		for _, g := range gone {
			o.DeleteAttr(g.Name, g.Index)
		}
		deleted = gone[0]
		afterChange(o, kmip.Attribute{Name: name}, now)
		return nil
	})
	if err != nil {
		return ttlv.Value{}, updateError(req, err, o.ID)
	}
	if req.Version.Is2x() {
		return uidPayload(o.ID), nil
	}
	return attrPayload1x(o.ID, deleted, req.Version), nil
}

// setAttribute answers Set Attribute (KMIP 2.0 §6.1.47): it adds the
// attribute when the object has none, replaces its only instance, and
// refuses with Multi Valued Attribute when there are several.
func (s *Service) setAttribute(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	if !req.Version.Is2x() {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonOperationNotSupported, "set attribute is a KMIP 2.0 operation")
	}
	a, err := requestNewAttribute(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := checkClientWritable(req, a.Name); err != nil {
		return ttlv.Value{}, err
	}
	o, err := s.attrTarget(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.checkUniqueName(ctx, req, o, a); err != nil {
		return ttlv.Value{}, err
	}
	now := s.now()
	_, err = s.store.Update(ctx, o.ID, func(o *objects.Object) error {
		if err := setSingleInstance(req, o, a, now); err != nil {
			return err
		}
		afterChange(o, a, now)
		return nil
	})
	if err != nil {
		return ttlv.Value{}, updateError(req, err, o.ID)
	}
	return uidPayload(o.ID), nil
}

// setSingleInstance stores a as the only instance of its attribute (Set and Adjust).
func setSingleInstance(req *kmip.Request, o *objects.Object, a kmip.Attribute, now time.Time) error {
	insts := o.AttrsNamed(a.Name)
	if len(insts) > 1 {
		return kmip.Errorf(kmip.ResultReasonMultiValuedAttribute, "attribute %q has %d instances", a.Name, len(insts))
	}
	if err := checkStateRules(o, a.Name, now); err != nil {
		return err
	}
	if len(insts) == 0 {
		if err := checkInstanceLimits(req, o, a.Name); err != nil {
			return err
		}
		o.AddAttr(a)
		return nil
	}
	a.Index = insts[0].Index
	o.SetAttr(a)
	return nil
}

// adjustAttribute answers Adjust Attribute (KMIP 2.0 §6.1.3): it
// increments, decrements or negates the attribute's only instance; an
// attribute without a value counts as 0 (false for a Boolean) when its
// type is numeric, else the request fails with Item Not Found.
func (s *Service) adjustAttribute(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	if !req.Version.Is2x() {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonOperationNotSupported, "adjust attribute is a KMIP 2.0 operation")
	}
	ref, ok := req.Payload.Child(kmip.TagAttributeReference)
	if !ok {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "adjust attribute needs an attribute reference")
	}
	name, err := kmip.ParseAttributeReference(ref)
	if err != nil {
		return ttlv.Value{}, err
	}
	at, ok := req.Payload.Child(kmip.TagAdjustmentType)
	if !ok || at.Type != ttlv.TypeEnumeration {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "adjust attribute needs an adjustment type")
	}
	how := kmip.AdjustmentType(at.Enum())
	param, _ := req.Payload.Child(kmip.TagAdjustmentValue)
	if err := checkClientWritable(req, name); err != nil {
		return ttlv.Value{}, err
	}
	o, err := s.attrTarget(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	now := s.now()
	_, err = s.store.Update(ctx, o.ID, func(o *objects.Object) error {
		insts := o.AttrsNamed(name)
		var cur ttlv.Value
		switch len(insts) {
		case 0:
			z, ok := zeroValueFor(name, req.Version)
			if !ok {
				return kmip.Errorf(kmip.ResultReasonItemNotFound, "object has no attribute %q to adjust", name)
			}
			cur = z
		case 1:
			cur = insts[0].Value
		default:
			return kmip.Errorf(kmip.ResultReasonMultiValuedAttribute, "attribute %q has %d instances", name, len(insts))
		}
		v, err := adjustValue(cur, how, param)
		if err != nil {
			return err
		}
		a := kmip.Attribute{Name: name, Value: v}
		if err := setSingleInstance(req, o, a, now); err != nil {
			return err
		}
		afterChange(o, a, now)
		return nil
	})
	if err != nil {
		return ttlv.Value{}, updateError(req, err, o.ID)
	}
	return uidPayload(o.ID), nil
}
