package service

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// The cryptographic operations: Encrypt, Decrypt (KMIP 1.4 §4.29-4.30,
// 2.0 §6.1.17, 6.1.11), Sign, Signature Verify (§4.31-4.32, 2.0 §6.1.48,
// 6.1.49), MAC, MAC Verify (§4.33-4.34, 2.0 §6.1.29, 6.1.30), RNG Retrieve,
// RNG Seed (§4.35-4.36, 2.0 §6.1.45, 6.1.46) and Hash (§4.37, 2.0 §6.1.23).
//
// Every operation on a key loads the object through Service.object (ACL,
// date-driven state), checks it with requireUsable (state, dates, usage
// mask, archival), resolves the Cryptographic Parameters (request, else
// the object's), and runs the cryptography in the HSM on a Handle from the
// key cache (keycache.go). What the HSM cannot do is done in Go on public
// keys, or on a private key unwrapped for the one call (crypto_asym.go),
// and so is ChaCha20 on its unwrapped key (crypto_chacha.go).
//
// Result Reasons follow KMIP 1.4 §11.30-11.38 and, where they are more
// specific, the OASIS vectors, whose 2.0 files expect the same reasons as
// the 1.4 ones: a key not usable for the operation is Permission Denied, a
// missing IV is Invalid Message, a failed tag or padding check is
// Cryptographic Failure, an out-of-range GCM tag length General Failure,
// an unknown Correlation Value Item Not Found.
//
// Plaintext: decrypted data leaves in the response payload, which the
// message layer owns once the handler returns; intermediate buffers the
// handlers own (padded copies, unwrapped private keys) are cleared.

// registerCryptoOps registers the cryptographic operations.
func (s *Service) registerCryptoOps() {
	s.crypto = newCryptoOps(s, s.keyCacheConfig)
	s.crypto.register(s.mux)
}

// KeyCacheStats reports the key cache's counters (for metrics).
func (s *Service) KeyCacheStats() KeyCacheStats {
	if s.crypto == nil {
		return KeyCacheStats{}
	}
	return s.crypto.keys.Stats()
}

// Close stops the write journal's pruning after a last prune and releases
// what the service holds in the HSM (the cached key handles). Call it
// after the server has stopped, before closing the store, the audit log
// and the HSM backend.
func (s *Service) Close(ctx context.Context) {
	s.stopJournal()
	if s.crypto != nil {
		s.crypto.keys.Purge(ctx)
	}
}

// cryptoOps holds the state of the cryptographic operations: the key
// cache and the open multi-part operations.
type cryptoOps struct {
	s       *Service
	keys    *keyCache
	streams *streamTable
	ivs     *ivPool // server-generated IVs (crypto_random.go)
}

func newCryptoOps(s *Service, cfg KeyCacheConfig) *cryptoOps {
	return &cryptoOps{
		s:       s,
		keys:    newKeyCache(s.hsm, cfg, s.now, s.log.Named("keycache")),
		streams: newStreamTable(s.now),
		ivs:     &ivPool{random: s.hsm.Random},
	}
}

func (c *cryptoOps) register(m *kmip.ServeMux) {
	m.HandleFunc(kmip.OperationEncrypt, c.encrypt)
	m.HandleFunc(kmip.OperationDecrypt, c.decrypt)
	m.HandleFunc(kmip.OperationSign, c.sign)
	m.HandleFunc(kmip.OperationSignatureVerify, c.signatureVerify)
	m.HandleFunc(kmip.OperationMAC, c.mac)
	m.HandleFunc(kmip.OperationMACVerify, c.macVerify)
	m.HandleFunc(kmip.OperationHash, c.hash)
	m.HandleFunc(kmip.OperationRNGRetrieve, c.rngRetrieve)
	m.HandleFunc(kmip.OperationRNGSeed, c.rngSeed)
}

// withKey runs fn with a Handle for o's key unwrapped with use.
func (c *cryptoOps) withKey(ctx context.Context, o *objects.Object, use hsmbackend.KeyUse, fn func(hsmbackend.Handle) error) error {
	return c.withKeySource(ctx, o, keySource{use: use}, fn)
}

// withKeySource runs fn with a Handle for o's key. A Handle the HSM lost
// (ErrKeyNotFound) is dropped from the cache and the key unwrapped once
// more.
func (c *cryptoOps) withKeySource(ctx context.Context, o *objects.Object, src keySource, fn func(hsmbackend.Handle) error) error {
	if o.Wrapped == nil {
		return kmip.Errorf(kmip.ResultReasonKeyValueNotPresent, "object %s has no key value", o.ID)
	}
	for attempt := 0; ; attempt++ {
		ref, err := c.keys.acquire(ctx, o, src)
		if err != nil {
			return err
		}
		err = fn(ref.e.h)
		if attempt == 0 && errors.Is(err, hsmbackend.ErrKeyNotFound) {
			c.keys.discard(ctx, ref)
			continue
		}
		c.keys.release(ctx, ref)
		return err
	}
}

// cryptoHSMError maps HSM errors of cryptographic operations: rejected data
// (a failed tag or padding check, a wrong length) and refused key use are
// Cryptographic Failure (KMIP 1.4 §11.30 "Cryptographic error during
// encryption"); the rest as hsmError. kmip errors pass through.
func cryptoHSMError(op string, err error) error {
	var ke *kmip.Error
	switch {
	case errors.As(err, &ke):
		return err
	case errors.Is(err, hsmbackend.ErrInvalidData), errors.Is(err, hsmbackend.ErrKeyUsage):
		return kmip.Errorf(kmip.ResultReasonCryptographicFailure, "%s failed", op)
	}
	return hsmError(op, err)
}

// notUsableFor is the error for an object that cannot do what was asked:
// Permission Denied (KMIP 1.4 §11.30-11.35 "Object specified is not able
// to be used for ..."); 2.x has Invalid Object Type for the wrong type.
func notUsableFor(o *objects.Object, what string) error {
	return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s (%v) cannot be used for %s", o.ID, o.ObjectType, what)
}

func wrongObjectType(req *kmip.Request, o *objects.Object, what string) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonInvalidObjectType, "object %s (%v) cannot be used for %s", o.ID, o.ObjectType, what)
	}
	return notUsableFor(o, what)
}

// loadObject loads the key object the request names (or its ID
// Placeholder).
func (c *cryptoOps) loadObject(ctx context.Context, req *kmip.Request) (*objects.Object, error) {
	id, err := targetID(req)
	if err != nil {
		return nil, err
	}
	// Read only, shared with other requests (Store.Peek): nothing on the
	// cryptographic paths changes the object; Usage Limits and the like go
	// through Store.Update on a copy of their own.
	o, err := c.s.sharedObject(ctx, req, id)
	if err != nil {
		return nil, err
	}
	if o.Wrapped == nil || o.State == kmip.StateDestroyed || o.State == kmip.StateDestroyedCompromised {
		// Free the HSM memory of a destroyed key now rather than at its
		// TTL; it could not be used anyway (see keycache.go).
		c.keys.Invalidate(ctx, o.ID)
	}
	return o, nil
}

// begin parses the request; for a multi-part request it returns stream
// set, and the caller hands over to the stream code.
func (c *cryptoOps) begin(ctx context.Context, req *kmip.Request) (*cryptoRequest, *objects.Object, bool, error) {
	r, err := parseCryptoRequest(req)
	if err != nil {
		return nil, nil, false, err
	}
	if r.streaming() {
		return r, nil, true, nil
	}
	o, err := c.loadObject(ctx, req)
	if err != nil {
		return nil, nil, false, err
	}
	return r, o, false, nil
}

// consume takes n units from o's Usage Limits before a protecting
// operation (consumeUsage, usage.go; KMIP 1.4 §4.29, §4.31). An object
// without Usage Limits is left alone without a store transaction, so that
// an operation on a cached key costs no bbolt write.
func (c *cryptoOps) consume(ctx context.Context, req *kmip.Request, o *objects.Object, usage kmip.CryptographicUsageMask, n int) error {
	if _, ok := o.Attr(attrUsageLimits); !ok {
		return nil
	}
	return c.s.consumeUsage(ctx, req, o.ID, usage, n)
}

func idField(o *objects.Object) ttlv.Value { return ttlv.Text(kmip.TagUniqueIdentifier, o.ID) }

// encrypt answers Encrypt (KMIP 1.4 §4.29).
func (c *cryptoOps) encrypt(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, o, multi, err := c.begin(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if multi {
		return c.streamCipher(ctx, req, r, true)
	}
	if err := c.s.requireUsable(ctx, req, o, kmip.CryptographicUsageMaskEncrypt); err != nil {
		return ttlv.Value{}, err
	}
	p, err := effectiveParams(o, r)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !r.hasData {
		return ttlv.Value{}, missing("data")
	}
	switch o.ObjectType {
	case kmip.ObjectTypeSymmetricKey:
		if isChaChaKey(o) {
			// No PKCS#11 mechanism: runs in Go (crypto_chacha.go).
			res, err := c.chachaEncrypt(ctx, req, o, p, r)
			if err != nil {
				return ttlv.Value{}, err
			}
			return encryptResponse(o, res, nil), nil
		}
		bc, err := blockCipherOf(o)
		if err != nil {
			return ttlv.Value{}, err
		}
		if err := c.consume(ctx, req, o, kmip.CryptographicUsageMaskEncrypt, len(r.data)); err != nil {
			return ttlv.Value{}, err
		}
		res, err := c.symEncrypt(ctx, o, bc, p, r)
		if err != nil {
			return ttlv.Value{}, err
		}
		return encryptResponse(o, res, nil), nil
	case kmip.ObjectTypePublicKey:
		pub, err := publicKeyOf(o)
		if err != nil {
			return ttlv.Value{}, err
		}
		rpub, ok := pub.(*rsa.PublicKey)
		if !ok {
			return ttlv.Value{}, notUsableFor(o, "encryption")
		}
		if err := c.consume(ctx, req, o, kmip.CryptographicUsageMaskEncrypt, len(r.data)); err != nil {
			return ttlv.Value{}, err
		}
		out, err := rsaEncrypt(rpub, p, r.data)
		if err != nil {
			return ttlv.Value{}, err
		}
		return encryptResponse(o, blockResult{data: out}, nil), nil
	default:
		return ttlv.Value{}, wrongObjectType(req, o, "encryption")
	}
}

// encryptResponse builds the Encrypt Response Payload in the order of
// KMIP 1.4 Table 226: Unique Identifier, Data, IV/Counter/Nonce (only when
// the server generated it), Correlation Value, Authenticated Encryption
// Tag.
func encryptResponse(o *objects.Object, res blockResult, correlation []byte) ttlv.Value {
	f := []ttlv.Value{idField(o)}
	if res.data != nil {
		f = append(f, ttlv.Bytes(kmip.TagData, res.data))
	}
	if res.ivGenerated {
		f = append(f, ttlv.Bytes(kmip.TagIVCounterNonce, res.iv))
	}
	if correlation != nil {
		f = append(f, ttlv.Bytes(kmip.TagCorrelationValue, correlation))
	}
	if res.tag != nil {
		f = append(f, ttlv.Bytes(kmip.TagAuthenticatedEncryptionTag, res.tag))
	}
	return kmip.Payload(f...)
}

// decrypt answers Decrypt (KMIP 1.4 §4.30).
func (c *cryptoOps) decrypt(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, o, multi, err := c.begin(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if multi {
		return c.streamCipher(ctx, req, r, false)
	}
	if err := c.s.requireUsable(ctx, req, o, kmip.CryptographicUsageMaskDecrypt); err != nil {
		return ttlv.Value{}, err
	}
	p, err := effectiveParams(o, r)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !r.hasData {
		return ttlv.Value{}, missing("data")
	}
	var out []byte
	switch o.ObjectType {
	case kmip.ObjectTypeSymmetricKey:
		if isChaChaKey(o) {
			if out, err = c.chachaDecrypt(ctx, o, p, r); err != nil {
				return ttlv.Value{}, err
			}
			break
		}
		bc, err := blockCipherOf(o)
		if err != nil {
			return ttlv.Value{}, err
		}
		if out, err = c.symDecrypt(ctx, o, bc, p, r); err != nil {
			return ttlv.Value{}, err
		}
	case kmip.ObjectTypePrivateKey:
		if objectAlgorithm(o) != kmip.CryptographicAlgorithmRSA {
			return ttlv.Value{}, notUsableFor(o, "decryption")
		}
		// hsmbackend offers no RSA decryption: the private key is
		// unwrapped for this one call and wiped afterwards.
		priv, wipe, err := c.privateKeyOf(ctx, o)
		if err != nil {
			return ttlv.Value{}, err
		}
		defer wipe()
		rpriv, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return ttlv.Value{}, notUsableFor(o, "decryption")
		}
		if out, err = rsaDecrypt(rpriv, p, r.data); err != nil {
			return ttlv.Value{}, err
		}
	default:
		return ttlv.Value{}, wrongObjectType(req, o, "decryption")
	}
	return kmip.Payload(idField(o), ttlv.Bytes(kmip.TagData, out)), nil
}

// signInput returns what is to be signed or verified: Data, or Digested
// Data (KMIP 1.4 §4.31), exactly one of them.
func signInput(r *cryptoRequest) ([]byte, bool, error) {
	switch {
	case r.hasData && r.hasDigested:
		return nil, false, kmip.Errorf(kmip.ResultReasonInvalidField, "both data and digested data given")
	case r.hasDigested:
		return r.digested, true, nil
	case r.hasData:
		return r.data, false, nil
	}
	return nil, false, missing("data")
}

// sign answers Sign (KMIP 1.4 §4.31).
func (c *cryptoOps) sign(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, o, multi, err := c.begin(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if multi {
		return c.streamSign(ctx, req, r)
	}
	if err := c.s.requireUsable(ctx, req, o, kmip.CryptographicUsageMaskSign); err != nil {
		return ttlv.Value{}, err
	}
	p, err := effectiveParams(o, r)
	if err != nil {
		return ttlv.Value{}, err
	}
	in, digested, err := signInput(r)
	if err != nil {
		return ttlv.Value{}, err
	}
	sig, err := c.signWith(ctx, req, o, p, in, digested)
	if err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(idField(o), ttlv.Bytes(kmip.TagSignatureData, sig)), nil
}

// signWith signs in with the private key o, after the usage checks.
func (c *cryptoOps) signWith(ctx context.Context, req *kmip.Request, o *objects.Object, p cryptoParams, in []byte, digested bool) ([]byte, error) {
	if o.ObjectType != kmip.ObjectTypePrivateKey {
		return nil, wrongObjectType(req, o, "signing")
	}
	f := familyOfAlgorithm(objectAlgorithm(o))
	if f == 0 {
		return nil, notUsableFor(o, "signing")
	}
	sp, err := resolveSignature(f, objectLength(o), p, digested, len(in))
	if err != nil {
		return nil, err
	}
	if err := c.consume(ctx, req, o, kmip.CryptographicUsageMaskSign, len(in)); err != nil {
		return nil, err
	}
	digest := digestOf(sp, in, digested)
	kind := hsmbackend.RSA
	if f == familyEC {
		kind = hsmbackend.EC
	}
	use := hsmbackend.KeyUse{Kind: kind, Sign: true}
	var sig []byte
	switch sp.scheme {
	case sigRSAPKCS1v15:
		// The digest is made here and signed as a DigestInfo with raw
		// CKM_RSA_PKCS, so every hash Go knows works, and Digested Data
		// is the same path.
		di, err := digestInfo(sp.hash, digest)
		if err != nil {
			return nil, err
		}
		err = c.withKey(ctx, o, use, func(h hsmbackend.Handle) error {
			var err error
			sig, err = c.s.hsm.Sign(ctx, h, hsmbackend.RSAPKCS1v15, 0, di)
			return err
		})
		if err != nil {
			return nil, cryptoHSMError("sign", err)
		}
	case sigECDSA:
		err := c.withKey(ctx, o, use, func(h hsmbackend.Handle) error {
			var err error
			sig, err = c.s.hsm.Sign(ctx, h, hsmbackend.ECDSA, 0, digest)
			return err
		})
		if err != nil {
			return nil, cryptoHSMError("sign", err)
		}
	case sigRSAPSS:
		if !digested && pssInHSM(sp) {
			err := c.withKey(ctx, o, use, func(h hsmbackend.Handle) error {
				var err error
				sig, err = c.s.hsm.Sign(ctx, h, hsmbackend.RSAPSS, sp.hash, in)
				return err
			})
			if err != nil {
				return nil, cryptoHSMError("sign", err)
			}
			break
		}
		// The HSM signs PSS over the data it hashes itself, with a salt as
		// long as the hash: other salts and digested data are signed in
		// Go on the unwrapped key.
		priv, wipe, err := c.privateKeyOf(ctx, o)
		if err != nil {
			return nil, err
		}
		defer wipe()
		if sig, err = signSoftware(priv, sp, digest); err != nil {
			return nil, err
		}
	}
	return sig, nil
}

// pssInHSM reports whether hsmbackend.Sign can make the PSS signature:
// SHA-1 or SHA-2 and a salt as long as the hash.
func pssInHSM(sp sigSpec) bool {
	switch sp.hash {
	case crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return false
	}
	return sp.salt == saltDefault || sp.salt == sp.hash.Size()
}

// signatureVerify answers Signature Verify (KMIP 1.4 §4.32). The signature
// is checked in Go with the public key; a signature that does not verify,
// for whatever reason, is Validity Indicator Invalid, not an error.
func (c *cryptoOps) signatureVerify(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, o, multi, err := c.begin(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if multi {
		return c.streamVerify(ctx, req, r)
	}
	if err := c.s.requireUsable(ctx, req, o, kmip.CryptographicUsageMaskVerify); err != nil {
		return ttlv.Value{}, err
	}
	p, err := effectiveParams(o, r)
	if err != nil {
		return ttlv.Value{}, err
	}
	in, digested, err := signInput(r)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !r.hasSignature {
		return ttlv.Value{}, missing("signature data")
	}
	valid, err := c.verifyWith(ctx, req, o, p, in, digested, r.signature)
	if err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(idField(o), validity(valid)), nil
}

func validity(valid bool) ttlv.Value {
	v := kmip.ValidityIndicatorInvalid
	if valid {
		v = kmip.ValidityIndicatorValid
	}
	return ttlv.Enum(kmip.TagValidityIndicator, uint32(v))
}

// verifyWith checks sig over in with the key o, after the usage checks.
func (c *cryptoOps) verifyWith(ctx context.Context, req *kmip.Request, o *objects.Object, p cryptoParams, in []byte, digested bool, sig []byte) (bool, error) {
	pub, err := c.verificationKey(ctx, req, o)
	if err != nil {
		return false, err
	}
	f := familyOfKey(pub)
	if f == 0 {
		return false, notUsableFor(o, "signature verification")
	}
	bits := curveBits(pub)
	sp, err := resolveSignature(f, bits, p, digested, len(in))
	if errors.Is(err, errFamilyMismatch) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return verifySignature(pub, sp, digestOf(sp, in, digested), sig), nil
}

// verificationKey is the public key that verifies with o: its own for a
// Public Key or Certificate; for a Private Key, the public key its Public
// Key Link names, or else the one derived from the private key.
func (c *cryptoOps) verificationKey(ctx context.Context, req *kmip.Request, o *objects.Object) (crypto.PublicKey, error) {
	switch o.ObjectType {
	case kmip.ObjectTypePublicKey, kmip.ObjectTypeCertificate:
		return publicKeyOf(o)
	case kmip.ObjectTypePrivateKey:
		if id, ok := linkedID(o, kmip.LinkTypePublicKeyLink); ok {
			if po, err := c.s.object(ctx, req, id); err == nil && po.ObjectType == kmip.ObjectTypePublicKey {
				return publicKeyOf(po)
			}
		}
		priv, wipe, err := c.privateKeyOf(ctx, o)
		if err != nil {
			return nil, err
		}
		defer wipe()
		return priv.Public(), nil
	default:
		return nil, wrongObjectType(req, o, "signature verification")
	}
}

// macKind is a resolved MAC algorithm.
type macKind struct {
	hmac crypto.Hash          // HMAC with this hash, or
	cmac hsmbackend.Algorithm // CMAC with this block cipher
}

// macAlgorithm resolves the MAC algorithm: an HMAC algorithm named in the
// parameters (CS-AC-M-4 sets HMAC-SHA256 on an AES key), else the key's
// own HMAC algorithm, else CMAC for an AES or Triple DES key (SP 800-38B).
func macAlgorithm(o *objects.Object, p cryptoParams) (macKind, error) {
	if h, ok := hmacHash(p.alg); ok {
		return macKind{hmac: h}, nil
	}
	keyAlg := objectAlgorithm(o)
	switch p.alg {
	case 0, keyAlg:
	default:
		return macKind{}, kmip.Errorf(kmip.ResultReasonInvalidField, "cryptographic algorithm %v is not a MAC algorithm", p.alg)
	}
	if p.mode != 0 && p.mode != kmip.BlockCipherModeCMAC {
		return macKind{}, kmip.Errorf(kmip.ResultReasonInvalidField, "block cipher mode %v is not a MAC", p.mode)
	}
	if h, ok := hmacHash(keyAlg); ok && p.mode == 0 {
		return macKind{hmac: h}, nil
	}
	switch keyAlg {
	case kmip.CryptographicAlgorithmAES:
		return macKind{cmac: hsmbackend.AES}, nil
	case kmip.CryptographicAlgorithmDES3:
		return macKind{cmac: hsmbackend.DES3}, nil
	default:
		return macKind{}, notUsableFor(o, "MAC")
	}
}

// macSum computes the MAC of data with o, or with verify set checks mac.
func (c *cryptoOps) macSum(ctx context.Context, req *kmip.Request, o *objects.Object, p cryptoParams, data, mac []byte, verify bool) ([]byte, bool, error) {
	if o.ObjectType != kmip.ObjectTypeSymmetricKey {
		return nil, false, wrongObjectType(req, o, "MAC")
	}
	mk, err := macAlgorithm(o, p)
	if err != nil {
		return nil, false, err
	}
	var out []byte
	valid := false
	if mk.hmac != 0 {
		err = c.withKeySource(ctx, o, c.hmacKey(o, mk.hmac), func(h hsmbackend.Handle) error {
			if verify {
				// C_Verify compares in the token, in constant time.
				err := c.s.hsm.VerifyHMAC(ctx, h, mk.hmac, data, mac)
				valid = err == nil
				if errors.Is(err, hsmbackend.ErrSignatureInvalid) {
					return nil
				}
				return err
			}
			var err error
			out, err = c.s.hsm.HMAC(ctx, h, mk.hmac, data)
			return err
		})
	} else {
		err = c.withKey(ctx, o, cipherUse(mk.cmac), func(h hsmbackend.Handle) error {
			e := hsmCMAC{ctx: ctx, hsm: c.s.hsm, h: h}
			var err error
			if verify {
				valid, err = cmacVerify(e, data, mac)
				return err
			}
			out, err = cmacSum(e, data)
			return err
		})
	}
	if err != nil {
		return nil, false, cryptoHSMError("MAC", err)
	}
	return out, valid, nil
}

// hmacKey is the key source of an HMAC with hash h. SoftHSM refuses HMAC
// keys shorter than the digest (CKR_KEY_SIZE_RANGE) although RFC 2104 §3
// allows them, and the OASIS vectors use one (CS-AC-M-4: a 16-byte key
// with HMAC-SHA256). RFC 2104 §2 pads a key shorter than the hash's block
// with zeros to the block size before use, so K and K‖0…0 of block size
// give the same HMAC: such a key is padded and imported again (Unwrap,
// WrapSecret, UnwrapKey), so the HMAC still runs in the HSM. Its plaintext
// is in process memory during that import only, once per cache miss, and
// cleared.
func (c *cryptoOps) hmacKey(o *objects.Object, h crypto.Hash) keySource {
	use := hsmbackend.KeyUse{Kind: hsmbackend.GenericSecret, Sign: true, Verify: true}
	n := o.Wrapped.Len
	if n == 0 || n >= h.Size() {
		return keySource{use: use}
	}
	block := h.New().BlockSize()
	return keySource{use: use, variant: fmt.Sprintf("hmac-padded-%d", block), load: func(ctx context.Context) (hsmbackend.Handle, error) {
		k, err := c.s.hsm.Unwrap(ctx, fromStored(o.Wrapped))
		if err != nil {
			return hsmbackend.Handle{}, err
		}
		padded := make([]byte, block)
		copy(padded, k)
		clear(k)
		w, err := c.s.hsm.WrapSecret(ctx, hsmbackend.GenericSecret, padded)
		clear(padded)
		if err != nil {
			return hsmbackend.Handle{}, err
		}
		return c.s.hsm.UnwrapKey(ctx, w, use)
	}}
}

// mac answers MAC (KMIP 1.4 §4.33).
func (c *cryptoOps) mac(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, o, multi, err := c.begin(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if multi {
		return c.streamMAC(ctx, req, r, false)
	}
	if err := c.s.requireUsable(ctx, req, o, kmip.CryptographicUsageMaskMACGenerate); err != nil {
		return ttlv.Value{}, err
	}
	p, err := effectiveParams(o, r)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !r.hasData {
		return ttlv.Value{}, missing("data")
	}
	out, _, err := c.macSum(ctx, req, o, p, r.data, nil, false)
	if err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(idField(o), ttlv.Bytes(kmip.TagMACData, out)), nil
}

// macVerify answers MAC Verify (KMIP 1.4 §4.34).
func (c *cryptoOps) macVerify(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, o, multi, err := c.begin(ctx, req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if multi {
		return c.streamMAC(ctx, req, r, true)
	}
	if err := c.s.requireUsable(ctx, req, o, kmip.CryptographicUsageMaskMACVerify); err != nil {
		return ttlv.Value{}, err
	}
	p, err := effectiveParams(o, r)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !r.hasData {
		return ttlv.Value{}, missing("data")
	}
	if !r.hasMAC {
		return ttlv.Value{}, missing("MAC data")
	}
	_, valid, err := c.macSum(ctx, req, o, p, r.data, r.mac, true)
	if err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(idField(o), validity(valid)), nil
}

// hashAlgorithm resolves the Hashing Algorithm that Hash requires.
func hashAlgorithm(r *cryptoRequest) (crypto.Hash, error) {
	if !r.hasParams {
		return 0, missing("cryptographic parameters")
	}
	if r.params.hash == 0 {
		return 0, kmip.Errorf(kmip.ResultReasonInvalidField, "no hashing algorithm given")
	}
	h, ok := goHash(r.params.hash)
	if !ok {
		return 0, kmip.Errorf(kmip.ResultReasonInvalidField, "hashing algorithm %v is not supported", r.params.hash)
	}
	return h, nil
}

// hash answers Hash (KMIP 1.4 §4.37). Hashing needs no key, so it runs in
// Go.
func (c *cryptoOps) hash(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, err := parseCryptoRequest(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if r.streaming() {
		return c.streamHash(ctx, req, r)
	}
	h, err := hashAlgorithm(r)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !r.hasData {
		return ttlv.Value{}, missing("data")
	}
	d := h.New()
	d.Write(r.data)
	return kmip.Payload(ttlv.Bytes(kmip.TagData, d.Sum(nil))), nil
}

// rngRetrieve answers RNG Retrieve (KMIP 1.4 §4.35) from the HSM's
// generator.
func (c *cryptoOps) rngRetrieve(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, err := parseCryptoRequest(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !r.hasDataLen {
		return ttlv.Value{}, missing("data length")
	}
	if r.dataLength < 1 || r.dataLength > hsmbackend.MaxRandomLen {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "data length %d (want 1 to %d)", r.dataLength, hsmbackend.MaxRandomLen)
	}
	out, err := c.s.hsm.Random(ctx, int(r.dataLength))
	if err != nil {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "random number generator failed")
	}
	return kmip.Payload(ttlv.Bytes(kmip.TagData, out)), nil
}

// rngSeed answers RNG Seed (KMIP 1.4 §4.36). A token that takes no seed
// makes the server ignore it and answer a Data Length of 0, as the spec
// allows ("The server MAY elect to ignore the information provided by the
// client").
func (c *cryptoOps) rngSeed(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	r, err := parseCryptoRequest(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	if !r.hasData {
		return ttlv.Value{}, missing("data")
	}
	if len(r.data) == 0 || len(r.data) > hsmbackend.MaxRandomLen {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidField, "seed of %d bytes (want 1 to %d)", len(r.data), hsmbackend.MaxRandomLen)
	}
	used := int32(len(r.data)) //nolint:gosec // at most MaxRandomLen, checked above
	if err := c.s.hsm.SeedRandom(ctx, r.data); err != nil {
		if !errors.Is(err, hsmbackend.ErrMechanismUnsupported) {
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "seeding the random number generator failed")
		}
		used = 0
	}
	return kmip.Payload(ttlv.Int(kmip.TagDataLength, used)), nil
}
