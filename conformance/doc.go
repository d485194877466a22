// Package conformance tests kmipd from the outside, the way clients meet
// it: the real server in-process over real mutual TLS, spoken to by
// independent implementations.
//
// It owns:
//
//   - interop tests with the gemalto/kmip-go client (interop_test.go) and
//     with PyKMIP's client run by /usr/bin/python3 against the kmipd binary
//     (pykmip_test.go, scripts in testdata/pykmip);
//   - the shared harness (harness_test.go): StartServer runs a kmip.Server
//     with a service.Service on 127.0.0.1:0 behind mutual TLS from
//     certs.NewTestPKI and returns the address and the client's TLS
//     material;
//   - the runner of the OASIS XML test vectors in
//     ../shared/conformance/testcases (vectors.go, runner*.go, compare*.go),
//     with its reviewed list of the cases not yet supported
//     (known_failures.go);
//   - differential tests of our ttlv codec against gemalto's.
//
// Only `kmipd conformance` (cmd/kmipd) imports it, for the vector runner
// against a server that is already running; the server itself never
// depends on it. Its non-test code imports kmip and ttlv only; its tests
// may import service, certs, hsmbackend and github.com/gemalto/kmip-go.
//
// # Environment
//
// Tests that need a tool the machine may lack (PyKMIP, SoftHSM) skip with
// a message saying what is missing, unless KMIPD_REQUIRE_HSM=1 (set by
// `make test`), which turns the skip into a failure so that CI cannot pass
// silently.
package conformance
