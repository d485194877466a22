// Package kmipclient is a small KMIP client over mutual TLS (KMIP 1.4 §8),
// built on kmipd's own ttlv codec and kmip tables. It exists for `kmipd
// bench`, kmipd's load generator, and for tests that want to talk to a
// server the way a real client does; it is not a general SDK.
//
// It owns the client side of the message layer: encoding a Request Message
// (KMIP 1.4 §7.1, 2.0 §8.1) with one or several batch items, reading and
// checking the Response Message, and turning a failed batch item into a
// *kmip.Error carrying the Result Reason and Result Message. On top of that
// it encodes the request payloads of the operations the load generator
// drives: Create (AES), Create Key Pair (EC), Get, Locate by Name, Activate,
// Revoke, Destroy, Encrypt and Decrypt (AES-GCM) and Sign (ECDSA).
//
// It must not know the server's internals: no objects, hsmbackend, acl,
// audit or service import, no bbolt, no PKCS#11. It speaks the wire
// protocol only, so it works against any KMIP server (kmipd, PyKMIP, ...).
//
// # Versions
//
// Options.Version picks the protocol version of every request (default
// KMIP 1.4). Attributes travel as Template-Attribute / Attribute{Attribute
// Name, Attribute Value} for 1.x (1.4 §2.1.1, §2.1.8) and as tagged items in
// Attributes for 2.x (2.0 §2.1.1); the helpers choose the form.
//
// # Concurrency
//
// A Conn is safe for concurrent use, but a KMIP connection carries one
// exchange at a time (the server answers messages in order), so calls on one
// Conn are serialised. Load generators open one Conn per worker.
//
// A transport failure in the middle of an exchange (timeout, cancelled
// context, short read) leaves the stream at an unknown position, so the Conn
// is then unusable: Err reports why and every later call fails with it.
//
// # Allocation and secrets
//
// The request is encoded straight into a buffer the Conn reuses
// (ttlv.Encoder), with no Value tree. The helpers also reuse the read
// buffer and copy out only what they return; Do and DoBatch hand back a
// Value that aliases a fresh buffer the caller then owns. Buffers the Conn
// reuses are cleared after exchanges that carried plaintext (Encrypt,
// Decrypt) and on Close; Get reads into a buffer of its own, which the
// returned Object wipes on Clear.
//
// PyKMIP's server needs the Cryptographic Algorithm inside the Encrypt
// and Decrypt Cryptographic Parameters, and cannot parse Cryptographic
// Domain Parameters (so Create Key Pair EC fails there); the requests here
// carry the former, and the latter is what KMIP 1.4 §3.7 prescribes.
//
// # Limits
//
// A response is framed from its 8-byte header and refused when it announces
// more than Options.Limits.MaxMessageSize (default 1 MiB), before any room
// is made for it; it is then decoded under the same Limits (depth, item
// count). A hostile server cannot make the client allocate more.
package kmipclient
