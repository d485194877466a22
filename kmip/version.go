package kmip

import "fmt"

// ProtocolVersion is a KMIP protocol version (KMIP 1.4 §6.1, 2.0 §9.16).
type ProtocolVersion struct {
	Major, Minor int32
}

// SupportedVersions lists the versions the server speaks, newest first.
// Discover Versions answers from this list (KMIP 1.4 §4.26: "in order of
// preference, highest first").
var SupportedVersions = []ProtocolVersion{
	{2, 1}, {2, 0}, {1, 4}, {1, 3}, {1, 2}, {1, 1}, {1, 0},
}

// Common versions, for readability at call sites.
var (
	V1_0 = ProtocolVersion{1, 0}
	V1_1 = ProtocolVersion{1, 1}
	V1_2 = ProtocolVersion{1, 2}
	V1_3 = ProtocolVersion{1, 3}
	V1_4 = ProtocolVersion{1, 4}
	V2_0 = ProtocolVersion{2, 0}
	V2_1 = ProtocolVersion{2, 1}
)

func (v ProtocolVersion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less reports whether v is older than w.
func (v ProtocolVersion) Less(w ProtocolVersion) bool {
	return v.Major < w.Major || (v.Major == w.Major && v.Minor < w.Minor)
}

// AtLeast reports whether v is w or newer.
func (v ProtocolVersion) AtLeast(w ProtocolVersion) bool { return !v.Less(w) }

// Is2x reports whether v uses the KMIP 2.x encodings (Attributes instead of
// Template-Attribute, Attribute Reference, Vendor Attribute, ...).
func (v ProtocolVersion) Is2x() bool { return v.Major >= 2 }

// Negotiate maps a client's requested version onto one the server speaks.
//
// KMIP 1.4 §11.1 (Table 327): a request with the same major version and a
// different minor version is processed, ignoring fields the server does not
// understand; so a higher minor version than we know is answered in our
// highest minor version of that major, never rejected. A major version we do
// not speak at all is a "protocol major version mismatch" and answered with
// Invalid Message; ok is false then, and v is the version to answer that
// failure in: our newest for a newer major version, 1.0 (the version every
// client decodes) for an older or malformed one.
func Negotiate(requested ProtocolVersion) (v ProtocolVersion, ok bool) {
	switch requested.Major {
	case 1:
		if requested.Minor < 0 {
			return V1_0, false
		}
		return ProtocolVersion{1, min(requested.Minor, 4)}, true
	case 2:
		if requested.Minor < 0 {
			return V2_0, false
		}
		return ProtocolVersion{2, min(requested.Minor, 1)}, true
	}
	if requested.Major < 1 {
		return V1_0, false
	}
	return SupportedVersions[0], false
}
