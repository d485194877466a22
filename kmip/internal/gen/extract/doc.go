// Command extract reads the plain-text KMIP 1.4, 2.0 and 2.1 specifications
// (w3m dumps of the OASIS HTML, see /work/shared/specs/README.md) and writes
// the name tables in kmip/spec that kmip/internal/gen turns into Go:
//
//	go run ./kmip/internal/gen/extract -specs /work/shared/specs -out kmip/spec
//
// It is run by hand when the tables must be rebuilt, not by go generate:
// the specifications are not part of the repository.
//
// It owns the reading of the specifications' box-drawn tables
// (boxtable.go) and every decision the text leaves open or gets wrong, each
// in a commented table in main.go: the 1.x version of each tag (tags were
// numbered in order, see tagSince1x), links between tags and enumerations
// whose names differ, misprinted enumeration names, item types stated only
// in prose, and the PKCS#11 enumerations that KMIP 2.0 defines by reference
// to the PKCS#11 headers (pkcs11.go). It knows nothing of Go code
// generation or of the XML spelling of names.
package main
