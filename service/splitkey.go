package service

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds Create Split Key and Join Split Key (KMIP 1.4 §4.38,
// §4.39; 2.0 §6.1.10, §6.1.26) and the secret sharing behind them (1.4
// §2.2.5, 2.0 §2.8).
//
// Create Split Key splits an existing Symmetric Key or Secret Data into
// Split Key objects, one per part, each wrapped under the HSM master key
// like any other secret. Join Split Key recombines parts into a new
// Symmetric Key or Secret Data. The plaintext key and the shares exist in
// process memory only while the operation runs and are cleared after; the
// polynomial coefficients and XOR pads come from the HSM's random number
// generator, as server-generated keys do.
//
// Methods: XOR (every part needed) and Polynomial Sharing GF(2^8)
// (Shamir's scheme, byte by byte, in the field of 2.0 §2.8: x^8 + x^4 +
// x^3 + x^2 + 1, which the OASIS vectors TC-SJ-2 and TC-SJ-3 use too; the
// share of part i is the polynomial at x = i). Polynomial Sharing
// GF(2^16) and Prime Field are refused with Invalid Field ("Split Key
// Method not supported", 1.4 Table 362): 1.4 and 2.0 disagree on the
// GF(2^8) under GF(2^16), and no vector exercises either.
//
// Links: no Link Type names split keys (1.4 §3.35), so the parts carry a
// Derivation Base Object Link to the key they were split from, which
// carries a Derived Key Link to each part; a joined key links to the
// parts it was joined from the same way.

// splitMaxParts bounds Split Key Parts: GF(2^8) has 255 non-zero
// evaluation points, and XOR gains nothing from more.
const splitMaxParts = 255

// splitParams are the fields of a Split Key structure other than its Key
// Block (1.4 Table 49).
type splitParams struct {
	parts, threshold int32
	method           kmip.SplitKeyMethod
}

// splitInvalid is Invalid Field, the reason 1.4 Tables 362 and 363 give
// for incorrect values and an unsupported method.
func splitInvalid(op, format string, args ...any) error {
	return kmip.Errorf(kmip.ResultReasonInvalidField, op+": "+format, args...)
}

// splitCryptoFailure is Cryptographic Failure, the reason of parts that
// cannot be joined (1.4 Table 363; vectors TC-SJ-1 to TC-SJ-4).
func splitCryptoFailure(format string, args ...any) error {
	return kmip.Errorf(kmip.ResultReasonCryptographicFailure, "join split key: "+format, args...)
}

// check refuses parameters kmipd cannot split with or join: an unsupported
// method, a threshold below 2 (every part would be the key itself) or
// above the number of parts, and XOR with a threshold other than the
// number of parts (1.4 §2.2.5: "identical to Split Key Threshold").
func (p splitParams) check(op string) error {
	switch p.method {
	case kmip.SplitKeyMethodXOR, kmip.SplitKeyMethodPolynomialSharingGF28:
	default:
		return splitInvalid(op, "split key method %v is not supported (XOR and Polynomial Sharing GF(2^8) are)", p.method)
	}
	if p.parts < 2 || p.parts > splitMaxParts {
		return splitInvalid(op, "split key parts %d: want 2 to %d", p.parts, splitMaxParts)
	}
	if p.threshold < 2 || p.threshold > p.parts {
		return splitInvalid(op, "split key threshold %d: want 2 to the number of parts (%d)", p.threshold, p.parts)
	}
	if p.method == kmip.SplitKeyMethodXOR && p.threshold != p.parts {
		return splitInvalid(op, "XOR splitting needs every part: threshold %d must equal parts %d", p.threshold, p.parts)
	}
	return nil
}

// splitIntField reads a REQUIRED Integer field of a payload or structure.
func splitIntField(op string, v ttlv.Value, tag ttlv.Tag) (int32, error) {
	f, ok := v.Child(tag)
	if !ok {
		return 0, kmip.Errorf(kmip.ResultReasonInvalidMessage, "%s: %s is missing", op, kmip.TagString(tag))
	}
	if f.Type != ttlv.TypeInteger {
		return 0, crFieldType(f)
	}
	return f.Int(), nil
}

// parseSplitParams reads Split Key Parts, Threshold and Method from v (a
// Create Split Key payload or a Split Key structure).
func parseSplitParams(op string, v ttlv.Value) (splitParams, error) {
	var p splitParams
	var err error
	if p.parts, err = splitIntField(op, v, kmip.TagSplitKeyParts); err != nil {
		return p, err
	}
	if p.threshold, err = splitIntField(op, v, kmip.TagSplitKeyThreshold); err != nil {
		return p, err
	}
	m, ok := v.Child(kmip.TagSplitKeyMethod)
	if !ok {
		return p, kmip.Errorf(kmip.ResultReasonInvalidMessage, "%s: split key method is missing", op)
	}
	if m.Type != ttlv.TypeEnumeration {
		return p, crFieldType(m)
	}
	p.method = kmip.SplitKeyMethod(m.Enum())
	return p, nil
}

// shell is the stored Split Key structure of part id, without Key Block
// (register.go, "Object shells"; Get adds the Key Block back).
func (p splitParams) shell(id int32) []byte {
	return crEncodeShell(ttlv.Struct(kmip.TagSplitKey,
		ttlv.Int(kmip.TagSplitKeyParts, p.parts),
		ttlv.Int(kmip.TagKeyPartIdentifier, id),
		ttlv.Int(kmip.TagSplitKeyThreshold, p.threshold),
		ttlv.Enum(kmip.TagSplitKeyMethod, uint32(p.method))))
}

// registerSplitKeyOps registers Create Split Key and Join Split Key.
func (s *Service) registerSplitKeyOps() {
	s.mux.HandleFunc(kmip.OperationCreateSplitKey, s.createSplitKeyOp)
	s.mux.HandleFunc(kmip.OperationJoinSplitKey, s.joinSplitKeyOp)
}

// createSplitKeyOp is Create Split Key (KMIP 1.4 §4.38, 2.0 §6.1.10). The
// key to split is the Unique Identifier of the payload or the ID
// Placeholder; kmipd does not generate a fresh key to split (the request
// "MAY contain" one, and one nobody holds whole serves little).
func (s *Service) createSplitKeyOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	const op = "create split key"
	fields, ot, err := crFieldsAndType(req.Payload)
	if err != nil {
		return ttlv.Value{}, err
	}
	if ot != kmip.ObjectTypeSplitKey {
		return ttlv.Value{}, crBadObjectType(req, "%s makes split keys, not %v", op, ot)
	}
	params, err := parseSplitParams(op, req.Payload)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := params.check(op); err != nil {
		return ttlv.Value{}, err
	}
	attrs, err := s.crClientAttributes(ctx, req, fields, ot, true)
	if err != nil {
		return ttlv.Value{}, err
	}
	if _, named := crFindAttr(attrs, attrName); named {
		// Names are unique (1.4 §3.2): one Name cannot go to every part.
		return ttlv.Value{}, crBadValue(req, "%s: a name cannot be given to all %d parts; name them after", op, params.parts)
	}
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	base, err := s.splitBase(ctx, req, id)
	if err != nil {
		return ttlv.Value{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	parts, err := s.splitParts(ctx, base, params, attrs, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	// The parts and the base key's links to them are one write.
	links := []objects.Change{{ID: base.ID, Fn: func(bo *objects.Object) error {
		for _, p := range parts {
			bo.AddAttr(attr(attrLink, crLink(kmip.LinkTypeDerivedKeyLink, p.ID)))
		}
		touch(bo, now)
		return nil
	}}}
	if err := s.store.Apply(ctx, parts, links); err != nil {
		return ttlv.Value{}, crStoreError(req, err, parts[0].ID)
	}
	out := make([]ttlv.Value, len(parts))
	for i, p := range parts {
		out[i] = ttlv.Text(kmip.TagUniqueIdentifier, p.ID)
	}
	return kmip.Payload(out...), nil
}

// splitBase loads the key to split: a Symmetric Key or Secret Data with
// material, which may leave the server (splitting hands its parts to
// clients, so a non-extractable key is refused as Get would refuse it).
func (s *Service) splitBase(ctx context.Context, req *kmip.Request, id string) (*objects.Object, error) {
	o, err := s.object(ctx, req, id)
	if err != nil {
		return nil, err
	}
	if (o.ObjectType != kmip.ObjectTypeSymmetricKey && o.ObjectType != kmip.ObjectTypeSecretData) || o.Wrapped == nil {
		return nil, crBadObjectType(req, "create split key: object %s (%v) cannot be split: only symmetric keys and secret data with key material can", id, o.ObjectType)
	}
	if o.Archived {
		return nil, archivedError(o.ID)
	}
	if a, ok := o.Attr(attrExtractable); ok && a.Value.Type == ttlv.TypeBoolean && !a.Value.Bool() {
		return nil, crRefusal(req, kmip.ResultReasonNotExtractable, "object %s is not extractable and cannot be split", o.ID)
	}
	return o, nil
}

// splitParts unwraps base, splits it and builds one wrapped Split Key
// object per part, Key Part Identifier 1 first. The parts keep the
// base's Cryptographic Algorithm and Length (1.4 §4.38: "the attributes
// of the key take precedence") and its Sensitive flag.
func (s *Service) splitParts(ctx context.Context, base *objects.Object, p splitParams, attrs []kmip.Attribute, now time.Time) ([]*objects.Object, error) {
	plain, err := s.hsm.Unwrap(ctx, fromStored(base.Wrapped))
	if err != nil {
		return nil, hsmError("create split key", err)
	}
	defer clear(plain)
	shares, err := s.splitSecret(ctx, p, plain)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, sh := range shares {
			clear(sh)
		}
	}()
	attrs = splitInheritedAttrs(base, attrs)
	out := make([]*objects.Object, len(shares))
	for i, share := range shares {
		o, err := s.crNewObject(ctx, kmip.ObjectTypeSplitKey, attrs, now)
		if err != nil {
			return nil, err
		}
		w, err := s.hsm.WrapSecret(ctx, hsmbackend.GenericSecret, share)
		if err != nil {
			return nil, hsmError("create split key", err)
		}
		o.Wrapped = toStored(w)
		o.Public = p.shell(int32(i + 1)) // i < splitMaxParts (255)
		splitCopyCrypto(o, base)
		o.SetAttr(attr(attrOriginalCreationDate, ttlv.DateTime(0, now)))
		o.SetAttr(attr(attrDigest, crDigest(ttlv.Bytes(kmip.TagKeyMaterial, share), kmip.KeyFormatTypeRaw)))
		crSetFormat(o, kmip.KeyFormatTypeRaw)
		o.AddAttr(attr(attrLink, crLink(kmip.LinkTypeDerivationBaseObjectLink, base.ID)))
		out[i] = o
	}
	return out, nil
}

// splitInheritedAttrs adds to the client's attributes the base key's
// Cryptographic Usage Mask, when the client gave none, and its Sensitive
// flag: a part of a sensitive key is as sensitive (1.4 §3.48).
func splitInheritedAttrs(base *objects.Object, attrs []kmip.Attribute) []kmip.Attribute {
	out := append([]kmip.Attribute(nil), attrs...)
	if _, given := crFindAttr(out, attrCryptoUsageMask); !given {
		if a, ok := base.Attr(attrCryptoUsageMask); ok {
			out = append(out, a)
		}
	}
	if a, ok := base.Attr(attrSensitive); ok && a.Value.Type == ttlv.TypeBoolean && a.Value.Bool() {
		out = crDropAttr(out, attrSensitive)
		out = append(out, attr(attrSensitive, ttlv.Bool(0, true)))
	}
	return out
}

// splitCopyCrypto gives a part the base key's algorithm and length, which
// Get returns in the part's Key Block (vectors TC-SJ-2, TC-SJ-4).
func splitCopyCrypto(o, base *objects.Object) {
	if a, ok := base.Attr(attrCryptoAlgorithm); ok {
		o.SetAttr(a)
	}
	if a, ok := base.Attr(attrCryptoLength); ok {
		o.SetAttr(a)
	}
}

// splitSecret returns p.parts shares of secret; share i belongs to Key
// Part Identifier i+1. The caller clears them.
func (s *Service) splitSecret(ctx context.Context, p splitParams, secret []byte) ([][]byte, error) {
	if len(secret) == 0 {
		return nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure, "create split key: the key has no material")
	}
	// The random rows: XOR pads for all parts but the last, or the
	// coefficients of x^1 .. x^(t-1).
	rows := int(p.threshold) - 1
	if p.method == kmip.SplitKeyMethodXOR {
		rows = int(p.parts) - 1
	}
	random := make([][]byte, rows)
	defer func() {
		for _, r := range random {
			clear(r)
		}
	}()
	for i := range random {
		r, err := s.hsm.Random(ctx, len(secret))
		if err != nil {
			return nil, hsmError("create split key: random coefficients", err)
		}
		random[i] = r
	}
	if p.method == kmip.SplitKeyMethodXOR {
		return xorSplit(secret, random), nil
	}
	return gf256Split(secret, random, int(p.parts)), nil
}

// xorSplit makes len(pads)+1 shares: the pads, and the secret XORed with
// all of them (1.4 §2.2.5).
func xorSplit(secret []byte, pads [][]byte) [][]byte {
	shares := make([][]byte, len(pads)+1)
	last := append([]byte(nil), secret...)
	for i, pad := range pads {
		shares[i] = append([]byte(nil), pad...)
		subtle.XORBytes(last, last, pad)
	}
	shares[len(pads)] = last
	return shares
}

// gf256Split is Shamir's scheme over GF(2^8), byte by byte: the secret
// byte is the constant term, coeffs[k][b] the coefficient of x^(k+1) for
// byte b, and part i (1-based) gets the polynomial evaluated at x = i.
func gf256Split(secret []byte, coeffs [][]byte, parts int) [][]byte {
	shares := make([][]byte, parts)
	for i := range shares {
		x := byte(i + 1) // parts <= splitMaxParts (255): fits a byte
		share := make([]byte, len(secret))
		for b := range secret {
			// Horner: ((c_(t-1) x + c_(t-2)) x + ... ) x + secret.
			var y byte
			for k := len(coeffs) - 1; k >= 0; k-- {
				y = gf256Mul(y, x) ^ coeffs[k][b]
			}
			share[b] = gf256Mul(y, x) ^ secret[b]
		}
		shares[i] = share
	}
	return shares
}

// gf256Poly is the reduction polynomial x^8 + x^4 + x^3 + x^2 + 1 (285,
// KMIP 2.0 §2.8), without its x^8 term.
const gf256Poly = 0x1D

// gf256Mul multiplies in GF(2^8) without branches or table lookups on
// its operands, which may be secret.
func gf256Mul(a, b byte) byte {
	var r byte
	for range 8 {
		r ^= a & -(b & 1)
		carry := -(a >> 7)
		a = a<<1 ^ gf256Poly&carry
		b >>= 1
	}
	return r
}

// gf256Inv is the inverse of a non-zero a: a^254, since a^255 = 1.
func gf256Inv(a byte) byte {
	r := byte(1)
	for range 7 { // a^(2+4+...+128) = a^254
		a = gf256Mul(a, a)
		r = gf256Mul(r, a)
	}
	return r
}

// gf256Join recovers the secret from shares at the distinct non-zero
// points xs: Lagrange interpolation at 0. The points are public (the Key
// Part Identifiers); only the share bytes are secret.
func gf256Join(xs []byte, shares [][]byte) []byte {
	out := make([]byte, len(shares[0]))
	for i, xi := range xs {
		// l_i(0) = prod_{j != i} x_j / (x_j - x_i); minus is XOR.
		num, den := byte(1), byte(1)
		for j, xj := range xs {
			if j != i {
				num = gf256Mul(num, xj)
				den = gf256Mul(den, xj^xi)
			}
		}
		li := gf256Mul(num, gf256Inv(den))
		for b, y := range shares[i] {
			out[b] ^= gf256Mul(li, y)
		}
	}
	return out
}

// splitPart is a Split Key loaded for joining.
type splitPart struct {
	obj    *objects.Object
	params splitParams
	id     int32
}

// joinSplitKeyOp is Join Split Key (KMIP 1.4 §4.39, 2.0 §6.1.26).
func (s *Service) joinSplitKeyOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	const op = "join split key"
	fields, ot, err := crFieldsAndType(req.Payload, kmip.TagUniqueIdentifier)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := crCheckMakesSecret(req, ot, op); err != nil {
		return ttlv.Value{}, err
	}
	secretType := kmip.SecretDataTypeSeed
	if v, ok := fields[kmip.TagSecretDataType]; ok {
		if v.Type != ttlv.TypeEnumeration {
			return ttlv.Value{}, crFieldType(v)
		}
		secretType = kmip.SecretDataType(v.Enum())
	}
	attrs, err := s.crClientAttributes(ctx, req, fields, ot, false)
	if err != nil {
		return ttlv.Value{}, err
	}
	ids, err := deriveBaseIDs(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	parts, err := s.joinLoadParts(ctx, req, ids)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCheckNamesFree(ctx, req, attrs); err != nil {
		return ttlv.Value{}, err
	}
	joined, err := s.joinSecret(ctx, parts)
	if err != nil {
		return ttlv.Value{}, err
	}
	defer clear(joined)
	return s.joinStore(ctx, req, ot, secretType, attrs, parts, joined)
}

// joinLoadParts loads the parts named and checks that they belong
// together: Split Keys with the same parameters, distinct Key Part
// Identifiers, as many as the threshold (1.4 §4.39; too few is
// Cryptographic Failure, as 1.4 Table 363 and the vectors have it).
func (s *Service) joinLoadParts(ctx context.Context, req *kmip.Request, ids []string) ([]splitPart, error) {
	const op = "join split key"
	parts := make([]splitPart, 0, len(ids))
	seen := map[int32]bool{}
	for _, id := range ids {
		o, err := s.object(ctx, req, id)
		if err != nil {
			return nil, err
		}
		if o.ObjectType != kmip.ObjectTypeSplitKey || o.Wrapped == nil {
			return nil, crBadObjectType(req, "%s: object %s (%v) is not a split key with key material", op, id, o.ObjectType)
		}
		if o.Archived {
			// 1.4 Table 363: "One or more of the objects is archived".
			return nil, archivedError(o.ID)
		}
		p, kpi, err := splitPartParams(o)
		if err != nil {
			return nil, err
		}
		if len(parts) > 0 && p != parts[0].params {
			return nil, splitInvalid(op, "split key %s has other parameters than %s", id, parts[0].obj.ID)
		}
		if seen[kpi] {
			return nil, splitInvalid(op, "key part %d is given twice (object %s)", kpi, id)
		}
		seen[kpi] = true
		parts = append(parts, splitPart{obj: o, params: p, id: kpi})
	}
	if len(parts) < int(parts[0].params.threshold) {
		return nil, splitCryptoFailure("%d parts given, the threshold is %d", len(parts), parts[0].params.threshold)
	}
	return parts, nil
}

// splitPartParams reads the stored Split Key structure of o and checks
// it: a registered part was stored as the client sent it.
func splitPartParams(o *objects.Object) (splitParams, int32, error) {
	const op = "join split key"
	shell, err := crDecodeShell(o.Public)
	if err != nil || shell.Tag != kmip.TagSplitKey {
		return splitParams{}, 0, splitCryptoFailure("split key %s has no readable split key structure", o.ID)
	}
	p, err := parseSplitParams(op, shell)
	if err != nil {
		return splitParams{}, 0, err
	}
	if err := p.check(op); err != nil {
		return splitParams{}, 0, err
	}
	kpi, err := splitIntField(op, shell, kmip.TagKeyPartIdentifier)
	if err != nil {
		return splitParams{}, 0, err
	}
	if kpi < 1 || kpi > p.parts {
		// 1.4 §2.2.5: "at least 1 and ... less than or equal to Split Key Parts".
		return splitParams{}, 0, splitInvalid(op, "split key %s has key part identifier %d, not 1 to %d", o.ID, kpi, p.parts)
	}
	return p, kpi, nil
}

// joinSecret unwraps the parts and recombines them. The caller clears the
// result.
func (s *Service) joinSecret(ctx context.Context, parts []splitPart) ([]byte, error) {
	shares := make([][]byte, 0, len(parts))
	defer func() {
		for _, sh := range shares {
			clear(sh)
		}
	}()
	for _, p := range parts {
		b, err := s.hsm.Unwrap(ctx, fromStored(p.obj.Wrapped))
		if err != nil {
			return nil, hsmError("join split key", err)
		}
		shares = append(shares, b)
		if len(b) != len(shares[0]) || len(b) == 0 {
			return nil, splitCryptoFailure("split key %s holds %d bytes, %s holds %d", p.obj.ID, len(b), parts[0].obj.ID, len(shares[0]))
		}
	}
	if parts[0].params.method == kmip.SplitKeyMethodXOR {
		out := make([]byte, len(shares[0]))
		for _, sh := range shares {
			subtle.XORBytes(out, out, sh)
		}
		return out, nil
	}
	xs := make([]byte, len(parts))
	for i, p := range parts {
		xs[i] = byte(p.id) //nolint:gosec // G115: 1 <= id <= splitMaxParts
	}
	return gf256Join(xs, shares), nil
}

// joinStore wraps the joined material as a new object of type ot and
// stores it with links to and from its parts. Its algorithm and length
// are those of the attributes, else those the parts carry.
func (s *Service) joinStore(ctx context.Context, req *kmip.Request, ot kmip.ObjectType, secretType kmip.SecretDataType,
	attrs []kmip.Attribute, parts []splitPart, joined []byte) (ttlv.Value, error) {
	alg, bits, kind, format, err := joinTarget(req, ot, attrs, parts[0].obj, len(joined))
	if err != nil {
		return ttlv.Value{}, err
	}
	digest := crDigest(ttlv.Bytes(kmip.TagKeyMaterial, joined), format)
	w, err := s.hsm.WrapSecret(ctx, kind, joined)
	if err != nil {
		return ttlv.Value{}, hsmError("join split key", err)
	}
	now := s.now().UTC().Truncate(time.Second)
	o, err := s.crNewSecretObject(ctx, ot, attrs, now, w, alg, bits, secretType, digest, format)
	if err != nil {
		return ttlv.Value{}, err
	}
	links := make([]objects.Change, len(parts))
	for i, p := range parts {
		o.AddAttr(attr(attrLink, crLink(kmip.LinkTypeDerivationBaseObjectLink, p.obj.ID)))
		links[i] = objects.Change{ID: p.obj.ID, Fn: func(po *objects.Object) error {
			po.AddAttr(attr(attrLink, crLink(kmip.LinkTypeDerivedKeyLink, o.ID)))
			touch(po, now)
			return nil
		}}
	}
	if err := s.store.Apply(ctx, []*objects.Object{o}, links); err != nil {
		return ttlv.Value{}, crStoreError(req, err, o.ID)
	}
	return uidPayload(o.ID), nil
}

// joinTarget decides the algorithm, length, HSM kind and Key Format Type
// of the joined object. A key length that the joined material does not
// have means the parts do not make that key: Cryptographic Failure.
func joinTarget(req *kmip.Request, ot kmip.ObjectType, attrs []kmip.Attribute, part *objects.Object, n int) (kmip.CryptographicAlgorithm, int32, hsmbackend.Algorithm, kmip.KeyFormatType, error) {
	bits, haveBits := crIntAttr(attrs, attrCryptoLength)
	if !haveBits {
		if a, ok := part.Attr(attrCryptoLength); ok && a.Value.Type == ttlv.TypeInteger {
			bits, haveBits = a.Value.Int(), true
		}
	}
	if !haveBits {
		bits = int32(8 * n) //nolint:gosec // G115: n <= hsmbackend.MaxMaterialLen
	}
	if ot == kmip.ObjectTypeSecretData {
		if bits != int32(8*n) { //nolint:gosec // G115: as above
			return 0, 0, 0, 0, splitCryptoFailure("the parts make %d bits, not %d", 8*n, bits)
		}
		return 0, bits, hsmbackend.GenericSecret, kmip.KeyFormatTypeOpaque, nil
	}
	a, ok := crEnumAttr(attrs, attrCryptoAlgorithm)
	if !ok {
		if pa, found := part.Attr(attrCryptoAlgorithm); found && pa.Value.Type == ttlv.TypeEnumeration {
			a, ok = pa.Value.Enum(), true
		}
	}
	if !ok {
		return 0, 0, 0, 0, crBadValue(req, "join split key: cryptographic algorithm is required for a symmetric key")
	}
	alg := kmip.CryptographicAlgorithm(a)
	spec, bits, err := symmetricSpec(req, alg, bits, true)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	size := int(bits / 8)
	if spec.Kind == hsmbackend.DES3 {
		size = 24 // a 168-bit 3DES key is 24 bytes with parity
	}
	if size != n {
		return 0, 0, 0, 0, splitCryptoFailure("the parts make a %d-byte key, a %d-bit %v key is %d bytes", n, bits, alg, size)
	}
	return alg, bits, spec.Kind, kmip.KeyFormatTypeRaw, nil
}
