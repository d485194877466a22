// Package audit is kmipd's tamper-evident, fail-closed audit log: one record
// per KMIP operation, in the log before the response leaves the server.
//
// # What it owns
//
//   - [Event]: who (subject, tenant, remote address) did what (operation,
//     object ID), with what result, and which ACL rule decided it.
//   - [Sink]: where records go. [FileSink] appends JSON lines to a file and
//     fsyncs before Write returns; a socket or syslog sink can come later.
//   - [Logger]: turns events into chained, MACed records, and batches
//     concurrent records into one Sink.Write (group commit), so N concurrent
//     Log calls cost about one fsync while each caller still returns only
//     after its own record is durable. [Logger.Record] with [Written] lets a
//     caller whose request changed nothing return once its record is in the
//     file, with the fsync owed within the sync delay ([WithSyncDelay]).
//   - [Verify]: walks a log and reports the first record that is altered,
//     missing, reordered or truncated. It backs `kmipd audit verify`.
//   - [Key], [LoadKey], [GenerateKeyFile]: the audit key, which is not the
//     HSM master key and never leaves this package's keeping.
//
// # What it must not know
//
// KMIP wire types, PKCS#11, bbolt or the ACL's types: callers fill [Event]
// with strings. It imports the standard library only, and no logging
// library: audit records are not log lines.
//
// # Fail closed
//
// Audit failure is request failure. [Logger.Log] returns nil only once the
// record is durable in the sink; [Logger.Record] with [Written] once it is in
// the sink (it survives a crash of kmipd, and the fsync follows within the
// sync delay). A failed fsync of Written records fails the Logger like a
// failed write: records already answered may then be lost, and refusing
// everything after keeps that loss from growing. After a sink failure the
// Logger refuses every later record (the chain's state on disk is unknown), so the server must
// fail requests until an operator fixes the cause and restarts it. A
// [Logger] refuses to start on a log whose last record does not verify.
//
// # Record format
//
// Each record is one line of JSON, fields in this order:
//
//	{"v":1,"seq":7,"kid":"…","time":"…",<event fields>,"prev":"<mac of seq 6>","mac":"<hex>"}
//
// Let K be the audit key. Three keys are derived from it, so that no value
// ever written to the log can double as a MAC of a record (an attacker who
// chose a sensitive value must not learn the MAC of a forged record):
//
//	K_chain = HMAC-SHA256(K, "kmipd-audit-v1 chain")
//	K_value = HMAC-SHA256(K, "kmipd-audit-v1 value")
//	kid     = hex(HMAC-SHA256(K, "kmipd-audit-v1 key-id")[:8])
//
// mac is hex(HMAC-SHA256(K_chain, B)), where B is the exact bytes of the line
// before `,"mac":` followed by "}": the record as written, without its mac.
// MACing the written bytes rather than a re-encoding keeps verification
// independent of JSON encoder details. prev is the mac of the previous record
// ("" for seq 1), so deleting, inserting or reordering a record breaks the
// chain at that line. kid tells a wrong key apart from a tampered record.
//
// Values of sensitive fields (see [WithSensitive]) are replaced by
// "hmac-sha256:" + hex(HMAC-SHA256(K_value, value)): the secret is gone, yet
// equal values still correlate across records, and whoever holds the key can
// compute the token for a value they know ([Logger.HMAC]). This follows
// Vault's audit hashing (HMAC rather than deletion).
//
// # Limits
//
// The chain detects any change inside the log, but not the loss of whole
// records at its end: keep [Report.LastSeq] and [Report.LastMAC] (or
// [Logger.Head]) somewhere else to detect that. Records are at most
// [MaxRecordSize] bytes; a larger event fails Log rather than being cut.
package audit
