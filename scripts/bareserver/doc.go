// Command bareserver measures the ceiling that kmipd's Encrypt goals sit
// under on this machine: a mutual-TLS server that does nothing per request
// but read it, run one AES-256-GCM encryption in SoftHSM exactly as
// hsmlimit's encrypt-gcm-*-sesskey cases do (a session-object key,
// C_EncryptInit and C_Encrypt through miekg/pkcs11), and write an answer.
// Requests and answers have the sizes of kmipd's own Encrypt messages on
// the wire, and the client is as lean as a client can be, so kmipd's
// throughput divided by bareserver's is the share of the reachable that
// kmipd reaches, whatever the VM's speed at the moment.
//
//	bareserver -serve -certs DIR -pin-file FILE          # SOFTHSM2_CONF set
//	bareserver -certs DIR -connections 4 -size 64 -duration 3s
//
// The server listens on -addr until killed; the client prints one line,
// "bare SIZE CONNS OPS/S". It is a measuring tool for bench-server.sh, not
// a KMIP server: messages are length-prefixed blobs, not TTLV.
package main
