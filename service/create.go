package service

import (
	"context"
	"errors"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds Create and Create Key Pair (KMIP 1.4 §4.1, §4.2; 2.0
// §6.1.8, §6.1.9) and what every creating operation (Create, Create Key
// Pair, Register, Re-key, Re-key Key Pair) shares: reading the payload and
// its attributes, refusing attributes a client may not set, the
// attributes the server sets on a new object, and Name uniqueness.

// crFields indexes a request payload by tag. A field that appears
// twice is Invalid Message (KMIP 1.4 §11.1: "The same field is contained
// in a header/batch item/payload more than once"), except the tags listed
// as repeatable.
func crFields(p ttlv.Value, repeatable ...ttlv.Tag) (map[ttlv.Tag]ttlv.Value, error) {
	if !p.IsZero() && p.Type != ttlv.TypeStructure {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "request payload is not a structure")
	}
	out := make(map[ttlv.Tag]ttlv.Value, len(p.Children()))
	for _, f := range p.Children() {
		if _, dup := out[f.Tag]; dup && !crTagIn(f.Tag, repeatable) {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "request payload repeats %s", kmip.TagString(f.Tag))
		}
		out[f.Tag] = f
	}
	return out, nil
}

func crTagIn(t ttlv.Tag, list []ttlv.Tag) bool {
	for _, x := range list {
		if x == t {
			return true
		}
	}
	return false
}

// crObjectTypeField reads the REQUIRED Object Type of a Create or Register
// payload.
func crObjectTypeField(fields map[ttlv.Tag]ttlv.Value) (kmip.ObjectType, error) {
	v, ok := fields[kmip.TagObjectType]
	if !ok {
		return 0, kmip.Errorf(kmip.ResultReasonInvalidMessage, "object type is missing")
	}
	if v.Type != ttlv.TypeEnumeration {
		return 0, crFieldType(v)
	}
	return kmip.ObjectType(v.Enum()), nil
}

// crFieldsAndType parses the fields of a payload that names an Object
// Type (Create, Register, Derive Key, the split key operations), and that
// type; repeatable are as for crFields.
func crFieldsAndType(payload ttlv.Value, repeatable ...ttlv.Tag) (map[ttlv.Tag]ttlv.Value, kmip.ObjectType, error) {
	fields, err := crFields(payload, repeatable...)
	if err != nil {
		return nil, 0, err
	}
	ot, err := crObjectTypeField(fields)
	if err != nil {
		return nil, 0, err
	}
	return fields, ot, nil
}

// crCheckMakesSecret refuses an Object Type that an operation making a
// secret from other objects (Derive Key, Join Split Key) cannot make.
func crCheckMakesSecret(req *kmip.Request, ot kmip.ObjectType, op string) error {
	if ot != kmip.ObjectTypeSymmetricKey && ot != kmip.ObjectTypeSecretData {
		return crBadObjectType(req, "%s makes symmetric keys and secret data, not %v", op, ot)
	}
	return nil
}

// crClientAttributes parses the attributes a request gives a new object
// of type ot (crRequestAttributes) and checks that the client may set
// them (checkClientAttributes; generated as there).
func (s *Service) crClientAttributes(ctx context.Context, req *kmip.Request, fields map[ttlv.Tag]ttlv.Value,
	ot kmip.ObjectType, generated bool) ([]kmip.Attribute, error) {
	attrs, err := s.crRequestAttributes(ctx, req, fields, kmip.TagTemplateAttribute, kmip.TagAttributes)
	if err != nil {
		return nil, err
	}
	if err := checkClientAttributes(req, ot, attrs, generated); err != nil {
		return nil, err
	}
	return attrs, nil
}

// crRequestAttributes parses the attributes of a request: the 1.x
// Template-Attribute (or one of its Create Key Pair variants) or the 2.x
// Attributes structure, whichever of tags1x and tag2x is present. Both are
// accepted in every version: a client that mixes them up is still
// understood. In a 1.x request the Names of a Template-Attribute refer to
// Templates (KMIP 1.4 §2.1.8), whose attributes are merged in.
func (s *Service) crRequestAttributes(ctx context.Context, req *kmip.Request, fields map[ttlv.Tag]ttlv.Value, tag1x, tag2x ttlv.Tag) ([]kmip.Attribute, error) {
	c1, ok1 := fields[tag1x]
	c2, ok2 := fields[tag2x]
	switch {
	case ok1 && ok2:
		return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "both %s and %s given", kmip.TagString(tag1x), kmip.TagString(tag2x))
	case ok1:
		if c1.Type != ttlv.TypeStructure {
			return nil, crFieldType(c1)
		}
		if req.Version.Is2x() {
			// kmip.ParseAttributes refuses Names: 2.x has no templates.
			return kmip.ParseAttributes(c1)
		}
		rest, templates := tplSplitNames(c1)
		attrs, err := kmip.ParseAttributes(rest)
		if err != nil || len(templates) == 0 {
			return attrs, err
		}
		return s.tplApply(ctx, req, templates, attrs)
	case ok2:
		if c2.Type != ttlv.TypeStructure {
			return nil, crFieldType(c2)
		}
		return kmip.ParseAttributes(c2)
	}
	return nil, nil
}

// Reasons that differ between 1.x and 2.x: 1.x has only Invalid Field
// for a bad attribute (KMIP 1.4 §11.2 "Incorrect attribute value(s)
// specified"); 2.0 names the fault (2.0 §11.45, Table 439).

func crReadOnly(req *kmip.Request, name string) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonAttributeReadOnly, "attribute %q is set by the server", name)
	}
	return kmip.Errorf(kmip.ResultReasonInvalidField, "attribute %q is set by the server", name)
}

func crBadValue(req *kmip.Request, format string, args ...any) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonInvalidAttributeValue, format, args...)
	}
	return kmip.Errorf(kmip.ResultReasonInvalidField, format, args...)
}

func crSingleValued(req *kmip.Request, name string) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonAttributeSingleValued, "attribute %q given more than once", name)
	}
	return kmip.Errorf(kmip.ResultReasonInvalidField, "attribute %q given more than once", name)
}

func crBadObjectType(req *kmip.Request, format string, args ...any) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonInvalidObjectType, format, args...)
	}
	return kmip.Errorf(kmip.ResultReasonInvalidField, format, args...)
}

func crNameTaken(req *kmip.Request, name string) error {
	if req.Version.Is2x() {
		return kmip.Errorf(kmip.ResultReasonNonUniqueNameAttribute, "name %q is already used", name)
	}
	// KMIP 1.4 §11.2: "Trying to create a new object with the same Name
	// attribute value as an existing object": Invalid Field.
	return kmip.Errorf(kmip.ResultReasonInvalidField, "name %q is already used", name)
}

// crServerSetAttrs are the attributes only the server sets on a new object
// (each one's "Initially set by: Server" in KMIP 1.4 §3 and 2.0 §4, or
// one the server derives from the material). A client giving one in
// Create or Register is refused rather than silently overridden.
var crServerSetAttrs = map[string]bool{
	attrUniqueIdentifier: true, attrState: true, attrInitialDate: true,
	attrLastChangeDate: true, attrDestroyDate: true, attrCompromiseDate: true,
	attrCompromiseOccurrence: true, attrRevocationReason: true, "Archive Date": true,
	attrDigest: true, attrAlwaysSensitive: true, attrNeverExtractable: true,
	attrKeyValuePresent: true, attrLeaseTime: true, attrCertificateType: true,
	attrCertificateLength: true, "Certificate Identifier": true, "Certificate Issuer": true,
	"Certificate Subject": true, "X.509 Certificate Identifier": true,
	"X.509 Certificate Issuer": true, "X.509 Certificate Subject": true,
	"Digital Signature Algorithm": true, "Key Format Type": true,
	"Short Unique Identifier": true, "Protection Storage Mask": true,
	"Rotate Date": true, "Rotate Generation": true, "Rotate Latest": true,
	attrOpaqueDataType: true,
}

// checkClientAttributes validates the attributes a client gave for a new
// object of type ot: no server-set attribute, each value of its
// attribute's item type, single-instance attributes once, Names well
// formed. generated says the server generates the material (Create,
// Create Key Pair, Re-key), in which case Original Creation Date and
// Random Number Generator are the server's too (KMIP 1.4 §3.43, §3.44).
func checkClientAttributes(req *kmip.Request, ot kmip.ObjectType, attrs []kmip.Attribute, generated bool) error {
	seen := map[string]bool{}
	for _, a := range attrs {
		if a.Value.IsZero() {
			return crBadValue(req, "attribute %q has no value", a.Name)
		}
		if kmip.IsCustomAttributeName(a.Name) || !crStandardAttr(a.Name) {
			continue // custom and vendor attributes are the client's business
		}
		if crServerSetAttrs[a.Name] || (generated && (a.Name == attrOriginalCreationDate || a.Name == attrRandomNumberGenerator)) {
			return crReadOnly(req, a.Name)
		}
		info, _ := kmip.AttributeByName(a.Name)
		if a.Name == attrObjectType {
			// A 2.x client may repeat the payload's Object Type among the
			// attributes; it must agree.
			if a.Value.Type != ttlv.TypeEnumeration || kmip.ObjectType(a.Value.Enum()) != ot {
				return crBadValue(req, "object type attribute does not match the payload's")
			}
		}
		if !info.MultiInstance {
			if seen[a.Name] {
				return crSingleValued(req, a.Name)
			}
			seen[a.Name] = true
		}
		if !crAttrTypeOK(info, a.Value) {
			return crBadValue(req, "attribute %q has the wrong item type", a.Name)
		}
		if a.Name == attrName {
			nv, ok := a.Value.Child(kmip.TagNameValue)
			if !ok || nv.Type != ttlv.TypeTextString || nv.Text() == "" {
				return crBadValue(req, "name without a name value")
			}
		}
	}
	return nil
}

func crStandardAttr(name string) bool {
	_, ok := kmip.AttributeByName(name)
	return ok
}

// crAttrTypeOK checks a value against the item type the specification gives
// its attribute's tag. A Date-Time may come as a 2.x Date-Time Extended.
func crAttrTypeOK(info kmip.AttributeInfo, v ttlv.Value) bool {
	ti, ok := kmip.LookupTag(info.Tag)
	if !ok {
		return true
	}
	want := ti.Type2x
	if want == 0 {
		want = ti.Type1x
	}
	switch want {
	case 0:
		return true
	case ttlv.TypeDateTime:
		return v.Type == ttlv.TypeDateTime || v.Type == ttlv.TypeDateTimeExtended
	default:
		return v.Type == want
	}
}

// crFindAttr returns the value of the first attribute named name.
func crFindAttr(attrs []kmip.Attribute, name string) (ttlv.Value, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return ttlv.Value{}, false
}

func crDropAttr(attrs []kmip.Attribute, name string) []kmip.Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.Name != name {
			out = append(out, a)
		}
	}
	return out
}

// crCheckNamesFree refuses Names already used by another object of the
// subject's tenant (KMIP 1.4 §11.2-11.4). Uniqueness is per tenant: a
// refusal must not reveal another tenant's names (a subject without a
// tenant competes with the objects without one). Destroyed objects keep
// their metadata but give up their names, so a client can create a key
// again under the name of one it destroyed. This check runs before any HSM
// work so that a taken name is refused cheaply; what guarantees uniqueness
// is the store, which checks again in the transaction that writes
// (objects.ErrNameTaken, see crCreateObjects), so that of two concurrent
// creates of one name only one succeeds.
func (s *Service) crCheckNamesFree(ctx context.Context, req *kmip.Request, attrs []kmip.Attribute) error {
	tenant := SubjectFrom(ctx).Tenant
	for _, a := range attrs {
		if a.Name != attrName {
			continue
		}
		nv, _ := a.Value.Child(kmip.TagNameValue)
		q := objects.Query{
			Filters: []objects.Filter{objects.Equals(attrName, ttlv.Text(kmip.TagNameValue, nv.Text()))},
			Tenant:  tenant,
			Storage: objects.StorageOnLine | objects.StorageArchival,
		}
		if tenant != "" {
			q.MaxItems = 1
		}
		ids, err := s.store.Locate(ctx, q)
		if err != nil {
			return storeError(err, "")
		}
		for _, id := range ids {
			if tenant == "" {
				// An empty Query tenant matches every tenant: look.
				o, err := s.store.Get(ctx, id)
				if err != nil || o.Tenant != "" {
					continue
				}
			}
			return crNameTaken(req, nv.Text())
		}
	}
	return nil
}

// crCheckPairNames refuses a Name given to both keys of a pair (through
// the Common attributes, or in both key-specific sets): Names are unique
// (KMIP 1.4 §3.2), and §4.2 lists Name among the attributes "not common to
// both keys". The store would refuse it too, after the HSM work.
func crCheckPairNames(req *kmip.Request, priv, pub []kmip.Attribute) error {
	for _, a := range priv {
		if a.Name != attrName {
			continue
		}
		nv, _ := a.Value.Child(kmip.TagNameValue)
		for _, b := range pub {
			if b.Name != attrName {
				continue
			}
			if pv, _ := b.Value.Child(kmip.TagNameValue); pv.Text() == nv.Text() {
				return crNameTaken(req, nv.Text())
			}
		}
	}
	return nil
}

// crNewObject builds a managed object of type ot with the client's
// attributes and everything the server sets at creation (KMIP 1.4 §3):
// Unique Identifier, Object Type, State (Pre-Active, or Active at once
// when the Activation Date has passed: §3.22 transitions 1 and 4),
// Initial Date and Last Change Date, Fresh (§3.34), and the Sensitive /
// Extractable family (§3.48-3.51, 1.4 and later).
func (s *Service) crNewObject(ctx context.Context, ot kmip.ObjectType, attrs []kmip.Attribute, now time.Time) (*objects.Object, error) {
	id, err := s.store.NewID(ctx)
	if err != nil {
		return nil, storeError(err, "")
	}
	sub := SubjectFrom(ctx)
	o := &objects.Object{ID: id, ObjectType: ot, State: kmip.StatePreActive, Tenant: sub.Tenant, Owner: sub.Name}
	o.Attributes = make([]kmip.Attribute, 0, len(attrs)+16)
	o.SetAttr(attr(attrUniqueIdentifier, ttlv.Text(0, id)))
	o.SetAttr(attr(attrObjectType, ttlv.Enum(0, uint32(ot))))
	for _, a := range attrs {
		if a.Name == attrObjectType {
			continue
		}
		o.Attributes = append(o.Attributes, a)
	}
	o.SetAttr(attr(attrState, ttlv.Enum(0, uint32(kmip.StatePreActive))))
	o.SetAttr(attr(attrInitialDate, ttlv.DateTime(0, now)))
	o.SetAttr(attr(attrLastChangeDate, ttlv.DateTime(0, now)))
	if _, ok := o.Attr(attrFresh); !ok {
		o.SetAttr(attr(attrFresh, ttlv.Bool(0, true)))
	}
	if ot != kmip.ObjectTypeCertificate && ot != kmip.ObjectTypeOpaqueObject {
		sensitive, extractable := false, true
		if v, ok := o.Attr(attrSensitive); ok {
			sensitive = v.Value.Bool()
		} else {
			o.SetAttr(attr(attrSensitive, ttlv.Bool(0, false)))
		}
		if v, ok := o.Attr(attrExtractable); ok {
			extractable = v.Value.Bool()
		} else {
			o.SetAttr(attr(attrExtractable, ttlv.Bool(0, true)))
		}
		o.SetAttr(attr(attrAlwaysSensitive, ttlv.Bool(0, sensitive)))
		o.SetAttr(attr(attrNeverExtractable, ttlv.Bool(0, !extractable)))
	}
	objects.ApplyDates(o, now)
	return o, nil
}

// crSetCrypto sets Cryptographic Algorithm and Length (when non-zero).
func crSetCrypto(o *objects.Object, alg kmip.CryptographicAlgorithm, bits int32) {
	if alg != 0 {
		o.SetAttr(attr(attrCryptoAlgorithm, ttlv.Enum(0, uint32(alg))))
	}
	if bits > 0 {
		o.SetAttr(attr(attrCryptoLength, ttlv.Int(0, bits)))
	}
}

// crSetUsage gives a key without a Cryptographic Usage Mask a usable
// one instead of failing the request (KMIP 1.4 Table 165 makes the mask
// REQUIRED, but MongoDB and others omit it).
func crSetUsage(o *objects.Object, mask kmip.CryptographicUsageMask) {
	if _, ok := o.Attr(attrCryptoUsageMask); !ok && mask != 0 {
		o.SetAttr(attr(attrCryptoUsageMask, ttlv.Int(0, int32(mask)))) //nolint:gosec // G115: a bit mask travels as a KMIP Integer (KMIP 1.4 §9.1.3.3); its 32 bits are reinterpreted, not converted
	}
}

// crSetFormat records the default Key Format Type of a key: in the object,
// and as the 2.x Key Format Type attribute (2.0 §4.26; not an attribute
// in 1.x, so 1.x clients never see it).
func crSetFormat(o *objects.Object, f kmip.KeyFormatType) {
	o.KeyFormat = uint32(f)
	o.SetAttr(attr("Key Format Type", ttlv.Enum(0, uint32(f))))
}

// crCreateObjects stores new objects in one store transaction, so a Create
// Key Pair stores both keys or neither. The store refuses a Name taken
// meanwhile (objects.ErrNameTaken): crCheckNamesFree only refuses early.
func (s *Service) crCreateObjects(ctx context.Context, req *kmip.Request, objs ...*objects.Object) error {
	if err := s.store.Apply(ctx, objs, nil); err != nil {
		return crStoreError(req, err, objs[0].ID)
	}
	return nil
}

// crStoreError maps the error of a store write that creates objects: a
// Name taken is answered as crCheckNamesFree does.
func crStoreError(req *kmip.Request, err error, id string) error {
	var taken *objects.NameTakenError
	if errors.As(err, &taken) {
		return crNameTaken(req, taken.Name)
	}
	return storeError(err, id)
}

// symmetricSpec maps a Create's Cryptographic Algorithm and Length to an
// HSM key specification, with the length to record. HMAC keys, and
// symmetric algorithms the HSM has no key type for, are generic secrets of
// the requested length.
func symmetricSpec(req *kmip.Request, alg kmip.CryptographicAlgorithm, bits int32, haveBits bool) (hsmbackend.SecretSpec, int32, error) {
	def := func(n int32) int32 {
		if haveBits {
			return bits
		}
		return n
	}
	switch alg {
	case kmip.CryptographicAlgorithmAES:
		bits = def(256)
		if bits != 128 && bits != 192 && bits != 256 {
			return hsmbackend.SecretSpec{}, 0, crBadValue(req, "AES keys are 128, 192 or 256 bits, not %d", bits)
		}
		return hsmbackend.SecretSpec{Kind: hsmbackend.AES, Bits: int(bits)}, bits, nil
	case kmip.CryptographicAlgorithmDES3:
		// 168 is the effective length clients state (SKFF-M-4); the key
		// is 24 bytes with parity either way.
		bits = def(168)
		if bits != 168 && bits != 192 {
			return hsmbackend.SecretSpec{}, 0, crBadValue(req, "3DES keys are 168 or 192 bits, not %d", bits)
		}
		return hsmbackend.SecretSpec{Kind: hsmbackend.DES3, Bits: int(bits)}, bits, nil
	case kmip.CryptographicAlgorithmHMACSHA1:
		bits = def(160)
	case kmip.CryptographicAlgorithmHMACSHA224, kmip.CryptographicAlgorithmHMACSHA3224:
		bits = def(224)
	case kmip.CryptographicAlgorithmHMACSHA256, kmip.CryptographicAlgorithmHMACSHA3256, kmip.CryptographicAlgorithmPoly1305:
		bits = def(256)
	case kmip.CryptographicAlgorithmChaCha20, kmip.CryptographicAlgorithmChaCha20Poly1305:
		// RFC 8439 §2.3: the key is 256 bits (crypto_chacha.go).
		bits = def(256)
		if bits != 256 {
			return hsmbackend.SecretSpec{}, 0, crBadValue(req, "%v keys are 256 bits, not %d", alg, bits)
		}
	case kmip.CryptographicAlgorithmHMACSHA384, kmip.CryptographicAlgorithmHMACSHA3384:
		bits = def(384)
	case kmip.CryptographicAlgorithmHMACSHA512, kmip.CryptographicAlgorithmHMACSHA3512:
		bits = def(512)
	case kmip.CryptographicAlgorithmHMACMD5:
		bits = def(128)
	case kmip.CryptographicAlgorithmRSA, kmip.CryptographicAlgorithmDSA, kmip.CryptographicAlgorithmECDSA,
		kmip.CryptographicAlgorithmDH, kmip.CryptographicAlgorithmECDH, kmip.CryptographicAlgorithmECMQV,
		kmip.CryptographicAlgorithmEC, kmip.CryptographicAlgorithmEd25519, kmip.CryptographicAlgorithmEd448:
		return hsmbackend.SecretSpec{}, 0, crBadValue(req, "%v is not a symmetric key algorithm: use Create Key Pair", alg)
	default:
		if !haveBits {
			return hsmbackend.SecretSpec{}, 0, crBadValue(req, "cryptographic length is required for %v", alg)
		}
	}
	if bits < 8 || bits%8 != 0 || bits > 8*hsmbackend.MaxMaterialLen {
		return hsmbackend.SecretSpec{}, 0, crBadValue(req, "cryptographic length %d is not a whole number of bytes", bits)
	}
	return hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: int(bits)}, bits, nil
}

// defaultSymmetricUsage is the usage mask of a new symmetric key that the
// client gave none: MAC for HMAC keys, encryption for the others.
func defaultSymmetricUsage(alg kmip.CryptographicAlgorithm) kmip.CryptographicUsageMask {
	switch alg {
	case kmip.CryptographicAlgorithmHMACSHA1, kmip.CryptographicAlgorithmHMACSHA224, kmip.CryptographicAlgorithmHMACSHA256,
		kmip.CryptographicAlgorithmHMACSHA384, kmip.CryptographicAlgorithmHMACSHA512, kmip.CryptographicAlgorithmHMACMD5,
		kmip.CryptographicAlgorithmHMACSHA3224, kmip.CryptographicAlgorithmHMACSHA3256,
		kmip.CryptographicAlgorithmHMACSHA3384, kmip.CryptographicAlgorithmHMACSHA3512:
		return kmip.CryptographicUsageMaskMACGenerate | kmip.CryptographicUsageMaskMACVerify
	default:
		return kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt
	}
}

// crIntAttr reads an Integer attribute.
func crIntAttr(attrs []kmip.Attribute, name string) (int32, bool) {
	v, ok := crFindAttr(attrs, name)
	if !ok || v.Type != ttlv.TypeInteger {
		return 0, false
	}
	return v.Int(), true
}

// crEnumAttr reads an Enumeration attribute.
func crEnumAttr(attrs []kmip.Attribute, name string) (uint32, bool) {
	v, ok := crFindAttr(attrs, name)
	if !ok || v.Type != ttlv.TypeEnumeration {
		return 0, false
	}
	return v.Enum(), true
}

// create is Create (KMIP 1.4 §4.1, 2.0 §6.1.8): a Symmetric Key, or Secret
// Data (2.0, and the 1.4 test case TC-CREATE-SD-1), generated in the HSM
// and stored wrapped under the master key.
func (s *Service) createOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	fields, ot, err := crFieldsAndType(req.Payload)
	if err != nil {
		return ttlv.Value{}, err
	}
	attrs, err := s.crClientAttributes(ctx, req, fields, ot, true)
	if err != nil {
		return ttlv.Value{}, err
	}
	var (
		spec   hsmbackend.SecretSpec
		alg    kmip.CryptographicAlgorithm
		bits   int32
		format kmip.KeyFormatType
	)
	bits, haveBits := crIntAttr(attrs, attrCryptoLength)
	switch ot {
	case kmip.ObjectTypeSymmetricKey:
		a, ok := crEnumAttr(attrs, attrCryptoAlgorithm)
		if !ok {
			// KMIP 1.4 Table 165: Cryptographic Algorithm is REQUIRED.
			return ttlv.Value{}, crBadValue(req, "cryptographic algorithm is required")
		}
		alg = kmip.CryptographicAlgorithm(a)
		if spec, bits, err = symmetricSpec(req, alg, bits, haveBits); err != nil {
			return ttlv.Value{}, err
		}
		format = kmip.KeyFormatTypeRaw
	case kmip.ObjectTypeSecretData:
		if !haveBits {
			bits = 256
		}
		if bits < 8 || bits%8 != 0 || bits > 8*hsmbackend.MaxMaterialLen {
			return ttlv.Value{}, crBadValue(req, "cryptographic length %d is not a whole number of bytes", bits)
		}
		spec = hsmbackend.SecretSpec{Kind: hsmbackend.GenericSecret, Bits: int(bits)}
		format = kmip.KeyFormatTypeOpaque
	default:
		return ttlv.Value{}, crBadObjectType(req, "create makes symmetric keys and secret data, not %v", ot)
	}
	if ot == kmip.ObjectTypeSymmetricKey {
		if err := checkQuantumSafe(attrs, alg, bits); err != nil {
			return ttlv.Value{}, err
		}
	}
	if err := s.crCheckNamesFree(ctx, req, attrs); err != nil {
		return ttlv.Value{}, err
	}
	// The HSM digests the new key while it still holds it, which saves
	// unwrapping it again just for the Digest (KMIP 1.4 §3.17). Raw and
	// Opaque key material is a Byte String, whose Digest is the SHA-256
	// of the key bytes (crDigest), which is what the HSM computes.
	w, sum, err := s.hsm.GenerateSecretSHA256(ctx, spec)
	if err != nil {
		return ttlv.Value{}, hsmError("create", err)
	}
	var digest ttlv.Value
	if sum != nil {
		digest = crDigestOfSHA256(sum, format)
	} else if digest, err = s.crSecretDigest(ctx, w, func(plain []byte) ttlv.Value { return ttlv.Bytes(kmip.TagKeyMaterial, plain) }, format); err != nil {
		return ttlv.Value{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	o, err := s.crNewSecretObject(ctx, ot, attrs, now, w, alg, bits, kmip.SecretDataTypePassword, digest, format)
	if err != nil {
		return ttlv.Value{}, err
	}
	o.SetAttr(attr(attrOriginalCreationDate, ttlv.DateTime(0, now)))
	if err := s.crCreateObjects(ctx, req, o); err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(
		ttlv.Enum(kmip.TagObjectType, uint32(ot)),
		ttlv.Text(kmip.TagUniqueIdentifier, o.ID),
	), nil
}

// crNewSecretObject builds a new Symmetric Key or Secret Data (ot) around
// material the server made, already wrapped (w): the object crNewObject
// makes, with its algorithm and length, the default usage for its kind,
// the Secret Data Type of a Secret Data, its Digest and Key Format Type.
// Create and Derive Key share it.
func (s *Service) crNewSecretObject(ctx context.Context, ot kmip.ObjectType, attrs []kmip.Attribute, now time.Time,
	w hsmbackend.Wrapped, alg kmip.CryptographicAlgorithm, bits int32, secretType kmip.SecretDataType,
	digest ttlv.Value, format kmip.KeyFormatType,
) (*objects.Object, error) {
	o, err := s.crNewObject(ctx, ot, attrs, now)
	if err != nil {
		return nil, err
	}
	o.Wrapped = toStored(w)
	crSetCrypto(o, alg, bits)
	if ot == kmip.ObjectTypeSymmetricKey {
		crSetUsage(o, defaultSymmetricUsage(alg))
	} else {
		crSetUsage(o, kmip.CryptographicUsageMaskDeriveKey)
		o.Public = secretDataHeader(secretType)
	}
	o.SetAttr(attr(attrDigest, digest))
	crSetFormat(o, format)
	return o, nil
}

// crSecretDigest unwraps freshly generated material just long enough to
// compute its Digest (KMIP 1.4 §3.17: "set by the server when the object
// is created"), then clears it. material builds the Key Material the
// digest is taken over, in the key's default format.
func (s *Service) crSecretDigest(ctx context.Context, w hsmbackend.Wrapped, material func(plain []byte) ttlv.Value, format kmip.KeyFormatType) (ttlv.Value, error) {
	plain, err := s.hsm.Unwrap(ctx, w)
	if err != nil {
		return ttlv.Value{}, hsmError("digest", err)
	}
	defer clear(plain)
	m := material(plain)
	d := crDigest(m, format)
	crClearMaterial(m)
	return d, nil
}

// crDigestOfSHA256 is the Digest attribute (KMIP 1.4 §3.17) of key
// material whose SHA-256 the HSM computed, in the form crDigest gives.
func crDigestOfSHA256(sum []byte, format kmip.KeyFormatType) ttlv.Value {
	f := []ttlv.Value{
		ttlv.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256)),
		ttlv.Bytes(kmip.TagDigestValue, sum),
	}
	if format != 0 {
		f = append(f, ttlv.Enum(kmip.TagKeyFormatType, uint32(format)))
	}
	return ttlv.Struct(kmip.TagDigest, f...)
}

// mergeKeyPairAttributes applies KMIP 1.4 §4.2's precedence: for
// single-instance attributes the Private (or Public) Key attributes win
// over the Common ones; multi-instance attributes are the union, renumbered.
func mergeKeyPairAttributes(common, specific []kmip.Attribute) []kmip.Attribute {
	out := make([]kmip.Attribute, 0, len(common)+len(specific))
	for _, a := range common {
		info, known := kmip.AttributeByName(a.Name)
		multi := !known || info.MultiInstance
		if !multi {
			if _, override := crFindAttr(specific, a.Name); override {
				continue
			}
		}
		out = append(out, a)
	}
	out = append(out, specific...)
	next := map[string]int{}
	for i := range out {
		out[i].Index = next[out[i].Name]
		next[out[i].Name]++
	}
	return out
}

// pairSpec maps Create Key Pair's algorithm and length (or Recommended
// Curve) to an HSM key-pair specification, with the length to record.
func pairSpec(req *kmip.Request, attrs []kmip.Attribute, maxRSABits int32) (hsmbackend.PairSpec, kmip.CryptographicAlgorithm, int32, error) {
	a, ok := crEnumAttr(attrs, attrCryptoAlgorithm)
	if !ok {
		// KMIP 1.4 Table 168: Cryptographic Algorithm is REQUIRED.
		return hsmbackend.PairSpec{}, 0, 0, crBadValue(req, "cryptographic algorithm is required")
	}
	alg := kmip.CryptographicAlgorithm(a)
	bits, haveBits := crIntAttr(attrs, attrCryptoLength)
	switch alg {
	case kmip.CryptographicAlgorithmRSA:
		if !haveBits {
			bits = 2048
		}
		if bits < hsmbackend.MinRSABits || bits > maxRSABits || bits%8 != 0 {
			return hsmbackend.PairSpec{}, 0, 0, crBadValue(req, "RSA keys of %d bits are not supported: this server generates multiples of 8 from %d to %d bits",
				bits, hsmbackend.MinRSABits, maxRSABits)
		}
		return hsmbackend.PairSpec{Kind: hsmbackend.RSA, Bits: int(bits)}, alg, bits, nil
	case kmip.CryptographicAlgorithmEC, kmip.CryptographicAlgorithmECDSA, kmip.CryptographicAlgorithmECDH, kmip.CryptographicAlgorithmECMQV:
		curve := ""
		if dp, ok := crFindAttr(attrs, attrCryptoDomainParams); ok {
			if rc, ok := dp.Child(kmip.TagRecommendedCurve); ok && rc.Type == ttlv.TypeEnumeration {
				for _, c := range crCurves {
					if c.rc == kmip.RecommendedCurve(rc.Enum()) && c.name != "P-224" {
						curve = c.name
					}
				}
				if kmip.RecommendedCurve(rc.Enum()) == kmip.RecommendedCurveSECP256K1 {
					// Go has no secp256k1; the HSM generates it
					// (hsmbackend.CurveSecp256k1, service/secp256k1.go).
					curve = hsmbackend.CurveSecp256k1
				}
				if curve == "" {
					return hsmbackend.PairSpec{}, 0, 0, crBadValue(req, "recommended curve %v is not supported", kmip.RecommendedCurve(rc.Enum()))
				}
			}
		}
		if curve == "" {
			switch {
			case !haveBits || bits == 256:
				curve = "P-256"
			case bits == 384:
				curve = "P-384"
			case bits == 521:
				curve = "P-521"
			default:
				return hsmbackend.PairSpec{}, 0, 0, crBadValue(req, "EC keys of %d bits are not supported", bits)
			}
		}
		switch curve {
		case "P-256", hsmbackend.CurveSecp256k1:
			bits = 256
		case "P-384":
			bits = 384
		case "P-521":
			bits = 521
		}
		return hsmbackend.PairSpec{Kind: hsmbackend.EC, Curve: curve}, alg, bits, nil
	case kmip.CryptographicAlgorithmEd25519:
		return hsmbackend.PairSpec{Kind: hsmbackend.Ed25519}, alg, 256, nil
	default:
		return hsmbackend.PairSpec{}, 0, 0, crBadValue(req, "key pairs of %v are not supported", alg)
	}
}

// defaultPairUsage is the usage mask of a new key of a pair that the client
// gave none: signing for ECDSA and EdDSA keys, key agreement for ECDH and
// ECMQV, signing and encryption for RSA.
func defaultPairUsage(alg kmip.CryptographicAlgorithm, private bool) kmip.CryptographicUsageMask {
	switch alg {
	case kmip.CryptographicAlgorithmECDH, kmip.CryptographicAlgorithmECMQV:
		return kmip.CryptographicUsageMaskKeyAgreement
	case kmip.CryptographicAlgorithmRSA:
		if private {
			return kmip.CryptographicUsageMaskSign | kmip.CryptographicUsageMaskDecrypt | kmip.CryptographicUsageMaskUnwrapKey
		}
		return kmip.CryptographicUsageMaskVerify | kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskWrapKey
	default:
		if private {
			return kmip.CryptographicUsageMaskSign
		}
		return kmip.CryptographicUsageMaskVerify
	}
}

// pairFormats are the default Key Format Types of generated key pairs: the
// 1.4 and 2.0 vectors (AKLC-M-1) show PKCS#1 for both RSA keys; EC and
// EdDSA keys use PKCS#8 and X.509 (SubjectPublicKeyInfo).
func pairFormats(kind hsmbackend.Algorithm) (priv, pub kmip.KeyFormatType) {
	if kind == hsmbackend.RSA {
		return kmip.KeyFormatTypePKCS1, kmip.KeyFormatTypePKCS1
	}
	return kmip.KeyFormatTypePKCS8, kmip.KeyFormatTypeX509
}

// crLink builds a Link attribute value (KMIP 1.4 §3.35).
func crLink(t kmip.LinkType, id string) ttlv.Value {
	return ttlv.Struct(kmip.TagLink,
		ttlv.Enum(kmip.TagLinkType, uint32(t)),
		ttlv.Text(kmip.TagLinkedObjectIdentifier, id))
}

// keyPairAttrs reads and checks the three attribute sets of Create Key
// Pair or Re-key Key Pair and returns the merged private and public sets.
func (s *Service) keyPairAttrs(ctx context.Context, req *kmip.Request, fields map[ttlv.Tag]ttlv.Value, generated bool) (priv, pub []kmip.Attribute, err error) {
	common, err := s.crRequestAttributes(ctx, req, fields, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes)
	if err != nil {
		return nil, nil, err
	}
	privOnly, err := s.crRequestAttributes(ctx, req, fields, kmip.TagPrivateKeyTemplateAttribute, kmip.TagPrivateKeyAttributes)
	if err != nil {
		return nil, nil, err
	}
	pubOnly, err := s.crRequestAttributes(ctx, req, fields, kmip.TagPublicKeyTemplateAttribute, kmip.TagPublicKeyAttributes)
	if err != nil {
		return nil, nil, err
	}
	for _, set := range []struct {
		attrs []kmip.Attribute
		ot    kmip.ObjectType
	}{{common, 0}, {privOnly, kmip.ObjectTypePrivateKey}, {pubOnly, kmip.ObjectTypePublicKey}} {
		attrs := set.attrs
		if set.ot == 0 {
			attrs = crDropAttr(attrs, attrObjectType) // the common set fits neither type
		}
		if err := checkClientAttributes(req, set.ot, attrs, generated); err != nil {
			return nil, nil, err
		}
	}
	priv = mergeKeyPairAttributes(crDropAttr(common, attrObjectType), privOnly)
	pub = mergeKeyPairAttributes(crDropAttr(common, attrObjectType), pubOnly)
	// KMIP 1.4 Table 168, 2.0 Table 176: these SHALL be the same for both
	// keys.
	for _, name := range []string{attrCryptoAlgorithm, attrCryptoLength, attrCryptoDomainParams, attrCryptoParameters} {
		a, okA := crFindAttr(priv, name)
		b, okB := crFindAttr(pub, name)
		if okA && okB && !ttlv.Equal(a, b) {
			return nil, nil, crBadValue(req, "%s differs between the private and the public key", name)
		}
		if okA != okB && name == attrCryptoAlgorithm {
			// Given for one key only: it still applies to both.
			if okA {
				pub = append(pub, kmip.Attribute{Name: name, Value: a})
			} else {
				priv = append(priv, kmip.Attribute{Name: name, Value: b})
			}
		}
	}
	return priv, pub, nil
}

// crGeneratePair makes a key pair in the HSM and builds its two objects
// (not yet stored), linked to each other (KMIP 1.4 §4.2: Public Key Link
// on the private key, Private Key Link on the public key).
func (s *Service) crGeneratePair(ctx context.Context, req *kmip.Request, privAttrs, pubAttrs []kmip.Attribute, now time.Time) (priv, pub *objects.Object, err error) {
	spec, alg, bits, err := pairSpec(req, privAttrs, s.maxRSABits)
	if err != nil {
		return nil, nil, err
	}
	w, spki, err := s.hsm.GenerateKeyPair(ctx, spec)
	if err != nil {
		return nil, nil, hsmError("create key pair", err)
	}
	privFormat, pubFormat := pairFormats(spec.Kind)
	privDigest, err := s.crSecretDigest(ctx, w, func(plain []byte) ttlv.Value {
		m, err := exportKeyMaterial(kmip.ObjectTypePrivateKey, plain, nil, privFormat)
		if err != nil {
			return ttlv.Bytes(kmip.TagKeyMaterial, nil)
		}
		return m
	}, privFormat)
	if err != nil {
		return nil, nil, err
	}
	pubMaterial, err := exportKeyMaterial(kmip.ObjectTypePublicKey, nil, spki, pubFormat)
	if err != nil {
		return nil, nil, err
	}
	if priv, err = s.crNewObject(ctx, kmip.ObjectTypePrivateKey, privAttrs, now); err != nil {
		return nil, nil, err
	}
	if pub, err = s.crNewObject(ctx, kmip.ObjectTypePublicKey, pubAttrs, now); err != nil {
		return nil, nil, err
	}
	priv.Wrapped = toStored(w)
	pub.Public = spki
	for _, x := range []struct {
		o       *objects.Object
		private bool
		format  kmip.KeyFormatType
		digest  ttlv.Value
		link    kmip.LinkType
		other   string
	}{
		{priv, true, privFormat, privDigest, kmip.LinkTypePublicKeyLink, pub.ID},
		{pub, false, pubFormat, crDigest(pubMaterial, pubFormat), kmip.LinkTypePrivateKeyLink, priv.ID},
	} {
		crSetCrypto(x.o, alg, bits)
		crSetUsage(x.o, defaultPairUsage(alg, x.private))
		x.o.SetAttr(attr(attrOriginalCreationDate, ttlv.DateTime(0, now)))
		x.o.SetAttr(attr(attrDigest, x.digest))
		crSetFormat(x.o, x.format)
		x.o.AddAttr(attr(attrLink, crLink(x.link, x.other)))
	}
	return priv, pub, nil
}

// createKeyPair is Create Key Pair (KMIP 1.4 §4.2, 2.0 §6.1.9): RSA, EC
// (P-256, P-384, P-521) and Ed25519 where the HSM can wrap it, generated
// in the HSM; the private key is stored wrapped, the public key as
// SubjectPublicKeyInfo.
func (s *Service) createKeyPairOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	fields, err := crFields(req.Payload)
	if err != nil {
		return ttlv.Value{}, err
	}
	privAttrs, pubAttrs, err := s.keyPairAttrs(ctx, req, fields, true)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := crCheckPairNames(req, privAttrs, pubAttrs); err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCheckNamesFree(ctx, req, append(privAttrs[:len(privAttrs):len(privAttrs)], pubAttrs...)); err != nil {
		return ttlv.Value{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	priv, pub, err := s.crGeneratePair(ctx, req, privAttrs, pubAttrs, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCreateObjects(ctx, req, priv, pub); err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(
		ttlv.Text(kmip.TagPrivateKeyUniqueIdentifier, priv.ID),
		ttlv.Text(kmip.TagPublicKeyUniqueIdentifier, pub.ID),
	), nil
}
