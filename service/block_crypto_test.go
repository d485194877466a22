package service

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"slices"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

const (
	cryptoAESKey128 = "0123456789abcdef0123456789abcdef" // CS-BC-M-4 ... 14
	cryptoPlain33   = "010203040506070809101112131415160102030405060708091011121314151601"
)

// TestCryptoBlockVectors replays the known answers of the OASIS vectors
// CS-BC-M-4..13 (AES-128 ECB and CBC, with and without PKCS#5 padding) in
// both protocol versions.
func TestCryptoBlockVectors(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	key := cryptoHex(t, cryptoAESKey128)
	plain16 := cryptoHex(t, "01020304050607080910111213141516")
	plain33 := cryptoHex(t, cryptoPlain33)
	ecb := cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB))
	ecbPad := cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB), cryptoPad(kmip.PaddingMethodPKCS5))
	cbcPad := cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC), cryptoPad(kmip.PaddingMethodPKCS5))
	cbcNoPadding := cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC))
	iv1 := cryptoHex(t, "01020304050607080910111213141516")
	ivFF := cryptoHex(t, "FF020304050607080910111213141516")

	tests := []struct {
		name     string
		stored   ttlv.Value // stored Cryptographic Parameters
		params   ttlv.Value // request Cryptographic Parameters
		iv       []byte
		plain    []byte
		cipher   string
		decIV    []byte // IV for Decrypt when it differs
		decPlain string // expected Decrypt output when it differs
	}{
		{name: "CS-BC-M-4 ECB", params: ecb, plain: plain16, cipher: "d9bcce11b0b437b90239552df3a360c9"},
		{name: "CS-BC-M-8 ECB PKCS5 one block", params: ecbPad, plain: plain16, cipher: "d9bcce11b0b437b90239552df3a360c90efb6bfed93b4d1ea2123ba4db075ff6"},
		{name: "CS-BC-M-9 ECB PKCS5", params: ecbPad, plain: plain33, cipher: "d9bcce11b0b437b90239552df3a360c9d9bcce11b0b437b90239552df3a360c9be261a7bd1371bb738fe004d500381d0"},
		{name: "CS-BC-M-10 CBC PKCS5", params: cbcPad, iv: iv1, plain: plain33, cipher: "79abc5c23868ad84d388ce61110a62742bda19d694bbcb757dd06617c0d80fb1df2e71864ad9633d7d797e30860df00d"},
		{
			name: "CS-BC-M-11 CBC PKCS5 wrong IV on decrypt", params: cbcPad, iv: ivFF, plain: plain33,
			cipher: "e768203ba72b6e157daaad34b1e791d8e88457dc147942f01bfaff7b28a3cdde2203d4d5a4c7928ba9e9cc78b66a6546",
			decIV:  make([]byte, 16), decPlain: "fe0000000000000000000000000000000102030405060708091011121314151601",
		},
		{name: "CS-BC-M-12 stored CBC PKCS5", stored: cbcPad, iv: ivFF, plain: plain33, cipher: "e768203ba72b6e157daaad34b1e791d8e88457dc147942f01bfaff7b28a3cdde2203d4d5a4c7928ba9e9cc78b66a6546"},
		// CS-BC-M-13-20: CBC without a Padding Method pads with PKCS#5.
		{name: "CS-BC-M-13-20 CBC default padding", params: cbcNoPadding, iv: ivFF, plain: plain33, cipher: "e768203ba72b6e157daaad34b1e791d8e88457dc147942f01bfaff7b28a3cdde2203d4d5a4c7928ba9e9cc78b66a6546"},
	}
	for _, ver := range cryptoVersions {
		for _, tc := range tests {
			t.Run(ver.String()+"/"+tc.name, func(t *testing.T) {
				id := env.put(t, cryptoKey{
					typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128, material: key,
					mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt, params: tc.stored,
				})
				fields := []ttlv.Value{cryptoUID(id)}
				if !tc.params.IsZero() {
					fields = append(fields, tc.params)
				}
				enc := append(slices.Clone(fields), cryptoData(tc.plain))
				if tc.iv != nil {
					enc = append(enc, cryptoIV(tc.iv))
				}
				p := env.mustCall(t, ver, kmip.OperationEncrypt, enc...)
				if got := cryptoTags(p); !slices.Equal(got, []string{"UniqueIdentifier", "Data"}) {
					t.Errorf("encrypt response fields %v", got)
				}
				if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, cryptoHex(t, tc.cipher)) {
					t.Fatalf("ciphertext %x, want %s", got, tc.cipher)
				}
				dec := append(slices.Clone(fields), cryptoData(cryptoHex(t, tc.cipher)))
				iv := tc.iv
				if tc.decIV != nil {
					iv = tc.decIV
				}
				if iv != nil {
					dec = append(dec, cryptoIV(iv))
				}
				p = env.mustCall(t, ver, kmip.OperationDecrypt, dec...)
				want := tc.plain
				if tc.decPlain != "" {
					want = cryptoHex(t, tc.decPlain)
				}
				if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, want) {
					t.Fatalf("plaintext %x, want %x", got, want)
				}
			})
		}
	}
}

// TestCryptoRandomIV covers Random IV from the stored parameters
// (CS-BC-M-13): the response carries the generated IV, which decrypts.
func TestCryptoRandomIV(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	plain := cryptoHex(t, cryptoPlain33)
	for _, ver := range cryptoVersions {
		for _, mode := range []kmip.BlockCipherMode{kmip.BlockCipherModeCBC, kmip.BlockCipherModeCTR, kmip.BlockCipherModeGCM} {
			t.Run(ver.String()+"/"+mode.String(), func(t *testing.T) {
				id := env.put(t, cryptoKey{
					typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128, material: cryptoHex(t, cryptoAESKey128),
					mask:   kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt,
					params: cryptoParamsV(cryptoMode(mode), ttlv.Bool(kmip.TagRandomIV, true)),
				})
				p := env.mustCall(t, ver, kmip.OperationEncrypt, cryptoUID(id), cryptoData(plain))
				want := []string{"UniqueIdentifier", "Data", "IVCounterNonce"}
				if mode == kmip.BlockCipherModeGCM {
					want = append(want, "AuthenticatedEncryptionTag")
				}
				if got := cryptoTags(p); !slices.Equal(got, want) {
					t.Fatalf("encrypt response fields %v, want %v", got, want)
				}
				iv := cryptoField(t, p, kmip.TagIVCounterNonce)
				wantLen := 16
				if mode == kmip.BlockCipherModeGCM {
					wantLen = 12
				}
				if len(iv) != wantLen {
					t.Errorf("IV of %d bytes, want %d", len(iv), wantLen)
				}
				dec := []ttlv.Value{cryptoUID(id), cryptoData(cryptoField(t, p, kmip.TagData))}
				// Without the IV, Decrypt fails as the vector expects.
				_, err := env.call(ver, kmip.OperationDecrypt, dec...)
				cryptoWantReason(t, err, kmip.ResultReasonInvalidMessage)
				dec = append(dec, cryptoIV(iv))
				if mode == kmip.BlockCipherModeGCM {
					dec = append(dec, ttlv.Bytes(kmip.TagAuthenticatedEncryptionTag, cryptoField(t, p, kmip.TagAuthenticatedEncryptionTag)))
				}
				p = env.mustCall(t, ver, kmip.OperationDecrypt, dec...)
				if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, plain) {
					t.Fatalf("round trip gave %x", got)
				}
			})
		}
	}
}

// TestCryptoGCM checks AES-GCM against the vectors of CS-BC-M-GCM-1/2
// (the NIST test cases) and against crypto/cipher, with the failure
// reasons the vectors expect.
func TestCryptoGCM(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	gcm := func(tagLen int) ttlv.Value {
		return cryptoParamsV(cryptoMode(kmip.BlockCipherModeGCM), ttlv.Int(kmip.TagTagLength, int32(tagLen)))
	}
	zeroKey := make([]byte, 16)
	zeroIV := make([]byte, 12)
	for _, ver := range cryptoVersions {
		ver := ver
		t.Run(ver.String(), func(t *testing.T) {
			id := env.put(t, cryptoKey{
				typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128, material: zeroKey,
				mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt,
			})
			tag := ttlv.Bytes
			// CS-BC-M-GCM-2 key-0: empty plaintext.
			p := env.mustCall(t, ver, kmip.OperationEncrypt, cryptoUID(id), gcm(16), cryptoData([]byte{}), cryptoIV(zeroIV),
				ttlv.Bytes(kmip.TagAuthenticatedEncryptionAdditionalData, []byte{}))
			if got := cryptoTags(p); !slices.Equal(got, []string{"UniqueIdentifier", "Data", "AuthenticatedEncryptionTag"}) {
				t.Errorf("encrypt response fields %v", got)
			}
			if got := cryptoField(t, p, kmip.TagAuthenticatedEncryptionTag); !bytes.Equal(got, cryptoHex(t, "58e2fccefa7e3061367f1d57a4e7455a")) {
				t.Errorf("tag %x", got)
			}
			// CS-BC-M-GCM-1.
			ct := cryptoHex(t, "0388dace60b6a392f328c2b971b2fe78")
			fullTag := cryptoHex(t, "ab6e47d42cec13bdf53a67b21257bddf")
			p = env.mustCall(t, ver, kmip.OperationEncrypt, cryptoUID(id), gcm(16), cryptoData(make([]byte, 16)), cryptoIV(zeroIV))
			if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, ct) {
				t.Errorf("ciphertext %x", got)
			}
			if got := cryptoField(t, p, kmip.TagAuthenticatedEncryptionTag); !bytes.Equal(got, fullTag) {
				t.Errorf("tag %x", got)
			}
			badTag := slices.Clone(fullTag)
			badTag[0] = 0
			badIV := slices.Clone(zeroIV)
			badIV[0] = 0xff
			badCT := slices.Clone(ct)
			badCT[0] = 0xff
			cases := []struct {
				name   string
				params ttlv.Value
				data   []byte
				iv     []byte
				tag    []byte
				want   kmip.ResultReason
			}{
				{"valid", gcm(16), ct, zeroIV, fullTag, 0},
				{"truncated tag", gcm(12), ct, zeroIV, fullTag[:12], 0},
				{"wrong tag", gcm(16), ct, zeroIV, badTag, kmip.ResultReasonCryptographicFailure},
				{"wrong IV", gcm(16), ct, badIV, fullTag, kmip.ResultReasonCryptographicFailure},
				{"wrong data", gcm(16), badCT, zeroIV, fullTag, kmip.ResultReasonCryptographicFailure},
				{"tag length mismatch", gcm(16), ct, zeroIV, fullTag[:12], kmip.ResultReasonInvalidField},
				{"no tag", gcm(16), ct, zeroIV, nil, kmip.ResultReasonInvalidMessage},
				{"no IV", gcm(16), ct, nil, fullTag, kmip.ResultReasonInvalidMessage},
			}
			for _, tc := range cases {
				f := []ttlv.Value{cryptoUID(id), tc.params, cryptoData(tc.data)}
				if tc.iv != nil {
					f = append(f, cryptoIV(tc.iv))
				}
				if tc.tag != nil {
					f = append(f, tag(kmip.TagAuthenticatedEncryptionTag, tc.tag))
				}
				p, err := env.call(ver, kmip.OperationDecrypt, f...)
				if err == nil && !bytes.Equal(cryptoField(t, p, kmip.TagData), make([]byte, 16)) {
					t.Errorf("%s: wrong plaintext", tc.name)
				}
				t.Run(tc.name, func(t *testing.T) { cryptoWantReason(t, err, tc.want) })
			}
			// Tag lengths outside 4..16 bytes: General Failure (vector).
			for _, n := range []int{1, 32} {
				_, err := env.call(ver, kmip.OperationEncrypt, cryptoUID(id), gcm(n), cryptoData(make([]byte, 16)), cryptoIV(zeroIV))
				cryptoWantReason(t, err, kmip.ResultReasonGeneralFailure)
			}
		})
	}

	// Against crypto/cipher: IV lengths (8 and 60 bytes take the GHASH
	// path for J0), additional data, tag lengths.
	key := cryptoHex(t, "feffe9928665731c6d6a8f9467308308")
	id := env.put(t, cryptoKey{
		typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128, material: key,
		mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt,
	})
	block, _ := aes.NewCipher(key)
	plain := cryptoHex(t, "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
	aad := cryptoHex(t, "feedfacedeadbeeffeedfacedeadbeefabaddad2")
	for _, tc := range []struct {
		ivLen, tagLen int
	}{{12, 16}, {8, 16}, {60, 16}, {12, 12}, {12, 13}, {12, 15}} {
		iv := bytes.Repeat([]byte{0xca}, tc.ivLen)
		var g cipher.AEAD
		var err error
		if tc.ivLen == 12 {
			g, err = cipher.NewGCMWithTagSize(block, tc.tagLen)
		} else {
			g, err = cipher.NewGCMWithNonceSize(block, tc.ivLen)
		}
		if err != nil {
			t.Fatal(err)
		}
		want := g.Seal(nil, iv, plain, aad)
		p := env.mustCall(t, kmip.V1_4, kmip.OperationEncrypt, cryptoUID(id), gcm(tc.tagLen), cryptoData(plain), cryptoIV(iv),
			ttlv.Bytes(kmip.TagAuthenticatedEncryptionAdditionalData, aad))
		got := append(cryptoField(t, p, kmip.TagData), cryptoField(t, p, kmip.TagAuthenticatedEncryptionTag)...)
		if !bytes.Equal(got, want) {
			t.Errorf("IV %d, tag %d: got %x, want %x", tc.ivLen, tc.tagLen, got, want)
		}
	}
}

// TestCryptoCTRAndDES3 checks CTR and Triple DES against crypto/cipher and
// crypto/des.
func TestCryptoCTRAndDES3(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	aesKey := cryptoHex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	desKey := cryptoHex(t, "0123456789abcdeffedcba987654321089abcdef01234567")
	msg := bytes.Repeat([]byte("kmipd-ctr-"), 7) // 70 bytes: not whole blocks
	ctrIV := cryptoHex(t, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
	aesBlock, _ := aes.NewCipher(aesKey)
	desBlock, _ := des.NewTripleDESCipher(desKey)

	wantCTR := make([]byte, len(msg))
	cipher.NewCTR(aesBlock, ctrIV).XORKeyStream(wantCTR, msg)
	desIV := cryptoHex(t, "0001020304050607")
	padded := pkcs5Pad(msg, 8)
	wantDESCBC := make([]byte, len(padded))
	cipher.NewCBCEncrypter(desBlock, desIV).CryptBlocks(wantDESCBC, padded)
	wantDESECB := make([]byte, 8)
	desBlock.Encrypt(wantDESECB, msg[:8])

	aesID := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128, material: aesKey,
		mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt})
	desID := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmDES3, bits: 192, material: desKey,
		mask: kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt})

	tests := []struct {
		name   string
		id     string
		params ttlv.Value
		iv     []byte
		in     []byte
		want   []byte
	}{
		{"AES-CTR", aesID, cryptoParamsV(cryptoMode(kmip.BlockCipherModeCTR)), ctrIV, msg, wantCTR},
		{"3DES-CBC-PKCS5", desID, cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC), cryptoPad(kmip.PaddingMethodPKCS5)), desIV, msg, wantDESCBC},
		{"3DES-ECB", desID, cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB)), nil, msg[:8], wantDESECB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := []ttlv.Value{cryptoUID(tc.id), tc.params}
			if tc.iv != nil {
				f = append(f, cryptoIV(tc.iv))
			}
			p := env.mustCall(t, kmip.V2_0, kmip.OperationEncrypt, append(slices.Clone(f), cryptoData(tc.in))...)
			if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, tc.want) {
				t.Fatalf("ciphertext %x, want %x", got, tc.want)
			}
			p = env.mustCall(t, kmip.V2_0, kmip.OperationDecrypt, append(slices.Clone(f), cryptoData(tc.want))...)
			if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, tc.in) {
				t.Fatalf("plaintext %x, want %x", got, tc.in)
			}
		})
	}
}

// TestCryptoBlockErrors covers refused parameters and failed decryption.
func TestCryptoBlockErrors(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	key := cryptoHex(t, cryptoAESKey128)
	ed := kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt
	id := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128, material: key, mask: ed})
	shortKey := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 160, material: append(slices.Clone(key), 1, 2, 3, 4), mask: ed})
	hmacKey := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmHMACSHA256, bits: 128, material: key, mask: ed})
	secret := env.put(t, cryptoKey{typ: kmip.ObjectTypeSecretData, material: key, mask: ed})
	noKey := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128, mask: ed})

	// A block that decrypts (ECB) to one ending in 0x00: bad PKCS#5 padding.
	block, _ := aes.NewCipher(key)
	badPad := make([]byte, 16)
	block.Encrypt(badPad, make([]byte, 16))

	ecb := cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB))
	ecbPad := cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB), cryptoPad(kmip.PaddingMethodPKCS5))
	cbc := cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC))
	iv := make([]byte, 16)

	tests := []struct {
		name   string
		op     kmip.Operation
		fields []ttlv.Value
		r14    kmip.ResultReason
		r20    kmip.ResultReason
	}{
		{"bad padding", kmip.OperationDecrypt, []ttlv.Value{cryptoUID(id), ecbPad, cryptoData(badPad)}, kmip.ResultReasonCryptographicFailure, kmip.ResultReasonCryptographicFailure},
		{"partial block without padding", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), ecb, cryptoData(make([]byte, 17))}, kmip.ResultReasonCryptographicFailure, kmip.ResultReasonCryptographicFailure},
		{"partial ciphertext block", kmip.OperationDecrypt, []ttlv.Value{cryptoUID(id), ecbPad, cryptoData(make([]byte, 17))}, kmip.ResultReasonCryptographicFailure, kmip.ResultReasonCryptographicFailure},
		{"wrong key length", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(shortKey), ecb, cryptoData(make([]byte, 16))}, kmip.ResultReasonCryptographicFailure, kmip.ResultReasonCryptographicFailure},
		{"missing IV", kmip.OperationDecrypt, []ttlv.Value{cryptoUID(id), cbc, cryptoData(make([]byte, 16))}, kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage},
		{"wrong IV length", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), cbc, cryptoData(make([]byte, 16)), cryptoIV(iv[:8])}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"no mode", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), cryptoData(make([]byte, 16))}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"unsupported mode", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), cryptoParamsV(cryptoMode(kmip.BlockCipherModeOFB)), cryptoData(make([]byte, 16)), cryptoIV(iv)}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"unsupported padding", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), cryptoParamsV(cryptoMode(kmip.BlockCipherModeECB), cryptoPad(kmip.PaddingMethodANSIX923)), cryptoData(make([]byte, 16))}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"param of wrong type", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), cryptoParamsV(ttlv.Int(kmip.TagBlockCipherMode, 2)), cryptoData(make([]byte, 16))}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"repeated field", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), ecb, cryptoData(make([]byte, 16)), cryptoData(make([]byte, 16))}, kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage},
		{"no data", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), ecb}, kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage},
		{"HMAC key cannot encrypt", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(hmacKey), ecb, cryptoData(make([]byte, 16))}, kmip.ResultReasonPermissionDenied, kmip.ResultReasonPermissionDenied},
		{"secret data cannot encrypt", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(secret), ecb, cryptoData(make([]byte, 16))}, kmip.ResultReasonPermissionDenied, kmip.ResultReasonInvalidObjectType},
		{"no key value", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(noKey), ecb, cryptoData(make([]byte, 16))}, kmip.ResultReasonKeyValueNotPresent, kmip.ResultReasonKeyValueNotPresent},
		{"unknown object", kmip.OperationEncrypt, []ttlv.Value{cryptoUID("no-such-id"), ecb, cryptoData(make([]byte, 16))}, kmip.ResultReasonItemNotFound, kmip.ResultReasonItemNotFound},
		{"CTR for 3DES-like refusal: GCM IV too long", kmip.OperationEncrypt, []ttlv.Value{cryptoUID(id), cryptoParamsV(cryptoMode(kmip.BlockCipherModeGCM)), cryptoData(nil), cryptoIV(make([]byte, 129))}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
	}
	for _, ver := range cryptoVersions {
		for _, tc := range tests {
			t.Run(ver.String()+"/"+tc.name, func(t *testing.T) {
				_, err := env.call(ver, tc.op, tc.fields...)
				cryptoWantReason(t, err, cryptoByVersion(ver, tc.r14, tc.r20))
			})
		}
	}
}
