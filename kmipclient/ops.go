package kmipclient

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// This file encodes the request payloads of the operations the load
// generator drives, for 1.x and 2.x alike, straight into the Conn's buffer.

// GCMTagLength is the Authenticated Encryption Tag length, in bytes, that
// Encrypt and Decrypt ask for (KMIP 1.4 §3.6: Tag Length is required for
// GCM).
const GCMTagLength = 16

// Attribute names as the 1.x Attribute Name carries them (KMIP 1.4 §3).
const (
	attrCryptoAlgorithm    = "Cryptographic Algorithm"
	attrCryptoLength       = "Cryptographic Length"
	attrCryptoUsageMask    = "Cryptographic Usage Mask"
	attrCryptoDomainParams = "Cryptographic Domain Parameters"
	attrName               = "Name"
)

// attrs writes attributes in the form of the Conn's version: 1.x
// Attribute{Attribute Name, Attribute Value} (KMIP 1.4 §2.1.1), 2.x the
// attribute's own tagged item (KMIP 2.0 §2.1.1).
type attrs struct {
	e  *ttlv.Encoder
	v2 bool
}

func (c *Conn) attrs(e *ttlv.Encoder) attrs { return attrs{e: e, v2: c.ver.Is2x()} }

// begin opens an attribute container: tag1x for 1.x (a Template-Attribute
// flavour), tag2x for 2.x (an Attributes flavour). End it with e.End.
func (a attrs) begin(tag1x, tag2x ttlv.Tag) int {
	if a.v2 {
		return a.e.Begin(tag2x)
	}
	return a.e.Begin(tag1x)
}

// open starts one attribute and returns the tag its value must carry.
func (a attrs) open(name string, tag ttlv.Tag) (mark int, valueTag ttlv.Tag) {
	if a.v2 {
		return -1, tag
	}
	m := a.e.Begin(kmip.TagAttribute)
	a.e.Text(kmip.TagAttributeName, name)
	return m, kmip.TagAttributeValue
}

func (a attrs) close(mark int) {
	if mark >= 0 {
		a.e.End(mark)
	}
}

func (a attrs) enum(name string, tag ttlv.Tag, v uint32) {
	m, t := a.open(name, tag)
	a.e.Enum(t, v)
	a.close(m)
}

func (a attrs) integer(name string, tag ttlv.Tag, v int32) {
	m, t := a.open(name, tag)
	a.e.Int(t, v)
	a.close(m)
}

// name writes a Name of type Uninterpreted Text String (KMIP 1.4 §3.2).
func (a attrs) name(s string) {
	m, t := a.open(attrName, kmip.TagName)
	n := a.e.Begin(t)
	a.e.Text(kmip.TagNameValue, s)
	a.e.Enum(kmip.TagNameType, uint32(kmip.NameTypeUninterpretedTextString))
	a.e.End(n)
	a.close(m)
}

// curve writes Cryptographic Domain Parameters naming a Recommended Curve
// (KMIP 1.4 §3.7).
func (a attrs) curve(c kmip.RecommendedCurve) {
	m, t := a.open(attrCryptoDomainParams, kmip.TagCryptographicDomainParameters)
	d := a.e.Begin(t)
	a.e.Enum(kmip.TagRecommendedCurve, uint32(c))
	a.e.End(d)
	a.close(m)
}

// textField returns the Text String field tag of a response payload.
func textField(op kmip.Operation, p ttlv.Value, tag ttlv.Tag) (string, error) {
	v, ok := p.Child(tag)
	if !ok || v.Type != ttlv.TypeTextString {
		return "", fmt.Errorf("kmipclient: %s: response has no %s: %w", op, kmip.TagString(tag), ErrBadResponse)
	}
	return v.Text(), nil
}

// bytesField returns the Byte String field tag of a response payload, or
// nil and false when absent.
func bytesField(op kmip.Operation, p ttlv.Value, tag ttlv.Tag) ([]byte, bool, error) {
	v, ok := p.Child(tag)
	if !ok {
		return nil, false, nil
	}
	if v.Type != ttlv.TypeByteString {
		return nil, false, fmt.Errorf("kmipclient: %s: %s is not a byte string: %w", op, kmip.TagString(tag), ErrBadResponse)
	}
	return v.Bytes(), true, nil
}

// CreateAES creates an AES key of bits bits (Create, KMIP 1.4 §4.1) with
// the usage mask Encrypt|Decrypt, named name unless name is empty, and
// returns its Unique Identifier. The key starts Pre-Active.
func (c *Conn) CreateAES(ctx context.Context, bits int, name string) (string, error) {
	if bits <= 0 || bits > math.MaxInt32 {
		return "", fmt.Errorf("kmipclient: Create: key length %d out of range", bits)
	}
	length := int32(bits)
	var id string
	err := c.call1(ctx, 0, kmip.OperationCreate, func(e *ttlv.Encoder) {
		e.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey))
		a := c.attrs(e)
		m := a.begin(kmip.TagTemplateAttribute, kmip.TagAttributes)
		a.enum(attrCryptoAlgorithm, kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmAES))
		a.integer(attrCryptoLength, kmip.TagCryptographicLength, length)
		a.integer(attrCryptoUsageMask, kmip.TagCryptographicUsageMask,
			int32(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt))
		if name != "" {
			a.name(name)
		}
		e.End(m)
	}, func(p ttlv.Value, _ []byte) (err error) {
		id, err = textField(kmip.OperationCreate, p, kmip.TagUniqueIdentifier)
		return err
	})
	return id, err
}

// curveBits is the Cryptographic Length of the NIST curves.
func curveBits(c kmip.RecommendedCurve) int32 {
	switch c {
	case kmip.RecommendedCurveP192:
		return 192
	case kmip.RecommendedCurveP224:
		return 224
	case kmip.RecommendedCurveP256:
		return 256
	case kmip.RecommendedCurveP384:
		return 384
	case kmip.RecommendedCurveP521:
		return 521
	default:
		return 0 // the server derives it from the curve
	}
}

// CreateKeyPairEC creates an EC key pair on curve (Create Key Pair, KMIP
// 1.4 §4.2): the private key may Sign, the public key Verify. Both start
// Pre-Active.
func (c *Conn) CreateKeyPairEC(ctx context.Context, curve kmip.RecommendedCurve) (privateID, publicID string, err error) {
	op := kmip.OperationCreateKeyPair
	err = c.call1(ctx, 0, op, func(e *ttlv.Encoder) {
		a := c.attrs(e)
		m := a.begin(kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes)
		a.enum(attrCryptoAlgorithm, kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmEC))
		if bits := curveBits(curve); bits != 0 {
			a.integer(attrCryptoLength, kmip.TagCryptographicLength, bits)
		}
		a.curve(curve)
		e.End(m)
		m = a.begin(kmip.TagPrivateKeyTemplateAttribute, kmip.TagPrivateKeyAttributes)
		a.integer(attrCryptoUsageMask, kmip.TagCryptographicUsageMask, int32(kmip.CryptographicUsageMaskSign))
		e.End(m)
		m = a.begin(kmip.TagPublicKeyTemplateAttribute, kmip.TagPublicKeyAttributes)
		a.integer(attrCryptoUsageMask, kmip.TagCryptographicUsageMask, int32(kmip.CryptographicUsageMaskVerify))
		e.End(m)
	}, func(p ttlv.Value, _ []byte) error {
		if privateID, err = textField(op, p, kmip.TagPrivateKeyUniqueIdentifier); err != nil {
			return err
		}
		publicID, err = textField(op, p, kmip.TagPublicKeyUniqueIdentifier)
		return err
	})
	return privateID, publicID, err
}

// Object is a managed object returned by Get.
type Object struct {
	ID   string
	Type kmip.ObjectType
	// Value is the object structure as sent (Symmetric Key, Private Key,
	// ...). It may hold key material: it aliases a buffer the Object owns,
	// which Clear wipes.
	Value ttlv.Value

	raw []byte
}

// Clear wipes the response the Object was read from, key material
// included, and resets the Object.
func (o *Object) Clear() {
	clear(o.raw)
	*o = Object{}
}

// Get fetches the object id in the server's default format (Get, KMIP 1.4
// §4.11). Call Clear on the result when done with it.
func (c *Conn) Get(ctx context.Context, id string) (Object, error) {
	op := kmip.OperationGet
	var o Object
	err := c.call1(ctx, own, op, func(e *ttlv.Encoder) {
		e.Text(kmip.TagUniqueIdentifier, id)
	}, func(p ttlv.Value, raw []byte) error {
		o.raw = raw
		var err error
		if o.ID, err = textField(op, p, kmip.TagUniqueIdentifier); err != nil {
			return err
		}
		t, ok := p.Child(kmip.TagObjectType)
		if !ok || t.Type != ttlv.TypeEnumeration {
			return fmt.Errorf("kmipclient: %s: response has no Object Type: %w", op, ErrBadResponse)
		}
		o.Type = kmip.ObjectType(t.Enum())
		for _, f := range p.Children() {
			if f.Type == ttlv.TypeStructure {
				o.Value = f
				return nil
			}
		}
		return fmt.Errorf("kmipclient: %s: response has no object: %w", op, ErrBadResponse)
	})
	if err != nil {
		o.Clear()
		return Object{}, err
	}
	return o, nil
}

// LocateByName returns the Unique Identifiers of the objects named name
// (Locate, KMIP 1.4 §4.9, with one Name attribute).
func (c *Conn) LocateByName(ctx context.Context, name string) ([]string, error) {
	op := kmip.OperationLocate
	var ids []string
	err := c.call1(ctx, 0, op, func(e *ttlv.Encoder) {
		a := c.attrs(e)
		if a.v2 {
			// KMIP 2.0 §6.1.27: the criteria sit in one Attributes.
			m := e.Begin(kmip.TagAttributes)
			a.name(name)
			e.End(m)
			return
		}
		// KMIP 1.4 §4.9: 1.x lists Attribute structures in the payload.
		a.name(name)
	}, func(p ttlv.Value, _ []byte) error {
		for _, f := range p.Children() {
			if f.Tag != kmip.TagUniqueIdentifier {
				continue
			}
			if f.Type != ttlv.TypeTextString {
				return fmt.Errorf("kmipclient: %s: Unique Identifier is not a text string: %w", op, ErrBadResponse)
			}
			ids = append(ids, f.Text())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// single sends an operation whose request payload is just the Unique
// Identifier and whose answer carries nothing we need.
func (c *Conn) single(ctx context.Context, op kmip.Operation, id string) error {
	return c.call1(ctx, 0, op, func(e *ttlv.Encoder) {
		e.Text(kmip.TagUniqueIdentifier, id)
	}, func(ttlv.Value, []byte) error { return nil })
}

// Activate moves the object id from Pre-Active to Active (KMIP 1.4 §4.19).
func (c *Conn) Activate(ctx context.Context, id string) error {
	return c.single(ctx, kmip.OperationActivate, id)
}

// Destroy destroys the object id (KMIP 1.4 §4.21). Servers refuse to
// destroy an Active object: Revoke it first.
func (c *Conn) Destroy(ctx context.Context, id string) error {
	return c.single(ctx, kmip.OperationDestroy, id)
}

// Revoke revokes the object id for reason (KMIP 1.4 §4.20). For Key
// Compromise and CA Compromise the Compromise Occurrence Date, which the
// spec then requires, is set to now.
func (c *Conn) Revoke(ctx context.Context, id string, reason kmip.RevocationReasonCode) error {
	return c.call1(ctx, 0, kmip.OperationRevoke, func(e *ttlv.Encoder) {
		e.Text(kmip.TagUniqueIdentifier, id)
		m := e.Begin(kmip.TagRevocationReason)
		e.Enum(kmip.TagRevocationReasonCode, uint32(reason))
		e.End(m)
		if reason == kmip.RevocationReasonCodeKeyCompromise || reason == kmip.RevocationReasonCodeCACompromise {
			e.DateTime(kmip.TagCompromiseOccurrenceDate, time.Now())
		}
	}, func(ttlv.Value, []byte) error { return nil })
}

// Ciphertext is the result of an AES-GCM encryption.
type Ciphertext struct {
	Data []byte
	IV   []byte // the IV/Counter/Nonce
	Tag  []byte // the Authenticated Encryption Tag
}

// gcmParams writes Cryptographic Parameters for AES-GCM (KMIP 1.4 §3.6,
// fields in table order). The Cryptographic Algorithm is optional there,
// but PyKMIP's server refuses an Encrypt without it.
func gcmParams(e *ttlv.Encoder, randomIV bool) {
	m := e.Begin(kmip.TagCryptographicParameters)
	e.Enum(kmip.TagBlockCipherMode, uint32(kmip.BlockCipherModeGCM))
	e.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmAES))
	if randomIV {
		e.Bool(kmip.TagRandomIV, true)
	}
	e.Int(kmip.TagTagLength, GCMTagLength)
	e.End(m)
}

// Encrypt encrypts plaintext with the AES key id in GCM mode (Encrypt,
// KMIP 1.4 §4.29). With iv nil the server picks a random IV (Random IV)
// and returns it; otherwise iv is used.
func (c *Conn) Encrypt(ctx context.Context, id string, plaintext, iv []byte) (Ciphertext, error) {
	op := kmip.OperationEncrypt
	var ct Ciphertext
	err := c.call1(ctx, secret, op, func(e *ttlv.Encoder) {
		e.Text(kmip.TagUniqueIdentifier, id)
		gcmParams(e, iv == nil)
		e.ByteString(kmip.TagData, plaintext)
		if iv != nil {
			e.ByteString(kmip.TagIVCounterNonce, iv)
		}
	}, func(p ttlv.Value, _ []byte) error {
		data, ok, err := bytesField(op, p, kmip.TagData)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("kmipclient: %s: response has no Data: %w", op, ErrBadResponse)
		}
		rIV, ok, err := bytesField(op, p, kmip.TagIVCounterNonce)
		if err != nil {
			return err
		}
		if !ok {
			if iv == nil {
				return fmt.Errorf("kmipclient: %s: server chose no IV: %w", op, ErrBadResponse)
			}
			rIV = iv
		}
		tag, ok, err := bytesField(op, p, kmip.TagAuthenticatedEncryptionTag)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("kmipclient: %s: response has no Authenticated Encryption Tag: %w", op, ErrBadResponse)
		}
		// One allocation for the three parts.
		buf := make([]byte, 0, len(data)+len(rIV)+len(tag))
		buf = append(buf, data...)
		buf = append(buf, rIV...)
		buf = append(buf, tag...)
		n, m := len(data), len(data)+len(rIV)
		ct = Ciphertext{Data: buf[:n:n], IV: buf[n:m:m], Tag: buf[m:]}
		return nil
	})
	return ct, err
}

// Decrypt decrypts ct with the AES key id in GCM mode (Decrypt, KMIP 1.4
// §4.30) and returns the plaintext, which the caller should clear when
// done with it.
func (c *Conn) Decrypt(ctx context.Context, id string, ct Ciphertext) ([]byte, error) {
	op := kmip.OperationDecrypt
	var out []byte
	err := c.call1(ctx, secret, op, func(e *ttlv.Encoder) {
		e.Text(kmip.TagUniqueIdentifier, id)
		gcmParams(e, false)
		e.ByteString(kmip.TagData, ct.Data)
		e.ByteString(kmip.TagIVCounterNonce, ct.IV)
		e.ByteString(kmip.TagAuthenticatedEncryptionTag, ct.Tag)
	}, func(p ttlv.Value, _ []byte) error {
		data, ok, err := bytesField(op, p, kmip.TagData)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("kmipclient: %s: response has no Data: %w", op, ErrBadResponse)
		}
		out = append(make([]byte, 0, len(data)), data...)
		return nil
	})
	return out, err
}

// Sign signs data with the private key id using ECDSA with SHA-256 (Sign,
// KMIP 1.4 §4.31; the server hashes data) and returns the signature.
func (c *Conn) Sign(ctx context.Context, id string, data []byte) ([]byte, error) {
	op := kmip.OperationSign
	var sig []byte
	err := c.call1(ctx, 0, op, func(e *ttlv.Encoder) {
		e.Text(kmip.TagUniqueIdentifier, id)
		m := e.Begin(kmip.TagCryptographicParameters)
		e.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256))
		e.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmECDSA))
		e.End(m)
		e.ByteString(kmip.TagData, data)
	}, func(p ttlv.Value, _ []byte) error {
		s, ok, err := bytesField(op, p, kmip.TagSignatureData)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("kmipclient: %s: response has no Signature Data: %w", op, ErrBadResponse)
		}
		sig = append(make([]byte, 0, len(s)), s...)
		return nil
	})
	return sig, err
}
