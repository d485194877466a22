// Package acl decides who may do what: pure functions from a Subject (who
// the client is, derived from its TLS client certificate), an operation and
// the object it touches, to a Decision that names the rule that decided.
//
// It owns the policy model and its evaluation. It must not know TLS
// connections, storage, PKCS#11 or the audit log; it imports kmip for the
// Operation enumeration only, and performs no I/O beyond parsing a policy.
//
// # Model
//
// Every client belongs to one tenant, taken from its certificate (the
// first Organizational Unit, else the first Organization; none: the default
// tenant ""). Objects carry the tenant of the client that created them. The
// built-in policy lets a client use the operations listed for its role on
// objects of its own tenant, and never on another tenant's objects:
// Locate never returns them and every other operation answers as if they
// did not exist. Default deny: a subject with no matching rule is refused;
// an explicit deny wins over any allow.
//
// Per-tenant policies loaded from files, LDAP and OIDC identities come in a
// later release; Policy is built so that they add rules, not code paths.
package acl
