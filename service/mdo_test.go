package service

import (
	"slices"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Tests of metadata-only objects (mdo.go): Register of a Key Block without
// Key Value (KMIP 1.4 §3.41, §3.42; TC-MDO-1..3, TC-OTP-SETUP-2).

// mdoKeyBlock builds a Key Block without Key Value, with the optional
// algorithm and length (0 to omit) and extra fields.
func mdoKeyBlock(f kmip.KeyFormatType, alg kmip.CryptographicAlgorithm, bits int32, extra ...ttlv.Value) ttlv.Value {
	fields := []ttlv.Value{ttlv.Enum(kmip.TagKeyFormatType, uint32(f))}
	if alg != 0 {
		fields = append(fields, ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(alg)))
	}
	if bits != 0 {
		fields = append(fields, ttlv.Int(kmip.TagCryptographicLength, bits))
	}
	return ttlv.Struct(kmip.TagKeyBlock, append(fields, extra...)...)
}

// mdoLocation is a Key Value Location attribute (KMIP 1.4 §3.42).
func mdoLocation(value string, t kmip.KeyValueLocationType) kmip.Attribute {
	return attr("Key Value Location", ttlv.Struct(kmip.TagKeyValueLocation,
		ttlv.Text(kmip.TagKeyValueLocationValue, value),
		ttlv.Enum(kmip.TagKeyValueLocationType, uint32(t))))
}

func TestMDORegisterAndGet(t *testing.T) {
	e := newCreationEnv(t)
	aes := mdoKeyBlock(kmip.KeyFormatTypeRaw, kmip.CryptographicAlgorithmAES, 128)
	pad := mdoKeyBlock(kmip.KeyFormatTypeOpaque, 0, 0)
	rsa := mdoKeyBlock(kmip.KeyFormatTypePKCS8, kmip.CryptographicAlgorithmRSA, 2048)
	cases := []struct {
		name  string
		ver   kmip.ProtocolVersion
		ot    kmip.ObjectType
		obj   ttlv.Value
		attrs []kmip.Attribute
		// want is the object structure Get returns: the one registered.
		want ttlv.Value
	}{
		{"TC-MDO-1 symmetric key, 1.4", creationV14, kmip.ObjectTypeSymmetricKey,
			ttlv.Struct(kmip.TagSymmetricKey, aes),
			[]kmip.Attribute{mdoLocation("HSM-13345", kmip.KeyValueLocationTypeUninterpretedTextString), creationName("mdo-1")},
			ttlv.Struct(kmip.TagSymmetricKey, aes)},
		{"TC-MDO-3 symmetric key, 2.0, URI location", creationV20, kmip.ObjectTypeSymmetricKey,
			ttlv.Struct(kmip.TagSymmetricKey, aes),
			[]kmip.Attribute{mdoLocation("pkcs11:token=T;object=K", kmip.KeyValueLocationTypeURI)},
			ttlv.Struct(kmip.TagSymmetricKey, aes)},
		{"algorithm and length only in the attributes", creationV14, kmip.ObjectTypeSymmetricKey,
			ttlv.Struct(kmip.TagSymmetricKey, mdoKeyBlock(kmip.KeyFormatTypeRaw, 0, 0)),
			[]kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128)},
			ttlv.Struct(kmip.TagSymmetricKey, aes)},
		{"TC-OTP-SETUP-2 secret data, 1.3", kmip.V1_3, kmip.ObjectTypeSecretData,
			ttlv.Struct(kmip.TagSecretData, ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)), pad),
			[]kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmOneTimePad)},
			ttlv.Struct(kmip.TagSecretData, ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)), pad)},
		{"private key, 2.0", creationV20, kmip.ObjectTypePrivateKey,
			ttlv.Struct(kmip.TagPrivateKey, rsa), nil,
			ttlv.Struct(kmip.TagPrivateKey, rsa)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := e.register(t, tc.ver, tc.ot, tc.obj, tc.attrs...)
			o := e.object(t, id)
			if o.Wrapped != nil {
				t.Errorf("a metadata-only object has wrapped material")
			}
			if a, ok := o.Attr(attrKeyValuePresent); !ok || a.Value.Bool() {
				t.Errorf("Key Value Present = %v (set %v), want false", a.Value, ok)
			}
			if _, ok := o.Attr(attrDigest); ok {
				t.Errorf("a metadata-only object has a Digest: there is no key material to digest")
			}
			for _, want := range tc.attrs {
				got, ok := o.Attr(want.Name)
				if !ok || !ttlv.Equal(got.Value, want.Value) {
					t.Errorf("attribute %q = %v, want %v", want.Name, got.Value, want.Value)
				}
			}
			if got := e.get(t, tc.ver, id); !ttlv.Equal(got, tc.want) {
				t.Errorf("get returned %v, want %v", got, tc.want)
			}
			// Key Wrap Type "As Registered" is what was registered too.
			asReg := ttlv.Enum(kmip.TagKeyWrapType, uint32(kmip.KeyWrapTypeAsRegistered))
			if got := e.get(t, tc.ver, id, asReg); !ttlv.Equal(got, tc.want) {
				t.Errorf("get as registered returned %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMDORegisterRefused(t *testing.T) {
	e := newCreationEnv(t)
	wrapping := ttlv.Struct(kmip.TagKeyWrappingData,
		ttlv.Enum(kmip.TagWrappingMethod, uint32(kmip.WrappingMethodEncrypt)),
		ttlv.Struct(kmip.TagEncryptionKeyInformation, creationUID("1")))
	cases := []struct {
		name  string
		ver   kmip.ProtocolVersion
		ot    kmip.ObjectType
		obj   ttlv.Value
		attrs []kmip.Attribute
		want  kmip.ResultReason
	}{
		// KMIP 1.4 Table 142: Key Value Present does not apply to them.
		{"public key", creationV14, kmip.ObjectTypePublicKey,
			ttlv.Struct(kmip.TagPublicKey, mdoKeyBlock(kmip.KeyFormatTypePKCS1, kmip.CryptographicAlgorithmRSA, 2048)), nil,
			kmip.ResultReasonInvalidField},
		{"PGP key", creationV20, kmip.ObjectTypePGPKey,
			ttlv.Struct(kmip.TagPGPKey, ttlv.Int(kmip.TagPGPKeyVersion, 4), mdoKeyBlock(kmip.KeyFormatTypeOpaque, 0, 0)), nil,
			kmip.ResultReasonInvalidField},
		{"symmetric key without algorithm, 1.4", creationV14, kmip.ObjectTypeSymmetricKey,
			ttlv.Struct(kmip.TagSymmetricKey, mdoKeyBlock(kmip.KeyFormatTypeRaw, 0, 128)), nil,
			kmip.ResultReasonInvalidField},
		{"symmetric key without algorithm, 2.0", creationV20, kmip.ObjectTypeSymmetricKey,
			ttlv.Struct(kmip.TagSymmetricKey, mdoKeyBlock(kmip.KeyFormatTypeRaw, 0, 128)), nil,
			kmip.ResultReasonInvalidAttributeValue},
		{"key block and attributes disagree", creationV14, kmip.ObjectTypeSymmetricKey,
			ttlv.Struct(kmip.TagSymmetricKey, mdoKeyBlock(kmip.KeyFormatTypeRaw, kmip.CryptographicAlgorithmAES, 128)),
			[]kmip.Attribute{creationLen(256)},
			kmip.ResultReasonInvalidField},
		{"key wrapping data without key value", creationV14, kmip.ObjectTypeSymmetricKey,
			ttlv.Struct(kmip.TagSymmetricKey, mdoKeyBlock(kmip.KeyFormatTypeRaw, kmip.CryptographicAlgorithmAES, 128, wrapping)), nil,
			kmip.ResultReasonInvalidField},
		// KMIP 1.4 §3.41: "SHALL NOT be specified by the client".
		{"client sets Key Value Present", creationV20, kmip.ObjectTypeSymmetricKey,
			ttlv.Struct(kmip.TagSymmetricKey, mdoKeyBlock(kmip.KeyFormatTypeRaw, kmip.CryptographicAlgorithmAES, 128)),
			[]kmip.Attribute{creationBool(attrKeyValuePresent, false)},
			kmip.ResultReasonAttributeReadOnly},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.call(tc.ver, kmip.OperationRegister, creationOT(tc.ot), creationTemplate(tc.ver, tc.attrs...), tc.obj)
			t.Log(err)
			creationReason(t, err, tc.want)
		})
	}
}

// TestMDOKeyValueNeeded checks that what needs the key itself answers Key
// Value Not Present (KMIP 1.4 §11) and that Locate finds metadata-only
// objects by Key Value Present (TC-MDO-2).
func TestMDOKeyValueNeeded(t *testing.T) {
	e := newCreationEnv(t)
	past := creationDate(attrActivationDate, time.Now().Add(-time.Hour))
	usage := creationMask(kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt)
	mdo := e.register(t, creationV14, kmip.ObjectTypeSymmetricKey,
		ttlv.Struct(kmip.TagSymmetricKey, mdoKeyBlock(kmip.KeyFormatTypeRaw, kmip.CryptographicAlgorithmAES, 128)), past, usage)
	kek := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, make([]byte, 16), past,
		creationMask(kmip.CryptographicUsageMaskWrapKey))
	ecb := cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB))
	cases := []struct {
		name   string
		op     kmip.Operation
		fields []ttlv.Value
	}{
		{"encrypt", kmip.OperationEncrypt, []ttlv.Value{creationUID(mdo), ecb, cryptoData(make([]byte, 16))}},
		{"decrypt", kmip.OperationDecrypt, []ttlv.Value{creationUID(mdo), ecb, cryptoData(make([]byte, 16))}},
		{"get in another format", kmip.OperationGet, []ttlv.Value{creationUID(mdo),
			ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeTransparentSymmetricKey))}},
		{"get wrapped", kmip.OperationGet, []ttlv.Value{creationUID(mdo),
			creationWrapSpec(kek, creationMode(kmip.BlockCipherModeNISTKeyWrap), 0)}},
		{"re-key", kmip.OperationReKey, []ttlv.Value{creationUID(mdo)}},
	}
	for _, tc := range cases {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				_, err := e.call(ver, tc.op, tc.fields...)
				creationReason(t, err, kmip.ResultReasonKeyValueNotPresent)
			})
		}
	}
	t.Run("locate by Key Value Present", func(t *testing.T) {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			var filter []ttlv.Value
			kvp := []kmip.Attribute{creationBool(attrKeyValuePresent, false)}
			if ver.Is2x() {
				filter = []ttlv.Value{ttlv.Struct(kmip.TagAttributes, kmip.EncodeAttributes(kvp, ver, false)...)}
			} else {
				filter = kmip.EncodeAttributes(kvp, ver, false)
			}
			p := e.must(t, ver, kmip.OperationLocate, filter...)
			var got []string
			for _, c := range p.Children() {
				if c.Tag == kmip.TagUniqueIdentifier {
					got = append(got, c.Text())
				}
			}
			if !slices.Equal(got, []string{mdo}) {
				t.Errorf("%v: locate Key Value Present = false found %v, want only %s", ver, got, mdo)
			}
		}
	})
	t.Run("destroyed", func(t *testing.T) {
		e.must(t, creationV14, kmip.OperationRevoke, creationUID(mdo), ttlv.Struct(kmip.TagRevocationReason,
			ttlv.Enum(kmip.TagRevocationReasonCode, uint32(kmip.RevocationReasonCodeCessationOfOperation))))
		e.must(t, creationV14, kmip.OperationDestroy, creationUID(mdo))
		// A destroyed object is no longer served as metadata-only: Get
		// answers as for any destroyed key (get.go).
		_, err := e.call(creationV14, kmip.OperationGet, creationUID(mdo))
		creationReason(t, err, kmip.ResultReasonIllegalOperation)
		_, err = e.call(creationV20, kmip.OperationGet, creationUID(mdo))
		creationReason(t, err, kmip.ResultReasonKeyValueNotPresent)
	})
}
