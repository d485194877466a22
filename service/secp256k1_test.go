package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// secp256k1 keys (secp256k1.go): Register in every format, Get
// conversions, Sign in the HSM with Verify in Go, Create Key Pair, and the
// refusal of malformed keys. Keys and the known-answer signature are those
// of the OASIS vectors TC-ECC-1-14 and TC-ECDSA-SIGN-1-14.

const (
	secp256k1VecSEC1 = "30740201010420db4d128c30ca309e62c4019758c00ba244dd64d9bf52a31078866b8a00c19c68a00706052b8104000aa14403420004dab5d3c253113db414abfc1c0ebf5a02559e656aa1c8b0aa8d870aa0324cda4899925ea1e6dbc259a6c7825cf46592ac7594cc40bd604b728d88b636f317d366"
	secp256k1VecSPKI = "3056301006072a8648ce3d020106052b8104000a03420004dab5d3c253113db414abfc1c0ebf5a02559e656aa1c8b0aa8d870aa0324cda4899925ea1e6dbc259a6c7825cf46592ac7594cc40bd604b728d88b636f317d366"
	secp256k1VecD    = "db4d128c30ca309e62c4019758c00ba244dd64d9bf52a31078866b8a00c19c68"
	secp256k1VecQ    = "04dab5d3c253113db414abfc1c0ebf5a02559e656aa1c8b0aa8d870aa0324cda4899925ea1e6dbc259a6c7825cf46592ac7594cc40bd604b728d88b636f317d366"
	// TC-ECDSA-SIGN-1-14: ECDSA with SHA-256 over 0102…16, valid, and the
	// same signature with its last byte changed, invalid.
	secp256k1VecData   = "01020304050607080910111213141516"
	secp256k1VecSig    = "30440220078ac91570286b4b35f2bf1da113c6e25e8c45dfc7a7dc7db07f7ff34ffc08d702200135d58e21d091e60b81a0e63db3d914af9fe56de9b3cf747cd8ecc74a75ee71"
	secp256k1VecBadSig = "30440220078ac91570286b4b35f2bf1da113c6e25e8c45dfc7a7dc7db07f7ff34ffc08d702200135d58e21d091e60b81a0e63db3d914af9fe56de9b3cf747cd8ecc74a75eeff"
)

// secp256k1PKCS8 wraps a SEC1 ECPrivateKey in a PrivateKeyInfo.
func secp256k1PKCS8(t *testing.T, sec1 []byte) []byte {
	t.Helper()
	der, err := asn1.Marshal(k1PKCS8{Algorithm: k1AlgorithmIdentifier(), PrivateKey: sec1})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// secp256k1NoCurve drops the curve parameters of a SEC1 ECPrivateKey.
func secp256k1NoCurve(t *testing.T, sec1 []byte) []byte {
	t.Helper()
	var k k1SEC1
	if _, err := asn1.Unmarshal(sec1, &k); err != nil {
		t.Fatal(err)
	}
	k.Curve = nil
	der, err := asn1.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// secp256k1Transparent builds a Transparent EC Private Key on SECP256K1.
func secp256k1Transparent(d []byte) ttlv.Value {
	return ttlv.Struct(kmip.TagKeyMaterial,
		ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveSECP256K1)),
		ttlv.BigInt(kmip.TagD, new(big.Int).SetBytes(d)))
}

// secp256k1Params are TC-ECDSA-SIGN-1's Cryptographic Parameters.
func secp256k1Params() ttlv.Value {
	return ttlv.Struct(kmip.TagCryptographicParameters,
		ttlv.Enum(kmip.TagHashingAlgorithm, uint32(kmip.HashingAlgorithmSHA256)),
		ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmECDSA)))
}

// secp256k1Sign signs data with the private key id.
func (e *creationEnv) secp256k1Sign(t *testing.T, ver kmip.ProtocolVersion, id string, data []byte) []byte {
	t.Helper()
	p := e.must(t, ver, kmip.OperationSign, creationUID(id), secp256k1Params(), ttlv.Bytes(kmip.TagData, data))
	sig, ok := p.Child(kmip.TagSignatureData)
	if !ok {
		t.Fatalf("sign response without signature data: %v", p)
	}
	return sig.Bytes()
}

// secp256k1Verify runs Signature Verify and reports whether it says Valid.
func (e *creationEnv) secp256k1Verify(t *testing.T, ver kmip.ProtocolVersion, id string, data, sig []byte) bool {
	t.Helper()
	p := e.must(t, ver, kmip.OperationSignatureVerify, creationUID(id), secp256k1Params(),
		ttlv.Bytes(kmip.TagData, data), ttlv.Bytes(kmip.TagSignatureData, sig))
	v, ok := p.Child(kmip.TagValidityIndicator)
	if !ok {
		t.Fatalf("signature verify response without validity indicator: %v", p)
	}
	return kmip.ValidityIndicator(v.Enum()) == kmip.ValidityIndicatorValid
}

func secp256k1Active() kmip.Attribute {
	return creationDate("Activation Date", time.Now().Add(-time.Hour))
}

func TestSecp256k1RegisterSignVerify(t *testing.T) {
	e := newCreationEnv(t)
	sec1 := ecregHex(t, secp256k1VecSEC1)
	d := ecregHex(t, secp256k1VecD)
	data := ecregHex(t, secp256k1VecData)
	tests := []struct {
		name     string
		format   kmip.KeyFormatType
		material ttlv.Value
		// hasPublic: the registered form carries the public key, so a
		// private key without a Public Key Link still verifies.
		hasPublic bool
	}{
		{"ECPrivateKey", kmip.KeyFormatTypeECPrivateKey, ttlv.Bytes(kmip.TagKeyMaterial, sec1), true},
		{"PKCS#8", kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, secp256k1PKCS8(t, sec1)), true},
		{"transparent", kmip.KeyFormatTypeTransparentECPrivateKey, secp256k1Transparent(d), false},
		// OpenSSL's PKCS#8: the curve only in the algorithm identifier.
		{"PKCS#8 without inner curve", kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, secp256k1PKCS8(t, secp256k1NoCurve(t, sec1))), true},
	}
	for _, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				privID := e.register(t, ver, kmip.ObjectTypePrivateKey,
					ttlv.Struct(kmip.TagPrivateKey, creationKeyBlock(tc.format, tc.material, kmip.CryptographicAlgorithmEC, 256)),
					creationMask(kmip.CryptographicUsageMaskSign|kmip.CryptographicUsageMaskVerify), secp256k1Active())
				pubID := e.register(t, ver, kmip.ObjectTypePublicKey,
					ttlv.Struct(kmip.TagPublicKey, creationKeyBlock(kmip.KeyFormatTypeX509,
						ttlv.Bytes(kmip.TagKeyMaterial, ecregHex(t, secp256k1VecSPKI)), kmip.CryptographicAlgorithmEC, 256)),
					creationMask(kmip.CryptographicUsageMaskVerify), secp256k1Active())
				if got := creationAttrValue(t, e.object(t, privID), attrCryptoLength).Int(); got != 256 {
					t.Errorf("cryptographic length %d, want 256", got)
				}
				// KMIP 1.4 §4.11: the default Get answers in the registered
				// format, with the registered material.
				_, m := ecregGetFormat(t, e, ver, privID, 0)
				if !ttlv.Equal(m, tc.material) {
					t.Errorf("default Get material differs from the registered one")
				}
				// Conversions: every form names the same scalar.
				_, m = ecregGetFormat(t, e, ver, privID, kmip.KeyFormatTypeTransparentECPrivateKey)
				if !ttlv.Equal(m, secp256k1Transparent(d)) {
					t.Errorf("Get as transparent EC private key: %v", m)
				}
				_, m = ecregGetFormat(t, e, ver, privID, kmip.KeyFormatTypeECPrivateKey)
				var got k1SEC1
				if _, err := asn1.Unmarshal(m.Bytes(), &got); err != nil || !bytes.Equal(got.PrivateKey, d) || !got.Curve.Equal(oidSecp256k1) {
					t.Errorf("Get as ECPrivateKey: scalar or curve differs (err %v)", err)
				}
				_, m = ecregGetFormat(t, e, ver, pubID, kmip.KeyFormatTypeTransparentECPublicKey)
				if q, _ := m.Child(kmip.TagQString); !bytes.Equal(q.Bytes(), ecregHex(t, secp256k1VecQ)) {
					t.Errorf("Get as transparent EC public key: %v", m)
				}
				// Sign in the HSM, verify in Go: round trip, tamper, and the
				// vector's known answer.
				sig := e.secp256k1Sign(t, ver, privID, data)
				if !e.secp256k1Verify(t, ver, pubID, data, sig) {
					t.Errorf("own signature does not verify")
				}
				if e.secp256k1Verify(t, ver, pubID, append([]byte{0}, data...), sig) {
					t.Errorf("signature verifies over other data")
				}
				if !e.secp256k1Verify(t, ver, pubID, data, ecregHex(t, secp256k1VecSig)) {
					t.Errorf("TC-ECDSA-SIGN-1 signature does not verify")
				}
				if e.secp256k1Verify(t, ver, pubID, data, ecregHex(t, secp256k1VecBadSig)) {
					t.Errorf("altered TC-ECDSA-SIGN-1 signature verifies")
				}
				if tc.hasPublic && !e.secp256k1Verify(t, ver, privID, data, sig) {
					t.Errorf("signature does not verify with the private key's public half")
				}
			})
		}
	}
}

func TestSecp256k1CreateKeyPair(t *testing.T) {
	e := newCreationEnv(t)
	data := []byte("kmipd secp256k1 create key pair")
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		t.Run(ver.String(), func(t *testing.T) {
			privID, pubID := ecdhCreatePair(t, e, ver, kmip.RecommendedCurveSECP256K1, kmip.CryptographicUsageMaskSign)
			if got := creationAttrValue(t, e.object(t, privID), attrCryptoLength).Int(); got != 256 {
				t.Errorf("cryptographic length %d, want 256", got)
			}
			pub, ok, err := parseSecp256k1SPKI(e.object(t, pubID).Public)
			if !ok || err != nil {
				t.Fatalf("stored public key is not a secp256k1 SPKI (%v)", err)
			}
			_, m := ecregGetFormat(t, e, ver, pubID, kmip.KeyFormatTypeTransparentECPublicKey)
			if q, _ := m.Child(kmip.TagQString); !bytes.Equal(q.Bytes(), pub.uncompressed()) {
				t.Errorf("Get as transparent EC public key: %v", m)
			}
			sig := e.secp256k1Sign(t, ver, privID, data)
			if !e.secp256k1Verify(t, ver, pubID, data, sig) {
				t.Errorf("signature of the generated key does not verify")
			}
			// The generated PKCS#8 converts like a registered one.
			_, m = ecregGetFormat(t, e, ver, privID, kmip.KeyFormatTypeECPrivateKey)
			if _, handled, err := parseSecp256k1SEC1(m.Bytes(), false); !handled || err != nil {
				t.Errorf("Get as ECPrivateKey: not a secp256k1 ECPrivateKey (%v)", err)
			}
		})
	}
}

func TestSecp256k1Refusals(t *testing.T) {
	e := newCreationEnv(t)
	sec1 := ecregHex(t, secp256k1VecSEC1)
	n := k1N.FillBytes(make([]byte, secp256k1Len))
	// withScalar replaces the vector's private scalar (bytes 7..39).
	withScalar := func(d []byte) []byte {
		out := bytes.Clone(sec1)
		copy(out[7:7+secp256k1Len], d)
		return out
	}
	// offCurve changes the last byte of Y in a copy of the vector's SEC1.
	offCurve := bytes.Clone(sec1)
	offCurve[len(offCurve)-1] ^= 1
	spkiOff := ecregHex(t, secp256k1VecSPKI)
	spkiOff[len(spkiOff)-1] ^= 1
	sec1v0 := bytes.Clone(sec1)
	sec1v0[4] = 0 // version 0
	priv := func(f kmip.KeyFormatType, m ttlv.Value) []ttlv.Value {
		return []ttlv.Value{creationOT(kmip.ObjectTypePrivateKey), ttlv.Struct(kmip.TagPrivateKey, creationKeyBlock(f, m, kmip.CryptographicAlgorithmEC, 256))}
	}
	pub := func(f kmip.KeyFormatType, m ttlv.Value) []ttlv.Value {
		return []ttlv.Value{creationOT(kmip.ObjectTypePublicKey), ttlv.Struct(kmip.TagPublicKey, creationKeyBlock(f, m, kmip.CryptographicAlgorithmEC, 256))}
	}
	tests := []struct {
		name   string
		fields []ttlv.Value
	}{
		{"zero scalar", priv(kmip.KeyFormatTypeECPrivateKey, ttlv.Bytes(kmip.TagKeyMaterial, withScalar(make([]byte, secp256k1Len))))},
		{"scalar n", priv(kmip.KeyFormatTypeECPrivateKey, ttlv.Bytes(kmip.TagKeyMaterial, withScalar(n)))},
		{"public point off the curve", priv(kmip.KeyFormatTypeECPrivateKey, ttlv.Bytes(kmip.TagKeyMaterial, offCurve))},
		{"ECPrivateKey version 0", priv(kmip.KeyFormatTypeECPrivateKey, ttlv.Bytes(kmip.TagKeyMaterial, sec1v0))},
		{"PKCS#8 around a bad scalar", priv(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, secp256k1PKCS8(t, withScalar(n))))},
		{"PKCS#8 around garbage", priv(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, secp256k1PKCS8(t, []byte{1, 2, 3})))},
		{"transparent D zero", priv(kmip.KeyFormatTypeTransparentECPrivateKey, secp256k1Transparent([]byte{0}))},
		{"transparent D negative", priv(kmip.KeyFormatTypeTransparentECPrivateKey, ttlv.Struct(kmip.TagKeyMaterial,
			ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveSECP256K1)), ttlv.BigInt(kmip.TagD, big.NewInt(-5))))},
		{"transparent D n", priv(kmip.KeyFormatTypeTransparentECPrivateKey, secp256k1Transparent(n))},
		{"transparent without D", priv(kmip.KeyFormatTypeTransparentECPrivateKey, ttlv.Struct(kmip.TagKeyMaterial,
			ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveSECP256K1))))},
		{"SPKI point off the curve", pub(kmip.KeyFormatTypeX509, ttlv.Bytes(kmip.TagKeyMaterial, spkiOff))},
		{"transparent Q off the curve", pub(kmip.KeyFormatTypeTransparentECPublicKey, ttlv.Struct(kmip.TagKeyMaterial,
			ttlv.Enum(kmip.TagRecommendedCurve, uint32(kmip.RecommendedCurveSECP256K1)),
			ttlv.Bytes(kmip.TagQString, spkiOff[len(spkiOff)-65:])))},
	}
	for _, tc := range tests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				_, err := e.call(ver, kmip.OperationRegister, append(tc.fields, creationTemplate(ver, creationMask(kmip.CryptographicUsageMaskSign)))...)
				creationReason(t, err, kmip.ResultReasonInvalidField)
			})
		}
	}
}

func TestSecp256k1Math(t *testing.T) {
	q := ecregHex(t, secp256k1VecQ)
	pub, ok := parseSecp256k1Point(q)
	if !ok {
		t.Fatal("vector public point refused")
	}
	compressed := append([]byte{2 | byte(pub.Y.Bit(0))}, q[1:33]...)
	if c, ok := parseSecp256k1Point(compressed); !ok || !bytes.Equal(c.uncompressed(), q) {
		t.Errorf("compressed point decodes to another point")
	}
	if !k1OnCurve(k1Gx, k1Gy) {
		t.Errorf("generator is not on the curve")
	}
	// n·G is the point at infinity: the order is right.
	if !k1ScalarMult(k1N, k1Point{k1Gx, k1Gy}).infinity() {
		t.Errorf("n·G is not the point at infinity")
	}
	digest := sha256.Sum256(ecregHex(t, secp256k1VecData))
	sig := ecregHex(t, secp256k1VecSig)
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		t.Fatal(err)
	}
	raw := append(rs.R.FillBytes(make([]byte, 32)), rs.S.FillBytes(make([]byte, 32))...)
	verifyTests := []struct {
		name   string
		digest []byte
		sig    []byte
		want   bool
	}{
		{"vector DER", digest[:], sig, true},
		{"vector r||s", digest[:], raw, true},
		{"altered signature", digest[:], ecregHex(t, secp256k1VecBadSig), false},
		{"other digest", make([]byte, 32), sig, false},
		{"empty signature", digest[:], nil, false},
		{"r zero", digest[:], append(make([]byte, 32), raw[32:]...), false},
	}
	for _, tc := range verifyTests {
		if got := verifySecp256k1(pub, tc.digest, tc.sig); got != tc.want {
			t.Errorf("%s: verify %v, want %v", tc.name, got, tc.want)
		}
	}
	one := make([]byte, 32)
	one[31] = 1
	nMinus1 := new(big.Int).Sub(k1N, big.NewInt(1)).FillBytes(make([]byte, 32))
	scalarTests := []struct {
		name string
		d    []byte
		want bool
	}{
		{"zero", make([]byte, 32), false},
		{"one", one, true},
		{"n-1", nMinus1, true},
		{"n", k1N.FillBytes(make([]byte, 32)), false},
		{"all ones", bytes.Repeat([]byte{0xff}, 32), false},
		{"short", one[1:], false},
	}
	for _, tc := range scalarTests {
		if got := k1ScalarValid(tc.d); got != tc.want {
			t.Errorf("scalar %s: valid %v, want %v", tc.name, got, tc.want)
		}
	}
}
