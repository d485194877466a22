package service

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func creationHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCreationKeyWrapVectors checks AES Key Wrap against RFC 3394 §4 and
// AES Key Wrap with Padding against RFC 5649 §6.
func TestCreationKeyWrapVectors(t *testing.T) {
	tests := []struct {
		name     string
		kek, key string
		want     string
		padded   bool
	}{
		{"RFC3394 4.1 128 KEK 128 data", "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
			"1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", false},
		{"RFC3394 4.2 192 KEK 128 data", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF",
			"96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D", false},
		{"RFC3394 4.3 256 KEK 128 data", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF",
			"64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7", false},
		{"RFC3394 4.4 192 KEK 192 data", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF0001020304050607",
			"031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2", false},
		{"RFC3394 4.5 256 KEK 192 data", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF0001020304050607",
			"A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1", false},
		{"RFC3394 4.6 256 KEK 256 data", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			"28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21", false},
		{"RFC5649 6 20 bytes", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738",
			"138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a", true},
		{"RFC5649 6 7 bytes", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
			"afbeb0f07dfbf5419200f2ccb50bb24f", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek, key, want := creationHex(t, tc.kek), creationHex(t, tc.key), creationHex(t, tc.want)
			wrap, unwrap := crKeyWrap, crKeyUnwrap
			if tc.padded {
				wrap, unwrap = crKeyWrapPad, crKeyUnwrapPad
			}
			got, err := wrap(kek, key)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("wrap = %x, %v; want %x", got, err, want)
			}
			back, err := unwrap(kek, want)
			if err != nil || !bytes.Equal(back, key) {
				t.Fatalf("unwrap = %x, %v; want %x", back, err, key)
			}
			for i := range want {
				bad := bytes.Clone(want)
				bad[i] ^= 0x01
				if _, err := unwrap(kek, bad); err == nil {
					t.Fatalf("unwrap accepted a blob with byte %d changed", i)
				}
			}
		})
	}
	t.Run("padding round trips", func(t *testing.T) {
		kek := bytes.Repeat([]byte{7}, 32)
		for n := 1; n <= 70; n++ {
			key := bytes.Repeat([]byte{byte(n)}, n)
			w, err := crKeyWrapPad(kek, key)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := crKeyUnwrapPad(kek, w); err != nil || !bytes.Equal(got, key) {
				t.Fatalf("%d bytes: %x, %v", n, got, err)
			}
			if n%8 == 0 && n >= 16 {
				w, _ := crKeyWrap(kek, key)
				if got, err := crKeyUnwrap(kek, w); err != nil || !bytes.Equal(got, key) {
					t.Fatalf("%d bytes: %x, %v", n, got, err)
				}
			}
		}
	})
	t.Run("bad lengths", func(t *testing.T) {
		kek := bytes.Repeat([]byte{7}, 16)
		for _, n := range []int{0, 8, 12, 17} {
			if _, err := crKeyWrap(kek, make([]byte, n)); err == nil {
				t.Errorf("wrap of %d bytes accepted", n)
			}
		}
		for _, n := range []int{0, 8, 15, 17, 20} {
			if _, err := crKeyUnwrapPad(kek, make([]byte, n)); err == nil {
				t.Errorf("unwrap of %d bytes accepted", n)
			}
			if _, err := crKeyUnwrap(kek, make([]byte, n)); err == nil {
				t.Errorf("unwrap of %d bytes accepted", n)
			}
		}
	})
}

// creationWrapSpec builds a Key Wrapping Specification.
func creationWrapSpec(kekID string, params ttlv.Value, encoding kmip.EncodingOption, names ...string) ttlv.Value {
	eki := []ttlv.Value{creationUID(kekID)}
	if !params.IsZero() {
		eki = append(eki, params)
	}
	f := []ttlv.Value{
		ttlv.Enum(kmip.TagWrappingMethod, uint32(kmip.WrappingMethodEncrypt)),
		ttlv.Struct(kmip.TagEncryptionKeyInformation, eki...),
	}
	for _, n := range names {
		f = append(f, ttlv.Text(kmip.TagAttributeName, n))
	}
	if encoding != 0 {
		f = append(f, ttlv.Enum(kmip.TagEncodingOption, uint32(encoding)))
	}
	return ttlv.Struct(kmip.TagKeyWrappingSpecification, f...)
}

func creationMode(m kmip.BlockCipherMode) ttlv.Value {
	return ttlv.Struct(kmip.TagCryptographicParameters, ttlv.Enum(kmip.TagBlockCipherMode, uint32(m)))
}

// creationWrapped returns the wrapped key and Key Wrapping Data of a Get
// response object structure: with No Encoding the Key Material of the Key
// Value structure (TC-WRAP-3), else the Key Value Byte String (AX-M-2).
// creationWrapped returns the wrapped bytes and the Key Wrapping Data of a
// wrapped key from Get. With No Encoding a 1.x answer keeps the Key Value
// structure around the wrapped Key Material (KMIP 1.4 §2.1.5,
// TC-WRAP-3-14), a 2.x answer makes the Key Value the wrapped bytes (2.0
// §2.1.5, TC-WRAP-3-20).
func creationWrapped(t *testing.T, ver kmip.ProtocolVersion, obj ttlv.Value) (blob []byte, kwd ttlv.Value) {
	t.Helper()
	kb, _ := obj.Child(kmip.TagKeyBlock)
	// AX-M-2: Key Format Type, Key Value, Cryptographic Algorithm,
	// Cryptographic Length, Key Wrapping Data.
	if got := creationTags(kb); !slices.Equal(got, []ttlv.Tag{kmip.TagKeyFormatType, kmip.TagKeyValue, kmip.TagCryptographicAlgorithm, kmip.TagCryptographicLength, kmip.TagKeyWrappingData}) {
		t.Fatalf("wrapped key block fields %v", got)
	}
	kv, _ := kb.Child(kmip.TagKeyValue)
	kwd, _ = kb.Child(kmip.TagKeyWrappingData)
	enc, _ := kwd.Child(kmip.TagEncodingOption)
	if kmip.EncodingOption(enc.Enum()) == kmip.EncodingOptionNoEncoding && !ver.Is2x() {
		m, ok := kv.Child(kmip.TagKeyMaterial)
		if kv.Type != ttlv.TypeStructure || !ok || len(kv.Children()) != 1 {
			t.Fatalf("no-encoding wrapped key value %v", kv)
		}
		return m.Bytes(), kwd
	}
	if kv.Type != ttlv.TypeByteString {
		t.Fatalf("wrapped key value is a %v, want a Byte String", kv.Type)
	}
	return kv.Bytes(), kwd
}

func TestCreationGetWrapped(t *testing.T) {
	e := newCreationEnv(t)
	past := time.Now().Add(-time.Hour)
	kek := creationHex(t, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
	dek := creationHex(t, "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
	hmacKey := bytes.Repeat([]byte{0x42}, 20)
	wrapUse := creationMask(kmip.CryptographicUsageMaskWrapKey | kmip.CryptographicUsageMaskUnwrapKey)
	kekID := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, kek, wrapUse,
		creationDate(attrActivationDate, past), creationA(attrCryptoParameters, creationMode(kmip.BlockCipherModeNISTKeyWrap)),
		creationA(attrCryptoParameters, creationMode(kmip.BlockCipherModeAESKeyWrapPadding)))
	bareKEK := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, kek, wrapUse, creationDate(attrActivationDate, past))
	dekID := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, dek, creationName("dek"))
	hmacID := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmHMACSHA1, hmacKey)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsaKEK := e.register(t, creationV14, kmip.ObjectTypePublicKey, ttlv.Struct(kmip.TagPublicKey,
		creationKeyBlock(kmip.KeyFormatTypeX509, ttlv.Bytes(kmip.TagKeyMaterial, spki), kmip.CryptographicAlgorithmRSA, 2048)),
		creationMask(kmip.CryptographicUsageMaskWrapKey), creationDate(attrActivationDate, past))

	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		t.Run("NIST key wrap, no encoding/"+ver.String(), func(t *testing.T) {
			// TC-WRAP-1: the RFC 3394 §4.6 vector.
			obj := e.get(t, ver, dekID, creationWrapSpec(kekID, creationMode(kmip.BlockCipherModeNISTKeyWrap), kmip.EncodingOptionNoEncoding))
			blob, kwd := creationWrapped(t, ver, obj)
			if want := creationHex(t, "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"); !bytes.Equal(blob, want) {
				t.Errorf("wrapped %x, want %x", blob, want)
			}
			if got := creationTags(kwd); !slices.Equal(got, []ttlv.Tag{kmip.TagWrappingMethod, kmip.TagEncryptionKeyInformation, kmip.TagEncodingOption}) {
				t.Errorf("key wrapping data fields %v", got)
			}
		})
		t.Run("NIST key wrap, TTLV/"+ver.String(), func(t *testing.T) {
			// AX-M-2: no Encoding Option, so the whole Key Value is
			// wrapped TTLV-encoded; the parameters come from the key.
			obj := e.get(t, ver, dekID, creationWrapSpec(kekID, ttlv.Value{}, 0, attrName))
			blob, kwd := creationWrapped(t, ver, obj)
			plain, err := crKeyUnwrap(kek, blob)
			if err != nil {
				t.Fatal(err)
			}
			kv, err := ttlv.Decode(plain, ttlv.Limits{})
			if err != nil || kv.Tag != kmip.TagKeyValue {
				t.Fatalf("unwrapped %v, %v: not a key value", kv, err)
			}
			if m, _ := kv.Child(kmip.TagKeyMaterial); !bytes.Equal(m.Bytes(), dek) {
				t.Errorf("unwrapped key material %x", m.Bytes())
			}
			if len(kv.Children()) != 2 {
				t.Errorf("key value %v: want the key material and the Name", kv)
			}
			eki, _ := kwd.Child(kmip.TagEncryptionKeyInformation)
			if !eki.Has(kmip.TagCryptographicParameters) {
				t.Errorf("key wrapping data does not say which parameters were used: %v", eki)
			}
		})
		t.Run("AES key wrap with padding/"+ver.String(), func(t *testing.T) {
			obj := e.get(t, ver, hmacID, creationWrapSpec(kekID, creationMode(kmip.BlockCipherModeAESKeyWrapPadding), kmip.EncodingOptionNoEncoding))
			blob, _ := creationWrapped(t, ver, obj)
			if plain, err := crKeyUnwrapPad(kek, blob); err != nil || !bytes.Equal(plain, hmacKey) {
				t.Errorf("unwrapped %x, %v", plain, err)
			}
		})
		t.Run("RSA-OAEP/"+ver.String(), func(t *testing.T) {
			params := ttlv.Struct(kmip.TagCryptographicParameters,
				ttlv.Enum(kmip.TagPaddingMethod, uint32(kmip.PaddingMethodOAEP)),
				ttlv.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256)))
			obj := e.get(t, ver, dekID, creationWrapSpec(rsaKEK, params, kmip.EncodingOptionNoEncoding))
			blob, _ := creationWrapped(t, ver, obj)
			// KMIP 1.4 §3.6: the mask generator hash defaults to SHA-1.
			plain, err := rsaKey.Decrypt(nil, blob, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
			if err != nil || !bytes.Equal(plain, dek) {
				t.Errorf("OAEP unwrap %x, %v", plain, err)
			}
		})
	}
	// The wrapping key may not wrap, or cannot be used.
	preActive := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, kek, wrapUse)
	noWrapUse := e.registerSymmetric(t, creationV14, kmip.CryptographicAlgorithmAES, kek,
		creationMask(kmip.CryptographicUsageMaskEncrypt), creationDate(attrActivationDate, past))
	tests := []struct {
		name           string
		spec           ttlv.Value
		id             string
		want1x, want2x kmip.ResultReason
	}{
		{"unknown wrapping key", creationWrapSpec("no-such-key", ttlv.Value{}, 0), dekID,
			kmip.ResultReasonItemNotFound, kmip.ResultReasonWrappingObjectNotFound},
		{"pre-active wrapping key", creationWrapSpec(preActive, ttlv.Value{}, 0), dekID,
			kmip.ResultReasonPermissionDenied, kmip.ResultReasonWrongKeyLifecycleState},
		{"no wrap usage", creationWrapSpec(noWrapUse, ttlv.Value{}, 0), dekID,
			kmip.ResultReasonPermissionDenied, kmip.ResultReasonIncompatibleCryptographicUsageMask},
		{"parameters do not match", creationWrapSpec(kekID, creationMode(kmip.BlockCipherModeCBC), 0), dekID,
			kmip.ResultReasonItemNotFound, kmip.ResultReasonBadCryptographicParameters},
		{"not a wrapping mode", creationWrapSpec(bareKEK, creationMode(kmip.BlockCipherModeGCM), 0), dekID,
			kmip.ResultReasonFeatureNotSupported, kmip.ResultReasonFeatureNotSupported},
		{"NIST key wrap of 20 bytes", creationWrapSpec(bareKEK, creationMode(kmip.BlockCipherModeNISTKeyWrap), kmip.EncodingOptionNoEncoding), hmacID,
			kmip.ResultReasonCryptographicFailure, kmip.ResultReasonCryptographicFailure},
		{"attribute names without encoding", creationWrapSpec(kekID, ttlv.Value{}, kmip.EncodingOptionNoEncoding, attrName), dekID,
			kmip.ResultReasonEncodingOptionError, kmip.ResultReasonEncodingOptionError},
		{"wrapping key is the data key", creationWrapSpec(dekID, ttlv.Value{}, 0), hmacID,
			kmip.ResultReasonPermissionDenied, kmip.ResultReasonWrongKeyLifecycleState},
		{"MAC/sign", ttlv.Struct(kmip.TagKeyWrappingSpecification,
			ttlv.Enum(kmip.TagWrappingMethod, uint32(kmip.WrappingMethodMACSign)),
			ttlv.Struct(kmip.TagMACSignatureKeyInformation, creationUID(kekID))), dekID,
			kmip.ResultReasonFeatureNotSupported, kmip.ResultReasonFeatureNotSupported},
	}
	for _, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				_, err := e.call(ver, kmip.OperationGet, creationUID(tc.id), tc.spec)
				want := tc.want1x
				if ver.Is2x() {
					want = tc.want2x
				}
				creationReason(t, err, want)
			})
		}
	}
}

// TestCreationSensitiveExtractable follows TC-SENSITIVE-1 and
// TC-EXTRACTABLE-1: a sensitive key is served only wrapped, a
// non-extractable key never.
func TestCreationSensitiveExtractable(t *testing.T) {
	e := newCreationEnv(t)
	past := time.Now().Add(-time.Hour)
	kekID := creationID(t, e.must(t, creationV14, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
		creationTemplate(creationV14, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256),
			creationMask(kmip.CryptographicUsageMaskWrapKey|kmip.CryptographicUsageMaskUnwrapKey),
			creationA(attrCryptoParameters, creationMode(kmip.BlockCipherModeNISTKeyWrap)),
			creationDate(attrActivationDate, past))))
	kekObj := e.object(t, kekID)
	if creationAttrValue(t, kekObj, attrSensitive).Bool() || creationAttrValue(t, kekObj, attrAlwaysSensitive).Bool() ||
		!creationAttrValue(t, kekObj, attrExtractable).Bool() || creationAttrValue(t, kekObj, attrNeverExtractable).Bool() {
		t.Fatalf("default sensitivity attributes wrong")
	}
	create := func(ver kmip.ProtocolVersion, a kmip.Attribute) string {
		return creationID(t, e.must(t, ver, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
			creationTemplate(ver, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256), a)))
	}
	spec := creationWrapSpec(kekID, creationMode(kmip.BlockCipherModeNISTKeyWrap), kmip.EncodingOptionNoEncoding)
	tests := []struct {
		ver            kmip.ProtocolVersion
		attr           kmip.Attribute
		derived        string
		plain, wrapped kmip.ResultReason // 0: success
	}{
		{creationV14, creationBool(attrSensitive, true), attrAlwaysSensitive, kmip.ResultReasonSensitive, 0},
		{creationV20, creationBool(attrSensitive, true), attrAlwaysSensitive, kmip.ResultReasonSensitive, 0},
		{kmip.V1_2, creationBool(attrSensitive, true), attrAlwaysSensitive, kmip.ResultReasonPermissionDenied, 0},
		{creationV14, creationBool(attrExtractable, false), attrNeverExtractable, kmip.ResultReasonNotExtractable, kmip.ResultReasonNotExtractable},
		{creationV20, creationBool(attrExtractable, false), attrNeverExtractable, kmip.ResultReasonNotExtractable, kmip.ResultReasonNotExtractable},
	}
	for _, tc := range tests {
		t.Run(tc.attr.Name+"/"+tc.ver.String(), func(t *testing.T) {
			id := create(creationV14, tc.attr)
			if !creationAttrValue(t, e.object(t, id), tc.derived).Bool() {
				t.Errorf("%s not set", tc.derived)
			}
			_, err := e.call(tc.ver, kmip.OperationGet, creationUID(id))
			creationReason(t, err, tc.plain)
			_, err = e.call(tc.ver, kmip.OperationGet, creationUID(id), spec)
			if tc.wrapped == 0 {
				if err != nil {
					t.Fatalf("wrapped get: %v", err)
				}
			} else {
				creationReason(t, err, tc.wrapped)
			}
		})
	}
}

// TestCreationRegisterWrapped follows TC-WRAP-1 and TC-WRAP-2: a key
// registered wrapped under a managed key is stored unwrapped (under the
// HSM master key) and served either way.
func TestCreationRegisterWrapped(t *testing.T) {
	e := newCreationEnv(t)
	kek := creationHex(t, "000102030405060708090a0b0c0d0e0f")
	key := creationHex(t, "00112233445566778899AABBCCDDEEFF")
	wrapped := creationHex(t, "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5")
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		t.Run(ver.String(), func(t *testing.T) {
			kekID := e.registerSymmetric(t, ver, kmip.CryptographicAlgorithmAES, kek,
				creationMask(kmip.CryptographicUsageMaskWrapKey|kmip.CryptographicUsageMaskUnwrapKey),
				creationA(attrCryptoParameters, creationMode(kmip.BlockCipherModeNISTKeyWrap)),
				creationDate(attrActivationDate, time.Now().Add(-time.Hour)))
			kwd := ttlv.Struct(kmip.TagKeyWrappingData,
				ttlv.Enum(kmip.TagWrappingMethod, uint32(kmip.WrappingMethodEncrypt)),
				ttlv.Struct(kmip.TagEncryptionKeyInformation, creationUID(kekID), creationMode(kmip.BlockCipherModeNISTKeyWrap)),
				ttlv.Enum(kmip.TagEncodingOption, uint32(kmip.EncodingOptionNoEncoding)))
			kb := ttlv.Struct(kmip.TagKeyBlock,
				ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw)),
				ttlv.Bytes(kmip.TagKeyValue, wrapped),
				ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmAES)),
				ttlv.Int(kmip.TagCryptographicLength, 128),
				kwd)
			id := e.register(t, ver, kmip.ObjectTypeSymmetricKey, ttlv.Struct(kmip.TagSymmetricKey, kb),
				creationMask(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt))
			_, m := creationMaterial(t, e.get(t, ver, id, ttlv.Enum(kmip.TagKeyWrapType, uint32(kmip.KeyWrapTypeNotWrapped))))
			if !bytes.Equal(m.Bytes(), key) {
				t.Errorf("not wrapped: %x, want %x", m.Bytes(), key)
			}
			asReg := e.get(t, ver, id, ttlv.Enum(kmip.TagKeyWrapType, uint32(kmip.KeyWrapTypeAsRegistered)))
			if got, _ := asReg.Child(kmip.TagKeyBlock); !ttlv.Equal(got, kb) {
				t.Errorf("as registered: %v", got)
			}
			// A bad blob fails the integrity check.
			bad := bytes.Clone(wrapped)
			bad[3] ^= 1
			_, err := e.call(ver, kmip.OperationRegister, creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(ver),
				ttlv.Struct(kmip.TagSymmetricKey, ttlv.Struct(kmip.TagKeyBlock,
					ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw)),
					ttlv.Bytes(kmip.TagKeyValue, bad),
					ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmAES)),
					ttlv.Int(kmip.TagCryptographicLength, 128), kwd)))
			creationReason(t, err, kmip.ResultReasonCryptographicFailure)
		})
	}
}
