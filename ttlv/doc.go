// Package ttlv is the KMIP wire codec: the binary Tag-Type-Length-Value
// encoding (KMIP 1.4 §9.1, 2.0 §10.1) and its XML and JSON forms (KMIP
// Profiles §5.4, §5.5).
//
// It owns the Tag, the item Type, the encoding of every primitive (Integer,
// Long Integer, Big Integer, Enumeration, Boolean, Text String, Byte String,
// Date-Time, Interval, Date-Time Extended) and of Structures, and the
// 8-byte alignment and padding rules. It knows nothing of KMIP itself: no tag
// or enumeration names, operations or protocol versions. Callers that want
// names (the XML and JSON forms, Format) pass a Names in; there is no
// package-level registry.
//
// # Binary
//
// Decode parses one whole message into a Value tree. It is strict (declared
// lengths must fit the type, padding must be zero, a structure's length must
// equal the sum of its children) and bounded by Limits, which are checked
// before anything is allocated. It validates and counts items in a first
// pass that allocates nothing, then builds the tree in one arena: the
// children of each structure are a contiguous sub-slice of it, and Text
// String, Byte String and Big Integer contents alias the input.
//
// Append and Marshal encode a Value; Encoder writes TTLV directly without a
// Value tree, for hot paths. ReadMessage frames one message from a stream,
// refusing an oversized one from its header alone.
//
// # XML and JSON
//
// MarshalXML, UnmarshalXML and DecodeXMLElement implement the XML form used
// by the OASIS test vectors; MarshalJSON and UnmarshalJSON the JSON form.
// XMLOptions and JSONOptions add limits and a Placeholder hook so that a
// vector runner can substitute values such as $NOW or $UNIQUE_IDENTIFIER_0,
// which this package never interprets itself. A Names that also implements
// ContextNames can spell a KMIP 1.x Attribute Value after its sibling
// Attribute Name, as the vectors do.
//
// Decoding errors are *SyntaxError (or *HeaderError from ReadMessage), and
// unwrap to one of the sentinels such as ErrTruncated; IsEncodingError tells
// them apart from I/O errors so that a server can answer Invalid Message at
// one place.
//
// # Secrets
//
// Byte Strings, Big Integers and Text Strings may be key material or
// passwords. Value.String shows Byte Strings and Big Integers by length
// only; error messages never repeat them; the Encoder and the XML and JSON
// writers zero the buffers they outgrow. XML and JSON decoding go through
// encoding/xml and encoding/json, whose internal copies cannot be cleared.
package ttlv
