package service

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/x509"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// cryptoRSAKey parses a PKCS#1 test key and returns it with its PKCS#8
// and SubjectPublicKeyInfo encodings, the forms the store keeps.
func cryptoRSAKey(t testing.TB, pkcs1Hex string) (*rsa.PrivateKey, []byte, []byte) {
	t.Helper()
	k, err := x509.ParsePKCS1PrivateKey(cryptoHex(t, pkcs1Hex))
	if err != nil {
		t.Fatalf("parse test key: %v", err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, p8, spki
}

func cryptoOAEP(h, mgf kmip.HashingAlgorithm, label []byte) ttlv.Value {
	f := []ttlv.Value{
		cryptoPad(kmip.PaddingMethodOAEP), cryptoHashAlg(h), cryptoAlg(kmip.CryptographicAlgorithmRSA),
		ttlv.Enum(kmip.TagMaskGenerator, uint32(kmip.MaskGeneratorMGF1)),
		ttlv.Enum(kmip.TagMaskGeneratorHashingAlgorithm, uint32(mgf)),
	}
	if label != nil {
		f = append(f, ttlv.Bytes(kmip.TagPSource, label))
	}
	return cryptoParamsV(f...)
}

// TestCryptoRSAEncryption decrypts the ciphertexts of CS-AC-M-OAEP-2 and
// -10 (known answers) and round-trips OAEP and PKCS#1 v1.5.
func TestCryptoRSAEncryption(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	_, p8, spki := cryptoRSAKey(t, cryptoVecOAEPKey)
	_, p8Label, _ := cryptoRSAKey(t, cryptoVecOAEPLabelKey)
	plain := cryptoHex(t, cryptoVecOAEPPlaintext)
	oaep256 := cryptoOAEP(kmip.HashingAlgorithmSHA256, kmip.HashingAlgorithmSHA256, nil)
	oaepLabel := cryptoOAEP(kmip.HashingAlgorithmSHA384, kmip.HashingAlgorithmSHA256, []byte("Kilroy was here"))
	pkcs1 := cryptoParamsV(cryptoPad(kmip.PaddingMethodPKCS1V15), cryptoAlg(kmip.CryptographicAlgorithmRSA))

	for _, ver := range cryptoVersions {
		t.Run(ver.String(), func(t *testing.T) {
			priv := env.put(t, cryptoKey{typ: kmip.ObjectTypePrivateKey, alg: kmip.CryptographicAlgorithmRSA, bits: 2048, material: p8,
				mask: kmip.CryptographicUsageMaskDecrypt, params: oaep256})
			pub := env.put(t, cryptoKey{typ: kmip.ObjectTypePublicKey, alg: kmip.CryptographicAlgorithmRSA, bits: 2048, public: spki,
				mask: kmip.CryptographicUsageMaskEncrypt, params: oaep256})
			privLabel := env.put(t, cryptoKey{typ: kmip.ObjectTypePrivateKey, alg: kmip.CryptographicAlgorithmRSA, bits: 2048, material: p8Label,
				mask: kmip.CryptographicUsageMaskDecrypt, params: oaepLabel})

			// Known answers.
			for _, kat := range []struct{ id, ct string }{{priv, cryptoVecOAEPCiphertext}, {privLabel, cryptoVecOAEPLabelCiphertext}} {
				p := env.mustCall(t, ver, kmip.OperationDecrypt, cryptoUID(kat.id), cryptoData(cryptoHex(t, kat.ct)))
				if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, plain) {
					t.Errorf("OAEP decrypt gave %x", got)
				}
			}
			// Round trips; the request's parameters replace the stored ones.
			for _, params := range []ttlv.Value{oaep256, pkcs1, cryptoOAEP(kmip.HashingAlgorithmSHA1, kmip.HashingAlgorithmSHA1, []byte("label"))} {
				p := env.mustCall(t, ver, kmip.OperationEncrypt, cryptoUID(pub), params, cryptoData(plain))
				ct := cryptoField(t, p, kmip.TagData)
				if len(ct) != 256 {
					t.Fatalf("ciphertext of %d bytes", len(ct))
				}
				p = env.mustCall(t, ver, kmip.OperationDecrypt, cryptoUID(priv), params, cryptoData(ct))
				if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, plain) {
					t.Errorf("round trip gave %x", got)
				}
			}
			// Failures.
			_, err := env.call(ver, kmip.OperationDecrypt, cryptoUID(priv), cryptoData(bytes.Repeat([]byte{1}, 256)))
			cryptoWantReason(t, err, kmip.ResultReasonCryptographicFailure)
			_, err = env.call(ver, kmip.OperationDecrypt, cryptoUID(privLabel), oaep256, cryptoData(cryptoHex(t, cryptoVecOAEPLabelCiphertext)))
			cryptoWantReason(t, err, kmip.ResultReasonCryptographicFailure)
			_, err = env.call(ver, kmip.OperationEncrypt, cryptoUID(pub), cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmRSA)), cryptoData(plain))
			cryptoWantReason(t, err, kmip.ResultReasonInvalidField)
			_, err = env.call(ver, kmip.OperationEncrypt, cryptoUID(pub), oaep256, cryptoData(make([]byte, 300)))
			cryptoWantReason(t, err, kmip.ResultReasonCryptographicFailure)
			// A public key cannot decrypt, a private key cannot encrypt.
			_, err = env.call(ver, kmip.OperationDecrypt, cryptoUID(pub), cryptoData(plain))
			cryptoWantReason(t, err, cryptoByVersion(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonIncompatibleCryptographicUsageMask))
		})
	}
}

// TestCryptoSignVerify covers RSA (PKCS#1 v1.5, PSS in the HSM and in Go)
// and ECDSA signatures, with the OASIS signature of CS-AC-M-2 as a known
// answer.
func TestCryptoSignVerify(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	rsaKey, p8, spki := cryptoRSAKey(t, cryptoVecSignKey)
	data := cryptoHex(t, "01020304050607080910111213141516")
	pss256 := cryptoParamsV(cryptoPad(kmip.PaddingMethodPSS), cryptoHashAlg(kmip.HashingAlgorithmSHA256), cryptoAlg(kmip.CryptographicAlgorithmRSA))
	pkcs256 := cryptoParamsV(cryptoPad(kmip.PaddingMethodPKCS1V15), cryptoHashAlg(kmip.HashingAlgorithmSHA256), cryptoAlg(kmip.CryptographicAlgorithmRSA))
	digest := sha256.Sum256(data)
	wantPKCS1, err := rsa.SignPKCS1v15(nil, rsaKey, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}

	for _, ver := range cryptoVersions {
		t.Run(ver.String(), func(t *testing.T) {
			priv := env.put(t, cryptoKey{typ: kmip.ObjectTypePrivateKey, alg: kmip.CryptographicAlgorithmRSA, bits: 2048, material: p8,
				mask: kmip.CryptographicUsageMaskSign, params: pss256})
			pub := env.put(t, cryptoKey{typ: kmip.ObjectTypePublicKey, alg: kmip.CryptographicAlgorithmRSA, bits: 2048, public: spki,
				mask: kmip.CryptographicUsageMaskVerify, params: pss256})
			sign := func(fields ...ttlv.Value) []byte {
				t.Helper()
				p := env.mustCall(t, ver, kmip.OperationSign, append([]ttlv.Value{cryptoUID(priv)}, fields...)...)
				return cryptoField(t, p, kmip.TagSignatureData)
			}
			verify := func(id string, fields ...ttlv.Value) kmip.ValidityIndicator {
				t.Helper()
				return cryptoValidity(t, env.mustCall(t, ver, kmip.OperationSignatureVerify, append([]ttlv.Value{cryptoUID(id)}, fields...)...))
			}
			vecSig := cryptoHex(t, cryptoVecPSSSignature)
			badSig := bytes.Clone(vecSig)
			badSig[0] = 0xff

			// CS-AC-M-2: the vector's signature, with stored parameters.
			if v := verify(pub, cryptoData(data), ttlv.Bytes(kmip.TagSignatureData, vecSig)); v != kmip.ValidityIndicatorValid {
				t.Errorf("vector signature: %v", v)
			}
			if v := verify(pub, cryptoData(cryptoHex(t, "FF020304050607080910111213141516")), ttlv.Bytes(kmip.TagSignatureData, vecSig)); v != kmip.ValidityIndicatorInvalid {
				t.Errorf("vector signature over other data: %v", v)
			}
			if v := verify(pub, cryptoData(data), ttlv.Bytes(kmip.TagSignatureData, badSig)); v != kmip.ValidityIndicatorInvalid {
				t.Errorf("damaged vector signature: %v", v)
			}
			// CS-AC-M-3: the HSM's PSS signature verifies, not under SHA-1.
			sig := sign(cryptoData(data))
			if v := verify(pub, cryptoData(data), ttlv.Bytes(kmip.TagSignatureData, sig)); v != kmip.ValidityIndicatorValid {
				t.Errorf("PSS signature: %v", v)
			}
			pss1 := cryptoParamsV(cryptoPad(kmip.PaddingMethodPSS), cryptoHashAlg(kmip.HashingAlgorithmSHA1), cryptoAlg(kmip.CryptographicAlgorithmRSA))
			if v := verify(pub, pss1, cryptoData(data), ttlv.Bytes(kmip.TagSignatureData, sig)); v != kmip.ValidityIndicatorInvalid {
				t.Errorf("PSS signature under SHA-1: %v", v)
			}
			// CS-AC-M-1: PSS with the longest salt, signed in Go.
			salted := cryptoParamsV(cryptoPad(kmip.PaddingMethodPSS), cryptoHashAlg(kmip.HashingAlgorithmSHA256), cryptoAlg(kmip.CryptographicAlgorithmRSA),
				ttlv.Int(kmip.TagSaltLength, 222))
			sig = sign(salted, cryptoData(data))
			if err := rsa.VerifyPSS(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 222}); err != nil {
				t.Errorf("PSS salt 222: %v", err)
			}
			// PKCS#1 v1.5 is deterministic: a known answer from crypto/rsa,
			// over data and over digested data.
			if got := sign(pkcs256, cryptoData(data)); !bytes.Equal(got, wantPKCS1) {
				t.Errorf("PKCS#1 v1.5 signature differs from crypto/rsa")
			}
			if got := sign(pkcs256, ttlv.Bytes(kmip.TagDigestedData, digest[:])); !bytes.Equal(got, wantPKCS1) {
				t.Errorf("PKCS#1 v1.5 signature of digested data differs from crypto/rsa")
			}
			if v := verify(pub, pkcs256, cryptoData(data), ttlv.Bytes(kmip.TagSignatureData, wantPKCS1)); v != kmip.ValidityIndicatorValid {
				t.Errorf("PKCS#1 v1.5 verify: %v", v)
			}
			// TC-RSA-SIGN-DIGESTEDDATA: raw digested data without a hash.
			rsaOnly := cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmRSA))
			sig = sign(rsaOnly, ttlv.Bytes(kmip.TagDigestedData, data))
			if v := verify(pub, rsaOnly, ttlv.Bytes(kmip.TagDigestedData, data), ttlv.Bytes(kmip.TagSignatureData, sig)); v != kmip.ValidityIndicatorValid {
				t.Errorf("raw digested data: %v", v)
			}
			// PSS over digested data (signed in Go; hash from the length).
			sig = sign(cryptoParamsV(cryptoPad(kmip.PaddingMethodPSS), cryptoAlg(kmip.CryptographicAlgorithmRSA)), ttlv.Bytes(kmip.TagDigestedData, digest[:]))
			if v := verify(pub, cryptoData(data), ttlv.Bytes(kmip.TagSignatureData, sig)); v != kmip.ValidityIndicatorValid {
				t.Errorf("PSS over digested data: %v", v)
			}
			// SHA3-256 with PKCS#1 v1.5: hashed here, signed in the HSM.
			sha3p := cryptoParamsV(cryptoPad(kmip.PaddingMethodPKCS1V15), cryptoHashAlg(kmip.HashingAlgorithmSHA3256), cryptoAlg(kmip.CryptographicAlgorithmRSA))
			sig = sign(sha3p, cryptoData(data))
			d3 := sha3.Sum256(data)
			if err := rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA3_256, d3[:], sig); err != nil {
				t.Errorf("SHA3-256 signature: %v", err)
			}

			// Errors.
			for _, tc := range []struct {
				name   string
				op     kmip.Operation
				fields []ttlv.Value
				want   kmip.ResultReason
			}{
				{"data and digested data", kmip.OperationSign, []ttlv.Value{cryptoUID(priv), cryptoData(data), ttlv.Bytes(kmip.TagDigestedData, digest[:])}, kmip.ResultReasonInvalidField},
				{"no data", kmip.OperationSign, []ttlv.Value{cryptoUID(priv)}, kmip.ResultReasonInvalidMessage},
				{"digest of the wrong length", kmip.OperationSign, []ttlv.Value{cryptoUID(priv), pkcs256, ttlv.Bytes(kmip.TagDigestedData, data)}, kmip.ResultReasonInvalidField},
				{"ECDSA parameters on RSA key", kmip.OperationSign, []ttlv.Value{cryptoUID(priv), cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmECDSA)), cryptoData(data)}, kmip.ResultReasonInvalidField},
				{"no signature", kmip.OperationSignatureVerify, []ttlv.Value{cryptoUID(pub), cryptoData(data)}, kmip.ResultReasonInvalidMessage},
				{"public key cannot sign", kmip.OperationSign, []ttlv.Value{cryptoUID(pub), cryptoData(data)}, cryptoByVersion(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonIncompatibleCryptographicUsageMask)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := env.call(ver, tc.op, tc.fields...)
					cryptoWantReason(t, err, tc.want)
				})
			}
		})
	}
}

// TestCryptoECDSA signs in the HSM with P-256 and P-384 keys and verifies
// in Go, through the public key, and through the private key (its Public
// Key Link, or the key itself).
func TestCryptoECDSA(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	data := []byte("kmipd ecdsa test message")
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p8, _ := x509.MarshalPKCS8PrivateKey(k)
		spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		bits := curve.Params().BitSize
		t.Run(curve.Params().Name, func(t *testing.T) {
			pub := env.put(t, cryptoKey{typ: kmip.ObjectTypePublicKey, alg: kmip.CryptographicAlgorithmEC, bits: bits, public: spki,
				mask: kmip.CryptographicUsageMaskVerify})
			priv := env.put(t, cryptoKey{typ: kmip.ObjectTypePrivateKey, alg: kmip.CryptographicAlgorithmEC, bits: bits, material: p8,
				mask: kmip.CryptographicUsageMaskSign | kmip.CryptographicUsageMaskVerify,
				attrs: []kmip.Attribute{attr(attrLink, ttlv.Struct(0,
					ttlv.Enum(kmip.TagLinkType, uint32(kmip.LinkTypePublicKeyLink)),
					ttlv.Text(kmip.TagLinkedObjectIdentifier, pub)))}})
			unlinked := env.put(t, cryptoKey{typ: kmip.ObjectTypePrivateKey, alg: kmip.CryptographicAlgorithmEC, bits: bits, material: p8,
				mask: kmip.CryptographicUsageMaskSign | kmip.CryptographicUsageMaskVerify})
			for _, ver := range cryptoVersions {
				p := env.mustCall(t, ver, kmip.OperationSign, cryptoUID(priv), cryptoData(data))
				sig := cryptoField(t, p, kmip.TagSignatureData)
				// The default hash fits the curve (FIPS 186-4 §6.4).
				h := crypto.SHA256
				if bits == 384 {
					h = crypto.SHA384
				}
				hh := h.New()
				hh.Write(data)
				d := hh.Sum(nil)
				if !ecdsa.VerifyASN1(&k.PublicKey, d, sig) {
					t.Fatalf("%v: HSM signature does not verify in Go", ver)
				}
				for _, id := range []string{pub, priv, unlinked} {
					p = env.mustCall(t, ver, kmip.OperationSignatureVerify, cryptoUID(id), cryptoData(data), ttlv.Bytes(kmip.TagSignatureData, sig))
					if v := cryptoValidity(t, p); v != kmip.ValidityIndicatorValid {
						t.Errorf("%v: verify with %s: %v", ver, id, v)
					}
				}
				// Digested data.
				p = env.mustCall(t, ver, kmip.OperationSign, cryptoUID(priv), ttlv.Bytes(kmip.TagDigestedData, d))
				sig = cryptoField(t, p, kmip.TagSignatureData)
				p = env.mustCall(t, ver, kmip.OperationSignatureVerify, cryptoUID(pub), ttlv.Bytes(kmip.TagDigestedData, d), ttlv.Bytes(kmip.TagSignatureData, sig))
				if v := cryptoValidity(t, p); v != kmip.ValidityIndicatorValid {
					t.Errorf("%v: digested: %v", ver, v)
				}
				// TC-ECDSA-SIGN-DIGESTEDDATA: RSA parameters against an EC
				// key verify as Invalid, not as an error.
				pss := cryptoParamsV(cryptoPad(kmip.PaddingMethodPSS), cryptoHashAlg(kmip.HashingAlgorithmSHA1), cryptoAlg(kmip.CryptographicAlgorithmRSA))
				p = env.mustCall(t, ver, kmip.OperationSignatureVerify, cryptoUID(pub), pss, cryptoData(data), ttlv.Bytes(kmip.TagSignatureData, sig))
				if v := cryptoValidity(t, p); v != kmip.ValidityIndicatorInvalid {
					t.Errorf("%v: RSA parameters on EC key: %v", ver, v)
				}
				_, err := env.call(ver, kmip.OperationSign, cryptoUID(priv), pss, cryptoData(data))
				cryptoWantReason(t, err, kmip.ResultReasonInvalidField)
			}
		})
	}
}
