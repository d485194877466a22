// Package pkcs12 writes and reads PKCS#12 (RFC 7292) files: a private key
// with its certificate chain, protected by a password, as KMIP's Get returns
// them and Register imports them with Key Format Type PKCS#12 (KMIP 2.0
// §6.1.22, 1.4 §4.11).
//
// # Encode
//
// Encode writes the layout that OpenSSL 3 (`openssl pkcs12 -export` with its
// default algorithms) and Python's cryptography read:
//
//	PFX (version 3)
//	  authSafe: ContentInfo data → AuthenticatedSafe
//	    ContentInfo data → SafeContents: one certBag per certificate
//	                       (the leaf carries friendlyName and localKeyId)
//	    ContentInfo data → SafeContents: one pkcs8ShroudedKeyBag
//	                       (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC,
//	                       friendlyName, localKeyId)
//	  macData: HMAC-SHA256, key from the PKCS#12 KDF (RFC 7292 Appendix B)
//
// The certificates are not encrypted: they are public, and leaving them in a
// plain data ContentInfo (rather than an encryptedData one) spares a second
// key derivation without weakening the file. The private key is encrypted,
// and the MAC protects the integrity of everything.
//
// # Decode
//
// Decode reads files in password integrity and privacy modes (RFC 7292 §3.1),
// such as OpenSSL 3 writes them by default and with -legacy (the defaults of
// OpenSSL 1.x and Windows: RC2-40 for the certificates, 3DES for the key),
// and Python's cryptography:
//
//   - MAC: absent, or HMAC with SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512,
//     keyed by the PKCS#12 KDF (RFC 7292 Appendix B.3). An empty password is
//     tried both as the two-byte BMPString terminator (OpenSSL) and as no
//     bytes (some other tools).
//   - Encryption of encryptedData ContentInfos and pkcs8ShroudedKeyBags:
//     pbeWithSHAAnd3-KeyTripleDES-CBC, pbeWithSHAAnd2-KeyTripleDES-CBC,
//     pbeWithSHAAnd128BitRC2-CBC and pbeWithSHAAnd40BitRC2-CBC (RFC 7292
//     Appendix C, over the BMPString password); PBES2 (RFC 8018 §6.2) with
//     PBKDF2 (PRF hmacWithSHA1, the default, or hmacWithSHA224/256/384/512)
//     and AES-128/192/256-CBC or DES-EDE3-CBC, over the UTF-8 password.
//   - Bags: exactly one keyBag or pkcs8ShroudedKeyBag; certBags holding X.509
//     certificates; crlBags and secretBags are skipped.
//
// Refused with ErrUnsupported: public-key integrity or privacy mode
// (signedData, envelopedData), PBMAC1, RC4 and other ciphers, nested
// safeContentsBags, certificate types other than X.509, BER
// indefinite-length encodings (Decode reads DER).
//
// A PKCS#12 file comes from a client, so Decode bounds what it costs: the
// file is at most 1 MiB (else ErrMalformed); at most 64 ContentInfos and
// 64 safe bags; each iteration count (MAC, PBE, PBKDF2) at most 1,000,000
// and all of them together at most 4,000,000 (else ErrUnsupported).
//
// RC2 (rc2.go) is implemented here only to read such old files; the package
// imports nothing outside the standard library.
package pkcs12
