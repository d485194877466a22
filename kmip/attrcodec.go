package kmip

import (
	"strings"

	"github.com/kmipd/kmipd/ttlv"
)

// IsCustomAttributeName reports whether name is a 1.x custom attribute name
// (KMIP 1.4 §3.41: "x-" client-defined, "y-" server-defined).
func IsCustomAttributeName(name string) bool {
	return strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "y-")
}

// ParseAttribute decodes one attribute as a request carries it: a 1.x
// Attribute structure (Attribute Name, optional Attribute Index, Attribute
// Value), or a 2.x tagged item or Vendor Attribute.
func ParseAttribute(v ttlv.Value) (Attribute, error) {
	if v.Tag == TagAttribute {
		// 2.x Vendor Attribute (2.0 §4.53) and 1.x Attribute (1.4 §2.1.1)
		// share the tag; only the 2.x form has a Vendor Identification.
		if v.Has(TagVendorIdentification) {
			return parseVendorAttribute(v)
		}
		return parseAttribute1x(v)
	}
	info, ok := AttributeByTag(v.Tag)
	if !ok {
		return Attribute{}, Errorf(ResultReasonInvalidField, "%s is not an attribute", TagString(v.Tag))
	}
	return Attribute{Name: info.Name, Value: v}, nil
}

func parseAttribute1x(v ttlv.Value) (Attribute, error) {
	var a Attribute
	name, ok := v.Child(TagAttributeName)
	if !ok || name.Type != ttlv.TypeTextString {
		return a, Errorf(ResultReasonInvalidField, "attribute without attribute name")
	}
	a.Name = name.Text()
	if idx, ok := v.Child(TagAttributeIndex); ok {
		if idx.Type != ttlv.TypeInteger || idx.Int() < 0 {
			return a, Errorf(ResultReasonInvalidField, "attribute index of %q is invalid", a.Name)
		}
		a.Index = int(idx.Int())
	}
	val, ok := v.Child(TagAttributeValue)
	if !ok {
		// Delete Attribute and Get Attributes name attributes without
		// values; the caller decides whether a value is required.
		return a, nil
	}
	if IsCustomAttributeName(a.Name) {
		a.Value = val
		return a, nil
	}
	info, ok := AttributeByName(a.Name)
	if !ok {
		return a, Errorf(ResultReasonInvalidField, "unknown attribute %q", a.Name)
	}
	val.Tag = info.Tag
	a.Value = val
	return a, nil
}

func parseVendorAttribute(v ttlv.Value) (Attribute, error) {
	var a Attribute
	vid, ok1 := v.Child(TagVendorIdentification)
	name, ok2 := v.Child(TagAttributeName)
	if !ok1 || !ok2 || vid.Type != ttlv.TypeTextString || name.Type != ttlv.TypeTextString {
		return a, Errorf(ResultReasonInvalidField, "vendor attribute needs vendor identification and attribute name")
	}
	a.Name = vendorToName(vid.Text(), name.Text())
	if val, ok := v.Child(TagAttributeValue); ok {
		a.Value = val
	}
	return a, nil
}

// vendorToName maps a 2.x Vendor Attribute to the internal name: the "x"
// and "y" vendors are the 1.x custom prefixes, so attributes set in one
// version read back unchanged in the other.
func vendorToName(vendor, name string) string {
	if vendor == "x" || vendor == "y" {
		return vendor + "-" + name
	}
	return vendor + ":" + name
}

// nameToVendor is the inverse of vendorToName.
func nameToVendor(n string) (vendor, name string) {
	if IsCustomAttributeName(n) {
		return n[:1], n[2:]
	}
	if i := strings.IndexByte(n, ':'); i > 0 {
		return n[:i], n[i+1:]
	}
	return "x", n
}

// ParseAttributes decodes the attributes of a request container: a 1.x
// Template-Attribute (Attribute children; the Names of templates it may
// hold, KMIP 1.4 §2.1.8, are refused here: a caller that resolves
// templates takes them out first), or a 2.x Attributes, Common/
// Private/Public Key Attributes structure.
func ParseAttributes(container ttlv.Value) ([]Attribute, error) {
	if container.IsZero() {
		return nil, nil
	}
	children := container.Children()
	out := make([]Attribute, 0, len(children))
	for _, c := range children {
		if c.Tag == TagName && (container.Tag == TagTemplateAttribute || container.Tag == TagCommonTemplateAttribute ||
			container.Tag == TagPrivateKeyTemplateAttribute || container.Tag == TagPublicKeyTemplateAttribute) {
			return nil, Errorf(ResultReasonItemNotFound, "templates are not supported")
		}
		a, err := ParseAttribute(c)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	// 1.x multi-instance attributes without explicit indexes are numbered
	// in order of appearance.
	seen := map[string]int{}
	for i := range out {
		if out[i].Index == 0 {
			out[i].Index = seen[out[i].Name]
		}
		seen[out[i].Name] = out[i].Index + 1
	}
	return out, nil
}

// AttributeDefinedIn reports whether name is an attribute of protocol
// version ver. Custom attributes exist in every version.
func AttributeDefinedIn(name string, ver ProtocolVersion) bool {
	if IsCustomAttributeName(name) || strings.Contains(name, ":") {
		return true
	}
	info, ok := AttributeByName(name)
	if !ok {
		return false
	}
	return info.DefinedIn(ver.Major, ver.Minor)
}

// EncodeAttribute encodes a for protocol version ver: a 1.x Attribute
// structure (with Attribute Index when withIndex) or the 2.x tagged value or
// Vendor Attribute.
func EncodeAttribute(a Attribute, ver ProtocolVersion, withIndex bool) ttlv.Value {
	if ver.Is2x() {
		if info, ok := AttributeByName(a.Name); ok {
			v := a.Value
			v.Tag = info.Tag
			return v
		}
		vendor, name := nameToVendor(a.Name)
		v := a.Value
		v.Tag = TagAttributeValue
		return ttlv.Struct(TagAttribute,
			ttlv.Text(TagVendorIdentification, vendor),
			ttlv.Text(TagAttributeName, name),
			v)
	}
	v := a.Value
	v.Tag = TagAttributeValue
	if a.Name == "Digest" && ver.Less(V1_1) {
		// KMIP 1.0 §3.17: Digest is Hashing Algorithm and Digest Value;
		// its Key Format Type came in 1.1.
		v = withoutChild(v, TagKeyFormatType)
	}
	f := make([]ttlv.Value, 0, 3)
	f = append(f, ttlv.Text(TagAttributeName, a.Name))
	if withIndex {
		f = append(f, ttlv.Int(TagAttributeIndex, int32(a.Index))) //nolint:gosec // an index comes from an Integer or counts a request's items, which ttlv.Limits bounds
	}
	f = append(f, v)
	return ttlv.Struct(TagAttribute, f...)
}

// EncodeAttributes encodes the attributes defined in ver, in order: for
// 1.x as a flat list of Attribute structures (to be placed in the
// payload or a Template-Attribute), for 2.x as the items of an Attributes
// structure. Attributes the version does not define are left out (Percona's
// 1.0 client breaks on a Fresh attribute).
func EncodeAttributes(attrs []Attribute, ver ProtocolVersion, withIndex bool) []ttlv.Value {
	out := make([]ttlv.Value, 0, len(attrs))
	for _, a := range attrs {
		if !AttributeDefinedIn(a.Name, ver) {
			continue
		}
		out = append(out, EncodeAttribute(a, ver, withIndex))
	}
	return out
}

// ParseAttributeReference names the attribute an attribute reference
// identifies: in a 2.x request an Attribute Reference (an enumeration
// holding the attribute's tag, or a structure naming a vendor attribute;
// 2.0 §7.3), in a 1.x request an Attribute Name.
func ParseAttributeReference(v ttlv.Value) (string, error) {
	switch {
	case v.Tag == TagAttributeName && v.Type == ttlv.TypeTextString:
		return v.Text(), nil
	case v.Tag == TagAttributeReference && v.Type == ttlv.TypeEnumeration:
		info, ok := AttributeByTag(ttlv.Tag(v.Enum()))
		if !ok {
			return "", Errorf(ResultReasonInvalidField, "attribute reference 0x%06X is not an attribute", v.Enum())
		}
		return info.Name, nil
	case v.Tag == TagAttributeReference && v.Type == ttlv.TypeStructure:
		vid, ok1 := v.Child(TagVendorIdentification)
		name, ok2 := v.Child(TagAttributeName)
		if !ok1 || !ok2 {
			return "", Errorf(ResultReasonInvalidField, "vendor attribute reference needs vendor identification and attribute name")
		}
		return vendorToName(vid.Text(), name.Text()), nil
	}
	return "", Errorf(ResultReasonInvalidField, "%s is not an attribute reference", TagString(v.Tag))
}

// withoutChild returns structure v without its children of the given tag.
func withoutChild(v ttlv.Value, tag ttlv.Tag) ttlv.Value {
	if !v.Has(tag) {
		return v
	}
	kept := make([]ttlv.Value, 0, len(v.Children()))
	for _, c := range v.Children() {
		if c.Tag != tag {
			kept = append(kept, c)
		}
	}
	return ttlv.Struct(v.Tag, kept...)
}
