// Package certs mints a development PKI for kmipd: a CA, a TLS server
// certificate and a TLS client certificate, using only the standard library.
//
// KMIP 1.4 §8 leaves authentication to the KMIP Profiles, whose TLS
// authentication suites use mutually authenticated TLS. Developers and tests
// need certificates for that; production deployments bring their own from a
// real CA. Nothing here is meant for production.
//
// # What it owns
//
//   - [EnsureDev]: creates, or validates and reuses, the PEM files of a
//     development PKI in one directory (what `make certs` and
//     `go run ./certs/generate_dev.go` call).
//   - [NewTestPKI]: the same PKI in memory, for tests that need a server and
//     a client certificate without touching the disk.
//
// Both RSA 2048 and ECDSA P-256 keys are supported, because PyKMIP's TLS 1.2
// client must be able to talk to either kind of server certificate.
//
// # What it must not know
//
// KMIP, the kmipd configuration file, the ACL (which derives a subject from the
// client certificate) or the TLS server. It imports the standard library only.
//
// # Secrets
//
// Private keys are written 0600 in a 0700 directory, through a temporary file
// and a rename so a crash never leaves half a key. They are never printed.
// Never commit the generated directory.
package certs
