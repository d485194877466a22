// Package service holds kmipd's operation handlers: the one package that
// knows the ACL, the object store, the HSM and the audit log together, in
// the spirit of smallstep's authority package.
//
// # The choke point
//
// Every batch item enters through Service.ServeKMIP, and only there: it
// identifies the subject from the connection's client certificate, asks the
// policy whether the subject may perform the operation, dispatches to the
// operation's handler, and writes the audit record before the response may
// leave. An audit record that cannot be written fails the request (fail
// closed). Handlers that touch an existing object load it through
// Service.object, which applies the policy to that object too, so an object
// of another tenant reads as absent (Item Not Found) rather than forbidden.
//
// # Key material
//
// Secret key material is generated in the HSM and reaches the store only
// wrapped under the HSM master key (hsmbackend). Plaintext exists in process
// memory only while an operation needs it (a Get, a Register) and is cleared
// afterwards.
package service
