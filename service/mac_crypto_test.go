package service

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/des"
	"crypto/hmac"
	"crypto/sha512"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// RFC 4493 §4: AES-128 key and the 64-byte message whose prefixes of 0,
// 16, 40 and 64 bytes are the four examples.
const (
	cryptoCMACKey = "2b7e151628aed2a6abf7158809cf4f3c"
	cryptoCMACMsg = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)

var cryptoCMACVectors = []struct {
	n   int
	tag string
}{
	{0, "bb1d6929e95937287fa37d129b756746"},
	{16, "070a16b46b4d4144f79bdd9dd04a287c"},
	{40, "dfa66747de9ae63030ca32611497c827"},
	{64, "51f0bebf7e3b9d92fc49741779363cfe"},
}

// TestCryptoCMACRFC4493 checks the CMAC construction with crypto/aes.
func TestCryptoCMACRFC4493(t *testing.T) {
	block, err := aes.NewCipher(cryptoHex(t, cryptoCMACKey))
	if err != nil {
		t.Fatal(err)
	}
	msg := cryptoHex(t, cryptoCMACMsg)
	for _, v := range cryptoCMACVectors {
		got, err := cmacSum(goCMAC{block}, msg[:v.n])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, cryptoHex(t, v.tag)) {
			t.Errorf("CMAC of %d bytes: %x, want %s", v.n, got, v.tag)
		}
		ok, _ := cmacVerify(goCMAC{block}, msg[:v.n], got[:8])
		if !ok {
			t.Errorf("truncated CMAC of %d bytes rejected", v.n)
		}
		ok, _ = cmacVerify(goCMAC{block}, msg[:v.n], got[:4])
		if ok {
			t.Errorf("4-byte CMAC accepted")
		}
	}
}

// TestCryptoMAC covers HMAC in the HSM (CS-AC-M-4/5/6 and crypto/hmac
// known answers) and CMAC through the HSM (RFC 4493).
func TestCryptoMAC(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	macMask := kmip.CryptographicUsageMaskMACGenerate | kmip.CryptographicUsageMaskMACVerify
	data := cryptoHex(t, "01020304050607080910111213141516")
	macData := func(b []byte) ttlv.Value { return ttlv.Bytes(kmip.TagMACData, b) }

	for _, ver := range cryptoVersions {
		t.Run(ver.String(), func(t *testing.T) {
			// CS-AC-M-4: an AES key whose parameters name HMAC-SHA256.
			vec := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
				material: cryptoHex(t, cryptoAESKey128), mask: macMask | kmip.CryptographicUsageMaskEncrypt,
				params: cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmHMACSHA256))})
			want := cryptoHex(t, "c911e78196d64c30f631bb079ea37b97a95936d4da764d6a171df030c895ecf9")
			p := env.mustCall(t, ver, kmip.OperationMAC, cryptoUID(vec), cryptoData(data))
			if got := cryptoField(t, p, kmip.TagMACData); !bytes.Equal(got, want) {
				t.Fatalf("HMAC %x", got)
			}
			p = env.mustCall(t, ver, kmip.OperationMACVerify, cryptoUID(vec), cryptoData(data), macData(want))
			if v := cryptoValidity(t, p); v != kmip.ValidityIndicatorValid {
				t.Errorf("MAC verify: %v", v)
			}
			bad := bytes.Clone(want)
			bad[31] ^= 1
			p = env.mustCall(t, ver, kmip.OperationMACVerify, cryptoUID(vec), cryptoData(data), macData(bad))
			if v := cryptoValidity(t, p); v != kmip.ValidityIndicatorInvalid {
				t.Errorf("MAC verify of a bad MAC: %v", v)
			}
			// The same key as AES: CMAC (SP 800-38B), when asked for.
			p = env.mustCall(t, ver, kmip.OperationMAC, cryptoUID(vec), cryptoParamsV(cryptoMode(kmip.BlockCipherModeCMAC)), cryptoData(data))
			block, _ := aes.NewCipher(cryptoHex(t, cryptoAESKey128))
			wantCMAC, _ := cmacSum(goCMAC{block}, data)
			if got := cryptoField(t, p, kmip.TagMACData); !bytes.Equal(got, wantCMAC) {
				t.Errorf("CMAC %x, want %x", got, wantCMAC)
			}

			// HMAC keys of every hash and odd lengths, against crypto/hmac.
			for _, tc := range []struct {
				alg kmip.CryptographicAlgorithm
				h   crypto.Hash
				key int
			}{
				{kmip.CryptographicAlgorithmHMACSHA1, crypto.SHA1, 20},
				{kmip.CryptographicAlgorithmHMACSHA224, crypto.SHA224, 7},
				{kmip.CryptographicAlgorithmHMACSHA384, crypto.SHA384, 48},
				{kmip.CryptographicAlgorithmHMACSHA512, crypto.SHA512, 131},
			} {
				key := bytes.Repeat([]byte{0x5a}, tc.key)
				id := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: tc.alg, bits: 8 * tc.key, material: key, mask: macMask})
				m := hmac.New(tc.h.New, key)
				m.Write(data)
				want := m.Sum(nil)
				p := env.mustCall(t, ver, kmip.OperationMAC, cryptoUID(id), cryptoData(data))
				if got := cryptoField(t, p, kmip.TagMACData); !bytes.Equal(got, want) {
					t.Errorf("%v: %x, want %x", tc.alg, got, want)
				}
			}

			// CMAC in the HSM, RFC 4493 and Triple DES against the Go
			// construction.
			cm := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
				material: cryptoHex(t, cryptoCMACKey), mask: macMask})
			msg := cryptoHex(t, cryptoCMACMsg)
			for _, v := range cryptoCMACVectors {
				p := env.mustCall(t, ver, kmip.OperationMAC, cryptoUID(cm), cryptoData(msg[:v.n]))
				if got := cryptoField(t, p, kmip.TagMACData); !bytes.Equal(got, cryptoHex(t, v.tag)) {
					t.Errorf("CMAC of %d bytes: %x, want %s", v.n, got, v.tag)
				}
				p = env.mustCall(t, ver, kmip.OperationMACVerify, cryptoUID(cm), cryptoData(msg[:v.n]), macData(cryptoHex(t, v.tag)[:12]))
				if v := cryptoValidity(t, p); v != kmip.ValidityIndicatorValid {
					t.Errorf("truncated CMAC verify: %v", v)
				}
			}
			desKey := cryptoHex(t, "0123456789abcdeffedcba987654321089abcdef01234567")
			d3 := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmDES3, bits: 192, material: desKey, mask: macMask})
			dblock, _ := des.NewTripleDESCipher(desKey)
			wantDES, _ := cmacSum(goCMAC{dblock}, msg[:20])
			p = env.mustCall(t, ver, kmip.OperationMAC, cryptoUID(d3), cryptoData(msg[:20]))
			if got := cryptoField(t, p, kmip.TagMACData); !bytes.Equal(got, wantDES) {
				t.Errorf("3DES CMAC %x, want %x", got, wantDES)
			}

			// Errors.
			noMAC := env.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmAES, bits: 128,
				material: cryptoHex(t, cryptoAESKey128), mask: kmip.CryptographicUsageMaskEncrypt})
			_, err := env.call(ver, kmip.OperationMAC, cryptoUID(noMAC), cryptoData(data))
			cryptoWantReason(t, err, cryptoByVersion(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonIncompatibleCryptographicUsageMask))
			_, err = env.call(ver, kmip.OperationMAC, cryptoUID(cm), cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmRSA)), cryptoData(data))
			cryptoWantReason(t, err, kmip.ResultReasonInvalidField)
			_, err = env.call(ver, kmip.OperationMACVerify, cryptoUID(cm), cryptoData(data))
			cryptoWantReason(t, err, kmip.ResultReasonInvalidMessage)
		})
	}
}

// TestCryptoHashAndRNG covers Hash (CS-AC-M-7), RNG Retrieve (CS-RNG-M-1)
// and RNG Seed.
func TestCryptoHashAndRNG(t *testing.T) {
	env := cryptoNewEnv(t, cryptoDefaultCache)
	data := cryptoHex(t, "01020304050607080910111213141516")
	sha512sum := sha512.Sum512(data)
	hashParams := func(h kmip.HashingAlgorithm) ttlv.Value { return cryptoParamsV(cryptoHashAlg(h)) }
	for _, ver := range cryptoVersions {
		t.Run(ver.String(), func(t *testing.T) {
			for _, tc := range []struct {
				h    kmip.HashingAlgorithm
				want []byte
			}{
				{kmip.HashingAlgorithmSHA256, cryptoHex(t, "ad41233d22cf9322e3a7ff49a13da434797abed3bab80950a1a0d4e582b7ea72")},
				{kmip.HashingAlgorithmSHA512, sha512sum[:]},
			} {
				p := env.mustCall(t, ver, kmip.OperationHash, hashParams(tc.h), cryptoData(data))
				if got := cryptoTags(p); len(got) != 1 || got[0] != "Data" {
					t.Errorf("hash response fields %v", got)
				}
				if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, tc.want) {
					t.Errorf("%v: %x", tc.h, got)
				}
			}
			_, err := env.call(ver, kmip.OperationHash, cryptoData(data))
			cryptoWantReason(t, err, kmip.ResultReasonInvalidMessage)
			_, err = env.call(ver, kmip.OperationHash, hashParams(kmip.HashingAlgorithmMD5), cryptoData(data))
			cryptoWantReason(t, err, kmip.ResultReasonInvalidField)
			_, err = env.call(ver, kmip.OperationHash, hashParams(kmip.HashingAlgorithmSHA256))
			cryptoWantReason(t, err, kmip.ResultReasonInvalidMessage)

			p := env.mustCall(t, ver, kmip.OperationRNGRetrieve, ttlv.Int(kmip.TagDataLength, 32))
			a := cryptoField(t, p, kmip.TagData)
			p = env.mustCall(t, ver, kmip.OperationRNGRetrieve, ttlv.Int(kmip.TagDataLength, 32))
			b := cryptoField(t, p, kmip.TagData)
			if len(a) != 32 || bytes.Equal(a, b) {
				t.Errorf("RNG gave %x then %x", a, b)
			}
			for _, n := range []int32{0, -1, hsmbackend.MaxRandomLen + 1} {
				_, err = env.call(ver, kmip.OperationRNGRetrieve, ttlv.Int(kmip.TagDataLength, n))
				cryptoWantReason(t, err, kmip.ResultReasonInvalidField)
			}
			_, err = env.call(ver, kmip.OperationRNGRetrieve)
			cryptoWantReason(t, err, kmip.ResultReasonInvalidMessage)

			p = env.mustCall(t, ver, kmip.OperationRNGSeed, cryptoData(data))
			used, ok := p.Child(kmip.TagDataLength)
			if !ok || (used.Int() != 16 && used.Int() != 0) {
				t.Errorf("RNG Seed answered %v", cryptoTags(p))
			}
			_, err = env.call(ver, kmip.OperationRNGSeed, cryptoData(nil))
			cryptoWantReason(t, err, kmip.ResultReasonInvalidField)
		})
	}
}
