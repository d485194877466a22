// Package hsmtest gives tests of other packages a fresh SoftHSM token with
// a master key, in one call: hsmtest.New(t).
//
// It owns the process-wide test SoftHSM directory: on first use it writes a
// softhsm2.conf into a new temporary directory named after the process ID
// and sets SOFTHSM2_CONF, once per test binary, before the module is first
// initialised (SoftHSM reads the variable only at C_Initialize). Every New
// creates one more token, with a unique label and random PINs, in that
// directory. Directories left by earlier test binaries whose process has
// exited are removed on first use. One extra token, opened once and never
// closed, keeps the module initialised for the life of the test binary.
//
// Environment:
//
//   - KMIPD_TEST_PKCS11_MODULE: the PKCS#11 module to use (default: the
//     first SoftHSM 2 found by hsmbackend.FindSoftHSMModule).
//   - KMIPD_REQUIRE_HSM=1: fail, instead of skip, when no module is found,
//     so CI cannot pass without running the HSM tests.
//
// It must not know KMIP, objects or the store; it is imported only by
// _test.go files.
package hsmtest
