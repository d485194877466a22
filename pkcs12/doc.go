// Package pkcs12 encodes PKCS#12 (RFC 7292) files: a private key with its
// certificate chain, protected by a password, as KMIP's Get with Key Format
// Type PKCS#12 returns them (KMIP 2.0 §6.1.22, 1.4 §4.11).
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
// The package only encodes; kmipd never needs to read a PKCS#12 file.
package pkcs12
