package service

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des" //nolint:gosec // 3DES stays because KMIP names it as a derivation cipher (KMIP 1.4 §4.6 ENCRYPT)
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"encoding/binary"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds Derive Key (KMIP 1.4 §4.6, 2.0 §6.1.13). The base key
// is unwrapped from the HSM for the derivation only and cleared after; the
// derived material is wrapped at once and stored like a Create's.
//
// Methods: PBKDF2 (RFC 8018), HASH, HMAC, ENCRYPT (AES or 3DES in ECB or
// CBC mode over the Derivation Data), NIST800-108-C (SP 800-108 counter
// mode with an HMAC or AES-CMAC PRF) and HKDF (RFC 5869, 2.0 and later).
// Asymmetric Key is ECDH with EC keys, done in the HSM (derive_ecdh.go).
// Feedback, double-pipeline and AWS SigV4 derivation are refused with
// Invalid Field, the reason KMIP 1.4 §11.7 gives for an invalid
// Derivation Method.

// Bounds on hostile input: the Iteration Count drives CPU time, the
// Derivation Data and the requested length drive memory.
const (
	deriveMaxIterations = 1 << 20
	deriveMaxDataLen    = 1 << 16
)

// deriveParams is a parsed Derivation Parameters structure (KMIP 1.4 §4.6
// Tables 182 and 183; 2.0 §6.1.13).
type deriveParams struct {
	crypto     cryptoParams
	hasCrypto  bool
	iv         []byte
	data       []byte
	hasData    bool
	salt       []byte
	iterations int32
	hasIter    bool
}

// deriveInvalid is the Result Reason of a bad Derivation Method or
// Derivation Parameters (KMIP 1.4 §11.7: Invalid Field in every version).
func deriveInvalid(format string, args ...any) error {
	return kmip.Errorf(kmip.ResultReasonInvalidField, "derive key: "+format, args...)
}

func parseDeriveParams(v ttlv.Value) (deriveParams, error) {
	var p deriveParams
	if v.Type != ttlv.TypeStructure {
		return p, deriveInvalid("derivation parameters: not a structure")
	}
	seen := map[ttlv.Tag]bool{}
	for _, f := range v.Children() {
		if seen[f.Tag] {
			return p, kmip.Errorf(kmip.ResultReasonInvalidMessage, "derive key: derivation parameters repeat %s", kmip.TagString(f.Tag))
		}
		seen[f.Tag] = true
		switch f.Tag {
		case kmip.TagCryptographicParameters:
			cp, err := parseCryptoParams(f)
			if err != nil {
				return p, err
			}
			p.crypto, p.hasCrypto = cp, true
		case kmip.TagInitializationVector, kmip.TagDerivationData, kmip.TagSalt:
			if f.Type != ttlv.TypeByteString {
				return p, deriveInvalid("%s is not a byte string", kmip.TagString(f.Tag))
			}
			b := f.Bytes()
			if len(b) > deriveMaxDataLen {
				return p, deriveInvalid("%s of %d bytes is too long", kmip.TagString(f.Tag), len(b))
			}
			switch f.Tag {
			case kmip.TagInitializationVector:
				p.iv = b
			case kmip.TagDerivationData:
				p.data, p.hasData = b, true
			default:
				p.salt = b
			}
		case kmip.TagIterationCount:
			if f.Type != ttlv.TypeInteger {
				return p, deriveInvalid("iteration count is not an integer")
			}
			p.iterations, p.hasIter = f.Int(), true
		}
	}
	return p, nil
}

// deriveHash is the hash of the Cryptographic Parameters, or def when they
// name none.
func deriveHash(p deriveParams, def crypto.Hash) (crypto.Hash, error) {
	if !p.hasCrypto || p.crypto.hash == 0 {
		if def == 0 {
			return 0, deriveInvalid("cryptographic parameters must name a hashing algorithm")
		}
		return def, nil
	}
	h, ok := goHash(p.crypto.hash)
	if !ok {
		return 0, deriveInvalid("hashing algorithm %v is not supported", p.crypto.hash)
	}
	return h, nil
}

// deriveMaterial runs method over key with p and returns n bytes. An
// output shorter than n is an error (KMIP 1.4 §4.6: "If the specified
// length exceeds the output of the derivation method, then the server
// SHALL return an error"). The caller clears the result.
func deriveMaterial(method kmip.DerivationMethod, key []byte, p deriveParams, n int, v2 bool) ([]byte, error) {
	var out []byte
	switch method {
	case kmip.DerivationMethodPBKDF2:
		// KMIP 1.4 Table 183: the PRF defaults to HMAC-SHA-1 (vector
		// TC-DERIVEKEY-3 relies on it); Iteration Count is REQUIRED.
		h, err := deriveHash(p, crypto.SHA1)
		if err != nil {
			return nil, err
		}
		if !p.hasIter || p.iterations < 1 || p.iterations > deriveMaxIterations {
			return nil, deriveInvalid("PBKDF2 needs an iteration count from 1 to %d", deriveMaxIterations)
		}
		if len(key) == 0 {
			return nil, deriveInvalid("PBKDF2 password is empty")
		}
		// The standard library takes the password as a string, a copy
		// that cannot be cleared; it lives until the next collection.
		if out, err = pbkdf2.Key(h.New, string(key), p.salt, int(p.iterations), n); err != nil {
			return nil, deriveInvalid("PBKDF2: %v", err)
		}
		return out, nil
	case kmip.DerivationMethodHASH:
		// "a hash over the derivation key or the derivation data": over
		// the key, followed by the data when given, so the result always
		// depends on the base object.
		h, err := deriveHash(p, 0)
		if err != nil {
			return nil, err
		}
		d := h.New()
		d.Write(key)
		d.Write(p.data)
		out = d.Sum(nil)
	case kmip.DerivationMethodHMAC:
		// Cryptographic Parameters are optional for HMAC derivation keys
		// (Table 182): an HMAC key's algorithm names the hash.
		h, err := deriveHash(p, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		if !p.hasData {
			return nil, deriveInvalid("HMAC derivation needs derivation data")
		}
		m := hmac.New(h.New, key)
		m.Write(p.data)
		out = m.Sum(nil)
	case kmip.DerivationMethodENCRYPT:
		return deriveEncrypt(key, p, n)
	case kmip.DerivationMethodNIST800108C:
		return deriveCounter(key, p, n)
	case kmip.DerivationMethodHKDF:
		if !v2 {
			return nil, deriveInvalid("HKDF is a KMIP 2.0 derivation method")
		}
		h, err := deriveHash(p, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		if out, err = hkdf.Key(h.New, key, p.salt, string(p.data), n); err != nil {
			return nil, deriveInvalid("HKDF: %v", err)
		}
		return out, nil
	default:
		return nil, deriveInvalid("derivation method %v is not supported", method)
	}
	if len(out) < n {
		clear(out)
		return nil, deriveInvalid("%v yields %d bits, fewer than the %d asked", method, 8*len(out), 8*n)
	}
	clear(out[n:])
	return out[:n], nil
}

// deriveBlock makes a block cipher of the base key: AES by its length, or
// 3DES when the Cryptographic Parameters say so.
func deriveBlock(key []byte, p deriveParams) (cipher.Block, error) {
	if p.hasCrypto && p.crypto.alg == kmip.CryptographicAlgorithmDES3 {
		b, err := des.NewTripleDESCipher(key) //nolint:gosec // see the import
		if err != nil {
			return nil, deriveInvalid("3DES key: %v", err)
		}
		return b, nil
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, deriveInvalid("AES key: %v", err)
	}
	return b, nil
}

// deriveEncrypt is the ENCRYPT method: the Derivation Data encrypted under
// the base key in ECB or CBC mode (the Block Cipher Mode of the
// Cryptographic Parameters; CBC takes the Initialization Vector, an empty
// one meaning zeros as Table 182 says), the data padded with PKCS#5 when
// the Padding Method asks for it.
func deriveEncrypt(key []byte, p deriveParams, n int) ([]byte, error) {
	if !p.hasData {
		return nil, deriveInvalid("ENCRYPT derivation needs derivation data")
	}
	b, err := deriveBlock(key, p)
	if err != nil {
		return nil, err
	}
	bs := b.BlockSize()
	data := p.data
	if p.crypto.padding == kmip.PaddingMethodPKCS5 {
		data = pkcs5Pad(append([]byte(nil), p.data...), bs)
	}
	if len(data) == 0 || len(data)%bs != 0 {
		return nil, deriveInvalid("derivation data is not a whole number of %d-byte blocks", bs)
	}
	if len(data) < n {
		return nil, deriveInvalid("ENCRYPT yields %d bits, fewer than the %d asked", 8*len(data), 8*n)
	}
	out := make([]byte, len(data))
	switch p.crypto.mode {
	case kmip.BlockCipherModeECB:
		for i := 0; i < len(data); i += bs {
			b.Encrypt(out[i:i+bs], data[i:i+bs])
		}
	case kmip.BlockCipherModeCBC, 0:
		if len(p.iv) != 0 && len(p.iv) != bs {
			return nil, deriveInvalid("initialization vector of %d bytes, want %d", len(p.iv), bs)
		}
		iv := make([]byte, bs)
		copy(iv, p.iv)
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, data)
	default:
		return nil, deriveInvalid("block cipher mode %v is not supported for derivation", p.crypto.mode)
	}
	clear(out[n:])
	return out[:n], nil
}

// deriveCounter is SP 800-108 §5.1 (KDF in counter mode): K(i) =
// PRF(key, [i]₃₂ ‖ Derivation Data) for i = 1, 2, ..., the Derivation Data
// being the fixed input data (Label ‖ 0x00 ‖ Context ‖ [L]) the client
// composed. The PRF is HMAC with the hash of the Cryptographic Parameters,
// or AES-CMAC when they name AES as the algorithm.
func deriveCounter(key []byte, p deriveParams, n int) ([]byte, error) {
	if !p.hasCrypto {
		return nil, deriveInvalid("NIST800-108-C needs cryptographic parameters naming the PRF")
	}
	var prf func(msg []byte) ([]byte, error)
	if p.crypto.alg == kmip.CryptographicAlgorithmAES && p.crypto.hash == 0 {
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, deriveInvalid("AES key: %v", err)
		}
		prf = func(msg []byte) ([]byte, error) { return cmacSum(goCMAC{b}, msg) }
	} else {
		h, err := deriveHash(p, 0)
		if err != nil {
			return nil, err
		}
		prf = func(msg []byte) ([]byte, error) {
			m := hmac.New(h.New, key)
			m.Write(msg)
			return m.Sum(nil), nil
		}
	}
	out := make([]byte, 0, n+64)
	msg := make([]byte, 4+len(p.data))
	copy(msg[4:], p.data)
	for i := uint32(1); len(out) < n; i++ {
		if i == 0 {
			clear(out)
			return nil, deriveInvalid("NIST800-108-C counter overflows")
		}
		binary.BigEndian.PutUint32(msg, i)
		k, err := prf(msg)
		if err != nil {
			clear(out)
			return nil, deriveInvalid("PRF: %v", err)
		}
		out = append(out, k...)
		clear(k)
	}
	clear(out[n:])
	return out[:n], nil
}

// deriveBaseIDs lists the Unique Identifiers of the payload, or the ID
// Placeholder when it names none (KMIP 1.4 §4.6 forbids the placeholder;
// 2.0 §6.1.13 allows it, and a 1.x client sending none is better served
// than refused).
func deriveBaseIDs(req *kmip.Request) ([]string, error) {
	var ids []string
	for _, f := range req.Payload.Children() {
		if f.Tag != kmip.TagUniqueIdentifier {
			continue
		}
		if f.Type != ttlv.TypeTextString {
			return nil, crFieldType(f)
		}
		ids = append(ids, f.Text())
	}
	if len(ids) > 0 {
		return ids, nil
	}
	id, err := targetID(req)
	if err != nil {
		return nil, err
	}
	return []string{id}, nil
}

// deriveKeyOp is Derive Key (KMIP 1.4 §4.6, 2.0 §6.1.13). The first
// object named is the derivation key; a second, Secret Data, object
// supplies the Derivation Data instead of the parameters (Table 182).
func (s *Service) deriveKeyOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	fields, ot, err := crFieldsAndType(req.Payload, kmip.TagUniqueIdentifier)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := crCheckMakesSecret(req, ot, "derive key"); err != nil {
		return ttlv.Value{}, err
	}
	mv, ok := fields[kmip.TagDerivationMethod]
	if !ok {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidMessage, "derive key: derivation method is missing")
	}
	if mv.Type != ttlv.TypeEnumeration {
		return ttlv.Value{}, crFieldType(mv)
	}
	method := kmip.DerivationMethod(mv.Enum())
	pv, ok := fields[kmip.TagDerivationParameters]
	if !ok {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonInvalidMessage, "derive key: derivation parameters are missing")
	}
	params, err := parseDeriveParams(pv)
	if err != nil {
		return ttlv.Value{}, err
	}
	attrs, err := s.crClientAttributes(ctx, req, fields, ot, true)
	if err != nil {
		return ttlv.Value{}, err
	}
	spec, alg, bits, format, err := deriveTarget(req, ot, attrs)
	if err != nil {
		return ttlv.Value{}, err
	}
	ids, err := deriveBaseIDs(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	asymmetric := method == kmip.DerivationMethodAsymmetricKey
	var bases []*objects.Object
	if asymmetric {
		bases, err = s.ecdhBases(ctx, req, ids, params)
	} else {
		bases, err = s.symmetricBases(ctx, req, ids, method, &params)
	}
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCheckNamesFree(ctx, req, attrs); err != nil {
		return ttlv.Value{}, err
	}
	// The Derive Key usage is consumed of the objects it was required of:
	// not of an ECDH peer's public key (see ecdhBases).
	used := bases
	if asymmetric {
		used = bases[:1]
	}
	for _, o := range used {
		if err := s.consumeUsage(ctx, req, o.ID, kmip.CryptographicUsageMaskDeriveKey, 0); err != nil {
			return ttlv.Value{}, err
		}
	}
	size := int(bits / 8)
	if spec.Kind == hsmbackend.DES3 {
		size = 24 // a 168-bit 3DES key is 24 bytes with parity
	}
	var w hsmbackend.Wrapped
	var digest ttlv.Value
	if asymmetric {
		w, digest, err = s.deriveWrappedECDH(ctx, bases, spec, size, format)
	} else {
		w, digest, err = s.deriveWrapped(ctx, req, method, bases, params, spec, size, format)
	}
	if err != nil {
		return ttlv.Value{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	o, err := s.crNewSecretObject(ctx, ot, attrs, now, w, alg, bits, kmip.SecretDataTypeSeed, digest, format)
	if err != nil {
		return ttlv.Value{}, err
	}
	for _, b := range bases {
		o.AddAttr(attr(attrLink, crLink(kmip.LinkTypeDerivationBaseObjectLink, b.ID)))
	}
	// KMIP 1.4 §4.6: each base object links to what was derived from it.
	// The new object and those links are one write, so that a failure
	// cannot leave a derived key its base objects do not name.
	links := make([]objects.Change, len(bases))
	for i, b := range bases {
		links[i] = objects.Change{ID: b.ID, Fn: func(bo *objects.Object) error {
			bo.AddAttr(attr(attrLink, crLink(kmip.LinkTypeDerivedKeyLink, o.ID)))
			touch(bo, now)
			return nil
		}}
	}
	if err := s.store.Apply(ctx, []*objects.Object{o}, links); err != nil {
		return ttlv.Value{}, crStoreError(req, err, o.ID)
	}
	return uidPayload(o.ID), nil
}

// deriveKeyParams holds the request to the derivation key's own
// Cryptographic Parameters (KMIP 1.4 §4.6): "The server SHALL verify that
// the specified mode matches one of the instances of Cryptographic
// Parameters set for the corresponding key. If Cryptographic Parameters
// are omitted, then the server SHALL select the Cryptographic Parameters
// with the lowest Attribute Index". HMAC derivation ignores them (same
// section).
//
// The section goes on to refuse a key with no Cryptographic Parameters at
// all; the OASIS vectors do not (TC-DERIVEKEY-1 registers its key without
// them and expects HASH derivation with SHA-256 to succeed), and clients
// follow the vectors, so a key without the attribute places no limit.
func deriveKeyParams(method kmip.DerivationMethod, key *objects.Object, p *deriveParams) error {
	if method == kmip.DerivationMethodHMAC {
		return nil
	}
	stored := key.AttrsNamed(attrCryptoParameters)
	if len(stored) == 0 {
		return nil
	}
	if !p.hasCrypto {
		lowest := stored[0]
		for _, a := range stored[1:] {
			if a.Index < lowest.Index {
				lowest = a
			}
		}
		cp, err := parseCryptoParams(lowest.Value)
		if err != nil {
			return kmip.Errorf(kmip.ResultReasonCryptographicFailure, "stored cryptographic parameters of %s are malformed", key.ID)
		}
		p.crypto, p.hasCrypto = cp, true
		return nil
	}
	for _, a := range stored {
		if cp, err := parseCryptoParams(a.Value); err == nil && deriveModeMatches(p.crypto, cp) {
			return nil
		}
	}
	return deriveInvalid("the cryptographic parameters match none of those of derivation key %s", key.ID)
}

// deriveModeMatches reports whether the request's parameters (req) name
// the mode of one stored instance (key): every field that chooses the PRF
// or its mode and that both give must agree. A field the key's instance
// leaves out does not restrict the request.
func deriveModeMatches(req, key cryptoParams) bool {
	agree := func(r, k uint32) bool { return r == 0 || k == 0 || r == k }
	return agree(uint32(req.alg), uint32(key.alg)) &&
		agree(uint32(req.hash), uint32(key.hash)) &&
		agree(uint32(req.mode), uint32(key.mode)) &&
		agree(uint32(req.padding), uint32(key.padding))
}

// deriveTarget checks the algorithm and length of the object to derive
// (KMIP 1.4 §4.6: "the client SHALL specify the desired length ... If a
// key is created, then the client SHALL specify both its Cryptographic
// Length and Cryptographic Algorithm") and returns how to wrap it, and its
// default Key Format Type.
func deriveTarget(req *kmip.Request, ot kmip.ObjectType, attrs []kmip.Attribute) (hsmbackend.SecretSpec, kmip.CryptographicAlgorithm, int32, kmip.KeyFormatType, error) {
	bits, haveBits := crIntAttr(attrs, attrCryptoLength)
	if !haveBits {
		return hsmbackend.SecretSpec{}, 0, 0, 0, crBadValue(req, "derive key: cryptographic length is required")
	}
	if ot == kmip.ObjectTypeSecretData {
		if bits < 8 || bits%8 != 0 || bits > 8*hsmbackend.MaxMaterialLen {
			return hsmbackend.SecretSpec{}, 0, 0, 0, crBadValue(req, "derive key: cryptographic length %d is not a whole number of bytes", bits)
		}
		return hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: int(bits)}, 0, bits, kmip.KeyFormatTypeOpaque, nil
	}
	a, ok := crEnumAttr(attrs, attrCryptoAlgorithm)
	if !ok {
		return hsmbackend.SecretSpec{}, 0, 0, 0, crBadValue(req, "derive key: cryptographic algorithm is required")
	}
	alg := kmip.CryptographicAlgorithm(a)
	spec, bits, err := symmetricSpec(req, alg, bits, true)
	if err != nil {
		return hsmbackend.SecretSpec{}, 0, 0, 0, err
	}
	if err := checkQuantumSafe(attrs, alg, bits); err != nil {
		return hsmbackend.SecretSpec{}, 0, 0, 0, err
	}
	return spec, alg, bits, kmip.KeyFormatTypeRaw, nil
}

// symmetricBases loads and checks the objects of a derivation from
// secret material: the derivation key, and optionally a Secret Data
// object holding the Derivation Data (KMIP 1.4 §4.6 Table 182). It
// applies the key's Cryptographic Parameters to p (deriveKeyParams).
func (s *Service) symmetricBases(ctx context.Context, req *kmip.Request, ids []string, method kmip.DerivationMethod, p *deriveParams) ([]*objects.Object, error) {
	if len(ids) > 2 {
		return nil, deriveInvalid("at most a derivation key and one secret data object, not %d objects", len(ids))
	}
	bases := make([]*objects.Object, len(ids))
	for i, id := range ids {
		o, err := s.object(ctx, req, id)
		if err != nil {
			return nil, err
		}
		if (o.ObjectType != kmip.ObjectTypeSymmetricKey && o.ObjectType != kmip.ObjectTypeSecretData) ||
			(i > 0 && o.ObjectType != kmip.ObjectTypeSecretData) || o.Wrapped == nil {
			// KMIP 1.4 §11.7: "not of the correct type".
			return nil, crBadObjectType(req, "object %s (%v) cannot be used to derive a key", id, o.ObjectType)
		}
		if err := s.requireUsable(ctx, req, o, kmip.CryptographicUsageMaskDeriveKey); err != nil {
			return nil, err
		}
		bases[i] = o
	}
	if err := deriveKeyParams(method, bases[0], p); err != nil {
		return nil, err
	}
	if len(bases) == 2 && p.hasData {
		// KMIP 1.4 §11.7: "Ambiguous derivation data".
		return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "derive key: derivation data given both in the parameters and as secret data")
	}
	return bases, nil
}

// deriveWrapped derives n bytes from secret bases and returns them
// wrapped as spec, with their Digest in format (KMIP 1.4 §3.17). The
// plaintext is cleared before returning.
func (s *Service) deriveWrapped(ctx context.Context, req *kmip.Request, method kmip.DerivationMethod, bases []*objects.Object,
	p deriveParams, spec hsmbackend.SecretSpec, n int, format kmip.KeyFormatType,
) (hsmbackend.Wrapped, ttlv.Value, error) {
	derived, err := s.deriveFrom(ctx, req, method, bases, p, n)
	if err != nil {
		return hsmbackend.Wrapped{}, ttlv.Value{}, err
	}
	defer clear(derived)
	digest := crDigest(ttlv.Bytes(kmip.TagKeyMaterial, derived), format)
	w, err := s.hsm.WrapSecret(ctx, spec.Kind, derived)
	if err != nil {
		return hsmbackend.Wrapped{}, ttlv.Value{}, hsmError("derive key", err)
	}
	return w, digest, nil
}

// deriveWrappedECDH is deriveWrapped for ECDH (derive_ecdh.go): the HSM
// digests the secret it made; when it cannot, the secret is unwrapped
// once for the Digest, as Create does.
func (s *Service) deriveWrappedECDH(ctx context.Context, bases []*objects.Object, spec hsmbackend.SecretSpec, n int, format kmip.KeyFormatType) (hsmbackend.Wrapped, ttlv.Value, error) {
	w, sum, err := s.deriveECDH(ctx, bases, spec, n)
	if err != nil {
		return hsmbackend.Wrapped{}, ttlv.Value{}, err
	}
	if sum != nil {
		return w, crDigestOfSHA256(sum, format), nil
	}
	digest, err := s.crSecretDigest(ctx, w, func(plain []byte) ttlv.Value { return ttlv.Bytes(kmip.TagKeyMaterial, plain) }, format)
	if err != nil {
		return hsmbackend.Wrapped{}, ttlv.Value{}, err
	}
	return w, digest, nil
}

// deriveFrom unwraps the base material and derives n bytes. The caller
// clears the result.
func (s *Service) deriveFrom(ctx context.Context, req *kmip.Request, method kmip.DerivationMethod, bases []*objects.Object, p deriveParams, n int) ([]byte, error) {
	key, err := s.hsm.Unwrap(ctx, fromStored(bases[0].Wrapped))
	if err != nil {
		return nil, hsmError("derive key", err)
	}
	defer clear(key)
	if len(bases) == 2 {
		data, err := s.hsm.Unwrap(ctx, fromStored(bases[1].Wrapped))
		if err != nil {
			return nil, hsmError("derive key", err)
		}
		defer clear(data)
		p.data, p.hasData = data, true
	}
	return deriveMaterial(method, key, p, n, req.Version.Is2x())
}
