package kmip

import "github.com/kmipd/kmipd/ttlv"

// Attribute is the one internal form of a managed object's attribute, used
// by every handler whatever the protocol version of the request.
//
// KMIP 1.x carries attributes as Attribute{Attribute Name, Attribute Index,
// Attribute Value} (1.4 §2.1.1); KMIP 2.x carries them as tagged items inside
// Attributes and custom ones as Vendor Attribute (2.0 §2.1.1, §2.1.10). The
// codec in this package converts both to this form:
//
//   - Name is the spec's attribute name ("Cryptographic Algorithm"), or for a
//     custom attribute its 1.x name ("x-Vendor"); a 2.x Vendor Attribute with
//     Vendor Identification V and name N is named V-N when V is "x" or "y",
//     and "V:N" otherwise.
//   - Index is the 1.x Attribute Index (0 for the first instance).
//   - Value carries the attribute's own tag (2.x style, e.g.
//     TagCryptographicAlgorithm); custom attributes carry TagAttributeValue.
type Attribute struct {
	Name  string
	Index int
	Value ttlv.Value
}
