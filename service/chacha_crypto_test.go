package service

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Tests of the ChaCha20 and ChaCha20-Poly1305 primitives against the RFC
// 8439 test vectors, and of their Encrypt and Decrypt through the service
// on a SoftHSM-wrapped key. Package-level names carry "chacha".

// chachaSeq returns the bytes from, from+1, ..., n of them.
func chachaSeq(from byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = from + byte(i)
	}
	return b
}

// chachaSunscreen is the plaintext of RFC 8439 §2.4.2 and §2.8.2.
const chachaSunscreen = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."

// chachaAEADCiphertext is the ciphertext of RFC 8439 §2.8.2.
const chachaAEADCiphertext = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6" +
	"3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36" +
	"92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
	"3ff4def08e4b7a9de576d26586cec64b6116"

// TestChaChaBlock checks the block function (RFC 8439 §2.3.2).
func TestChaChaBlock(t *testing.T) {
	c, err := newChaCha(chachaSeq(0, 32), cryptoHex(t, "000000090000004a00000000"), 1)
	if err != nil {
		t.Fatal(err)
	}
	var out [chachaBlockLen]byte
	c.block(&out)
	want := cryptoHex(t, "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"+
		"d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")
	if !bytes.Equal(out[:], want) {
		t.Fatalf("block = %x, want %x", out, want)
	}
}

// TestChaChaXORKeyStream checks the cipher with the RFC 8439 §2.4.2 vector
// (96-bit nonce, counter 1) and the [CHACHA] reference outputs for the
// 64-bit nonce that the OASIS vectors use (CS-BC-M-CHACHA20-{1,2,3}-20).
func TestChaChaXORKeyStream(t *testing.T) {
	zero64 := make([]byte, 64)
	tests := []struct {
		name       string
		key, nonce string
		ctr        uint64
		in         []byte
		want       string
	}{
		{
			name:  "RFC 8439 2.4.2",
			key:   hex.EncodeToString(chachaSeq(0, 32)),
			nonce: "000000000000004a00000000",
			ctr:   1,
			in:    []byte(chachaSunscreen),
			want: "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b" +
				"f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8" +
				"07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736" +
				"5af90bbf74a35be6b40b8eedf2785e42874d",
		},
		{
			name:  "64-bit nonce, zero key",
			key:   hex.EncodeToString(make([]byte, 32)),
			nonce: "0000000000000000",
			in:    zero64,
			want: "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7" +
				"da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586",
		},
		{
			name:  "64-bit nonce, key 1",
			key:   "0000000000000000000000000000000000000000000000000000000000000001",
			nonce: "0000000000000000",
			in:    zero64,
			want: "4540f05a9f1fb296d7736e7b208e3c96eb4fe1834688d2604f450952ed432d41" +
				"bbe2a0b6ea7566d2a5d1e7e20d42af2c53d792b1c43fea817e9ad275ae546963",
		},
		{
			name:  "64-bit nonce 1",
			key:   hex.EncodeToString(make([]byte, 32)),
			nonce: "0000000000000001",
			in:    make([]byte, 60),
			want: "de9cba7bf3d69ef5e786dc63973f653a0b49e015adbff7134fcb7df137821031" +
				"e85a050278a7084527214f73efc7fa5b5277062eb7a0433e445f41e3",
		},
		{
			name:  "16-byte IV is counter and nonce",
			key:   hex.EncodeToString(chachaSeq(0, 32)),
			nonce: "01000000000000000000004a00000000",
			in:    []byte(chachaSunscreen),
			want: "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b" +
				"f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8" +
				"07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736" +
				"5af90bbf74a35be6b40b8eedf2785e42874d",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newChaCha(cryptoHex(t, tt.key), cryptoHex(t, tt.nonce), tt.ctr)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]byte, len(tt.in))
			if err := c.xorKeyStream(out, tt.in); err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(out); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			// Decryption is the same operation; in place works.
			d, _ := newChaCha(cryptoHex(t, tt.key), cryptoHex(t, tt.nonce), tt.ctr)
			if err := d.xorKeyStream(out, out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tt.in) {
				t.Fatal("decryption does not give the plaintext back")
			}
		})
	}
}

// TestChaChaCounter checks the counter limits: the 32-bit counter of the
// RFC 8439 nonce refuses to wrap (§2.4); the 64-bit counter of the 8-byte
// nonce carries into word 13.
func TestChaChaCounter(t *testing.T) {
	key := chachaSeq(0, 32)
	nonce12 := chachaSeq(0x40, 12)
	tests := []struct {
		name    string
		ctr     uint64
		n       int
		wantErr bool
	}{
		{"last block", 0xffffffff, 64, false},
		{"past the last block", 0xffffffff, 65, true},
		{"counter too large", 1 << 32, 1, true},
		{"empty at the end", 0xffffffff, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newChaCha(key, nonce12, tt.ctr)
			if err == nil {
				err = c.xorKeyStream(make([]byte, tt.n), make([]byte, tt.n))
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}

	// 8-byte nonce at counter 2^32-1: the second block is counter 2^32,
	// which the 16-byte form writes as words 12-13 = 0, 1.
	nonce8 := chachaSeq(0x70, 8)
	c, err := newChaCha(key, nonce8, 0xffffffff)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 128)
	if err := c.xorKeyStream(got, got); err != nil {
		t.Fatal(err)
	}
	iv16 := append(cryptoHex(t, "0000000001000000"), nonce8...)
	d, err := newChaCha(key, iv16, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 64)
	if err := d.xorKeyStream(want, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[64:], want) {
		t.Fatal("64-bit counter does not carry into word 13")
	}
}

// TestChaChaBadInput checks the lengths newChaCha refuses.
func TestChaChaBadInput(t *testing.T) {
	tests := []struct {
		name        string
		keyN, nonce int
		ctr         uint64
	}{
		{"short key", 16, 12, 0},
		{"long key", 33, 12, 0},
		{"nonce 0", 32, 0, 0},
		{"nonce 11", 32, 11, 0},
		{"nonce 24", 32, 24, 0},
		{"16-byte nonce with a counter", 32, 16, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newChaCha(make([]byte, tt.keyN), make([]byte, tt.nonce), tt.ctr); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// chachaPolyRef is Poly1305 straight from the definition (RFC 8439 §2.5)
// on math/big, as an independent check of the limb arithmetic.
func chachaPolyRef(key *[32]byte, msg []byte) [16]byte {
	le := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	rb := append([]byte(nil), key[:16]...)
	for _, i := range []int{3, 7, 11, 15} {
		rb[i] &= 15
	}
	for _, i := range []int{4, 8, 12} {
		rb[i] &= 252
	}
	r, s := le(rb), le(key[16:])
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(5))
	acc := new(big.Int)
	for len(msg) > 0 {
		n := min(16, len(msg))
		blk := append(append([]byte(nil), msg[:n]...), 1)
		acc.Add(acc, le(blk))
		acc.Mul(acc, r)
		acc.Mod(acc, p)
		msg = msg[n:]
	}
	acc.Add(acc, s)
	var tag [16]byte
	b := acc.Bytes()
	for i := 0; i < 16 && i < len(b); i++ {
		tag[i] = b[len(b)-1-i]
	}
	return tag
}

// TestPoly1305 checks RFC 8439 §2.5.2 and compares with the math/big
// definition on random and extreme keys and messages (all-ones blocks
// drive the accumulator towards its bounds).
func TestPoly1305(t *testing.T) {
	var key [32]byte
	copy(key[:], cryptoHex(t, "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"))
	tag := poly1305Sum(&key, []byte("Cryptographic Forum Research Group"))
	if want := "a8061dc1305136c6c22b8baf0c0127a9"; hex.EncodeToString(tag[:]) != want {
		t.Fatalf("RFC 8439 2.5.2: tag %x, want %s", tag, want)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	ones := bytes.Repeat([]byte{0xff}, 200)
	for i := range 300 {
		var k [32]byte
		var msg []byte
		switch i % 3 {
		case 0:
			for j := range k {
				k[j] = byte(rng.Uint32())
			}
			msg = make([]byte, rng.IntN(100))
			for j := range msg {
				msg[j] = byte(rng.Uint32())
			}
		case 1:
			copy(k[:], ones)
			msg = ones[:i%97]
		case 2:
			copy(k[:16], ones)
			msg = ones[:i%200]
		}
		got, want := poly1305Sum(&k, msg), chachaPolyRef(&k, msg)
		if got != want {
			t.Fatalf("case %d: key %x msg %x: tag %x, want %x", i, k, msg, got, want)
		}
	}
}

// TestChaChaPoly1305AEAD checks the AEAD with RFC 8439 §2.8.2 and its
// failures: any flipped bit, a truncated tag of fewer than 12 bytes.
func TestChaChaPoly1305AEAD(t *testing.T) {
	key := chachaSeq(0x80, 32)
	nonce := cryptoHex(t, "070000004041424344454647")
	aad := cryptoHex(t, "50515253c0c1c2c3c4c5c6c7")
	wantCT := chachaAEADCiphertext
	const wantTag = "1ae10b594f09e26a7e902ecbd0600691"

	ct, tag, err := chachaPolySeal(key, nonce, aad, []byte(chachaSunscreen))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(ct) != wantCT || hex.EncodeToString(tag[:]) != wantTag {
		t.Fatalf("seal: %x / %x", ct, tag)
	}

	flip := func(b []byte, i int) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name                string
		nonce, aad, ct, tag []byte
		ok                  bool
	}{
		{"valid", nonce, aad, ct, tag[:], true},
		{"truncated to 12", nonce, aad, ct, tag[:12], true},
		{"truncated to 11", nonce, aad, ct, tag[:11], false},
		{"empty tag", nonce, aad, ct, nil, false},
		{"tag flipped", nonce, aad, ct, flip(tag[:], 0), false},
		{"last tag byte flipped", nonce, aad, ct, flip(tag[:], 15), false},
		{"nonce flipped", flip(nonce, 0), aad, ct, tag[:], false},
		{"aad flipped", nonce, flip(aad, 11), ct, tag[:], false},
		{"aad missing", nonce, nil, ct, tag[:], false},
		{"ciphertext flipped", nonce, aad, flip(ct, 0), tag[:], false},
		{"ciphertext cut", nonce, aad, ct[:len(ct)-1], tag[:], false},
		{"nonce of 8 bytes", nonce[4:], aad, ct, tag[:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := chachaPolyOpen(key, tt.nonce, tt.aad, tt.ct, tt.tag)
			if tt.ok {
				if err != nil || string(pt) != chachaSunscreen {
					t.Fatalf("open: %q, %v", pt, err)
				}
				return
			}
			if err == nil || pt != nil {
				t.Fatalf("open succeeded: %q", pt)
			}
		})
	}

	// Empty plaintext and aad: the tag covers the lengths block only.
	ct, tag, err = chachaPolySeal(key, nonce, nil, nil)
	if err != nil || len(ct) != 0 {
		t.Fatalf("seal empty: %x %v", ct, err)
	}
	if pt, err := chachaPolyOpen(key, nonce, nil, ct, tag[:]); err != nil || len(pt) != 0 {
		t.Fatalf("open empty: %x %v", pt, err)
	}
}

// chachaTagLen is a Tag Length field.
func chachaTagLen(n int32) ttlv.Value { return ttlv.Int(kmip.TagTagLength, n) }

// chachaAAD is an Authenticated Encryption Additional Data field.
func chachaAAD(b []byte) ttlv.Value {
	return ttlv.Bytes(kmip.TagAuthenticatedEncryptionAdditionalData, b)
}

// chachaTag is an Authenticated Encryption Tag field.
func chachaTag(b []byte) ttlv.Value { return ttlv.Bytes(kmip.TagAuthenticatedEncryptionTag, b) }

// TestChaChaService runs Encrypt and Decrypt with ChaCha20 and
// ChaCha20-Poly1305 keys through the service, on keys wrapped by SoftHSM,
// for 1.4 and 2.0 requests, and checks the Result Reasons of the error
// cases against those the OASIS vectors name.
func TestChaChaService(t *testing.T) {
	e := cryptoNewEnv(t, cryptoDefaultCache)
	mask := kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt
	chacha := e.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmChaCha20, bits: 256, material: make([]byte, 32), mask: mask})
	aead := e.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmChaCha20Poly1305, bits: 256, material: chachaSeq(0x80, 32), mask: mask})
	short := e.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmChaCha20, bits: 128, material: make([]byte, 16), mask: mask})
	encOnly := e.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmChaCha20, bits: 256, material: make([]byte, 32), mask: kmip.CryptographicUsageMaskEncrypt})

	zero64 := make([]byte, 64)
	djb := cryptoHex(t, "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"+
		"da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")
	nonce := cryptoHex(t, "070000004041424344454647")
	aad := cryptoHex(t, "50515253c0c1c2c3c4c5c6c7")
	ct := cryptoHex(t, chachaAEADCiphertext)
	tag := cryptoHex(t, "1ae10b594f09e26a7e902ecbd0600691")
	pt := []byte(chachaSunscreen)
	aeadParams := cryptoParamsV(cryptoMode(kmip.BlockCipherModeAEAD), chachaTagLen(16))

	tests := []struct {
		name     string
		op       kmip.Operation
		fields   []ttlv.Value
		reason   kmip.ResultReason
		reason2x kmip.ResultReason // when 2.x differs
		wantData []byte
		wantTag  []byte
		wantTags []string // response field order, when checked
	}{
		{
			name: "ChaCha20 encrypt, 64-bit nonce", op: kmip.OperationEncrypt,
			fields:   []ttlv.Value{cryptoUID(chacha), cryptoParamsV(), cryptoData(zero64), cryptoIV(make([]byte, 8))},
			wantData: djb, wantTags: []string{"UniqueIdentifier", "Data"},
		},
		{
			name: "ChaCha20 decrypt, no parameters", op: kmip.OperationDecrypt,
			fields:   []ttlv.Value{cryptoUID(chacha), cryptoData(djb), cryptoIV(make([]byte, 8))},
			wantData: zero64,
		},
		{
			name: "ChaCha20 encrypt, 96-bit nonce", op: kmip.OperationEncrypt,
			fields:   []ttlv.Value{cryptoUID(chacha), cryptoData(zero64), cryptoIV(make([]byte, 12))},
			wantData: djb,
		},
		{
			name: "ChaCha20 initial counter 1", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(chacha), cryptoParamsV(ttlv.Int(kmip.TagInitialCounterValue, 1)),
				cryptoData(zero64[:32]), cryptoIV(make([]byte, 12))},
			// RFC 8439 A.1 test vector 2 starts at counter 1: its first
			// bytes, with the zero key and nonce.
			wantData: cryptoHex(t, "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"),
		},
		{
			name: "ChaCha20 empty data", op: kmip.OperationEncrypt,
			fields:   []ttlv.Value{cryptoUID(chacha), cryptoData(nil), cryptoIV(make([]byte, 8))},
			wantData: []byte{}, wantTags: []string{"UniqueIdentifier", "Data"},
		},
		{
			name: "ChaCha20 missing IV", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(chacha), cryptoData(zero64)}, reason: kmip.ResultReasonInvalidMessage,
		},
		{
			name: "ChaCha20 decrypt missing IV", op: kmip.OperationDecrypt,
			fields: []ttlv.Value{cryptoUID(chacha), cryptoData(zero64)}, reason: kmip.ResultReasonInvalidMessage,
		},
		{
			name: "ChaCha20 IV of 10 bytes", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(chacha), cryptoData(zero64), cryptoIV(make([]byte, 10))}, reason: kmip.ResultReasonInvalidField,
		},
		{
			name: "ChaCha20 CBC mode", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(chacha), cryptoParamsV(cryptoMode(kmip.BlockCipherModeCBC)), cryptoData(zero64), cryptoIV(make([]byte, 12))},
			reason: kmip.ResultReasonInvalidField,
		},
		{
			name: "ChaCha20 PKCS5 padding", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(chacha), cryptoParamsV(cryptoPad(kmip.PaddingMethodPKCS5)), cryptoData(zero64), cryptoIV(make([]byte, 12))},
			reason: kmip.ResultReasonInvalidField,
		},
		{
			name: "ChaCha20 key with AES parameters", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(chacha), cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmAES)), cryptoData(zero64), cryptoIV(make([]byte, 12))},
			reason: kmip.ResultReasonInvalidField,
		},
		{
			name: "ChaCha20 key of 128 bits", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(short), cryptoData(zero64), cryptoIV(make([]byte, 12))}, reason: kmip.ResultReasonPermissionDenied,
		},
		{
			name: "ChaCha20 decrypt with an encrypt-only key", op: kmip.OperationDecrypt,
			fields: []ttlv.Value{cryptoUID(encOnly), cryptoData(zero64), cryptoIV(make([]byte, 12))},
			reason: kmip.ResultReasonPermissionDenied, reason2x: kmip.ResultReasonIncompatibleCryptographicUsageMask,
		},
		{
			name: "AEAD encrypt", op: kmip.OperationEncrypt,
			fields:   []ttlv.Value{cryptoUID(aead), aeadParams, cryptoData(pt), cryptoIV(nonce), chachaAAD(aad)},
			wantData: ct, wantTag: tag, wantTags: []string{"UniqueIdentifier", "Data", "AuthenticatedEncryptionTag"},
		},
		{
			name: "AEAD encrypt, default parameters", op: kmip.OperationEncrypt,
			fields:   []ttlv.Value{cryptoUID(aead), cryptoData(pt), cryptoIV(nonce), chachaAAD(aad)},
			wantData: ct, wantTag: tag,
		},
		{
			name: "AEAD encrypt, 12-byte tag", op: kmip.OperationEncrypt,
			fields:   []ttlv.Value{cryptoUID(aead), cryptoParamsV(cryptoMode(kmip.BlockCipherModeAEAD), chachaTagLen(12)), cryptoData(pt), cryptoIV(nonce), chachaAAD(aad)},
			wantData: ct, wantTag: tag[:12],
		},
		{
			name: "AEAD encrypt, tag length 1", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(aead), cryptoParamsV(cryptoMode(kmip.BlockCipherModeAEAD), chachaTagLen(1)), cryptoData(pt), cryptoIV(nonce), chachaAAD(aad)},
			reason: kmip.ResultReasonGeneralFailure,
		},
		{
			name: "AEAD encrypt, tag length 32", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(aead), cryptoParamsV(cryptoMode(kmip.BlockCipherModeAEAD), chachaTagLen(32)), cryptoData(pt), cryptoIV(nonce), chachaAAD(aad)},
			reason: kmip.ResultReasonGeneralFailure,
		},
		{
			name: "AEAD encrypt, 8-byte nonce", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(aead), aeadParams, cryptoData(pt), cryptoIV(nonce[4:]), chachaAAD(aad)},
			reason: kmip.ResultReasonInvalidField,
		},
		{
			name: "AEAD key asked for plain ChaCha20", op: kmip.OperationEncrypt,
			fields: []ttlv.Value{cryptoUID(aead), cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmChaCha20)), cryptoData(pt), cryptoIV(nonce)},
			reason: kmip.ResultReasonInvalidField,
		},
		{
			name: "ChaCha20 key asked for the AEAD", op: kmip.OperationEncrypt,
			fields:   []ttlv.Value{cryptoUID(chacha), cryptoParamsV(cryptoAlg(kmip.CryptographicAlgorithmChaCha20Poly1305)), cryptoData(nil), cryptoIV(nonce)},
			wantData: []byte{}, wantTag: func() []byte { _, tg, _ := chachaPolySeal(make([]byte, 32), nonce, nil, nil); return tg[:] }(),
		},
		{
			name: "AEAD decrypt", op: kmip.OperationDecrypt,
			fields:   []ttlv.Value{cryptoUID(aead), aeadParams, cryptoData(ct), cryptoIV(nonce), chachaAAD(aad), chachaTag(tag)},
			wantData: pt, wantTags: []string{"UniqueIdentifier", "Data"},
		},
		{
			name: "AEAD decrypt, truncated tag", op: kmip.OperationDecrypt,
			fields:   []ttlv.Value{cryptoUID(aead), cryptoParamsV(cryptoMode(kmip.BlockCipherModeAEAD), chachaTagLen(12)), cryptoData(ct), cryptoIV(nonce), chachaAAD(aad), chachaTag(tag[:12])},
			wantData: pt,
		},
		{
			name: "AEAD decrypt, bad tag", op: kmip.OperationDecrypt,
			fields: []ttlv.Value{cryptoUID(aead), aeadParams, cryptoData(ct), cryptoIV(nonce), chachaAAD(aad), chachaTag(append([]byte{0xff}, tag[1:]...))},
			reason: kmip.ResultReasonCryptographicFailure,
		},
		{
			name: "AEAD decrypt, bad nonce", op: kmip.OperationDecrypt,
			fields: []ttlv.Value{cryptoUID(aead), aeadParams, cryptoData(ct), cryptoIV(append([]byte{0xff}, nonce[1:]...)), chachaAAD(aad), chachaTag(tag)},
			reason: kmip.ResultReasonCryptographicFailure,
		},
		{
			name: "AEAD decrypt, bad data", op: kmip.OperationDecrypt,
			fields: []ttlv.Value{cryptoUID(aead), aeadParams, cryptoData(append([]byte{0xff}, ct[1:]...)), cryptoIV(nonce), chachaAAD(aad), chachaTag(tag)},
			reason: kmip.ResultReasonCryptographicFailure,
		},
		{
			name: "AEAD decrypt, missing tag", op: kmip.OperationDecrypt,
			fields: []ttlv.Value{cryptoUID(aead), aeadParams, cryptoData(ct), cryptoIV(nonce), chachaAAD(aad)},
			reason: kmip.ResultReasonInvalidMessage,
		},
		{
			name: "AEAD decrypt, tag length disagrees", op: kmip.OperationDecrypt,
			fields: []ttlv.Value{cryptoUID(aead), aeadParams, cryptoData(ct), cryptoIV(nonce), chachaAAD(aad), chachaTag(tag[:12])},
			reason: kmip.ResultReasonInvalidField,
		},
		{
			name: "AEAD decrypt, 8-byte tag", op: kmip.OperationDecrypt,
			fields: []ttlv.Value{cryptoUID(aead), cryptoParamsV(cryptoMode(kmip.BlockCipherModeAEAD)), cryptoData(ct), cryptoIV(nonce), chachaAAD(aad), chachaTag(tag[:8])},
			reason: kmip.ResultReasonGeneralFailure,
		},
	}
	for _, ver := range cryptoVersions {
		for _, tt := range tests {
			t.Run(ver.String()+"/"+tt.name, func(t *testing.T) {
				p, err := e.call(ver, tt.op, tt.fields...)
				want := tt.reason
				if tt.reason2x != 0 {
					want = cryptoByVersion(ver, tt.reason, tt.reason2x)
				}
				cryptoWantReason(t, err, want)
				if tt.reason != 0 {
					return
				}
				if got := cryptoField(t, p, kmip.TagData); !bytes.Equal(got, tt.wantData) {
					t.Fatalf("data %x, want %x", got, tt.wantData)
				}
				if tt.wantTag != nil {
					if got := cryptoField(t, p, kmip.TagAuthenticatedEncryptionTag); !bytes.Equal(got, tt.wantTag) {
						t.Fatalf("tag %x, want %x", got, tt.wantTag)
					}
				}
				if tt.wantTags != nil {
					if got := cryptoTags(p); !slices.Equal(got, tt.wantTags) {
						t.Fatalf("fields %v, want %v", got, tt.wantTags)
					}
				}
			})
		}
	}
}

// TestChaChaServiceRandomIV checks a server-generated nonce (Random IV):
// returned after Data, of IV Length when given, and one that decrypts.
func TestChaChaServiceRandomIV(t *testing.T) {
	e := cryptoNewEnv(t, cryptoDefaultCache)
	mask := kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt
	chacha := e.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmChaCha20, bits: 256, material: chachaSeq(1, 32), mask: mask})
	aead := e.put(t, cryptoKey{typ: kmip.ObjectTypeSymmetricKey, alg: kmip.CryptographicAlgorithmChaCha20Poly1305, bits: 256, material: chachaSeq(2, 32), mask: mask})
	random := ttlv.Bool(kmip.TagRandomIV, true)
	tests := []struct {
		name     string
		id       string
		params   ttlv.Value
		nonceLen int
		tags     []string
		reason   kmip.ResultReason
	}{
		{"ChaCha20", chacha, cryptoParamsV(random), 12, []string{"UniqueIdentifier", "Data", "IVCounterNonce"}, 0},
		{"ChaCha20 64-bit", chacha, cryptoParamsV(random, ttlv.Int(kmip.TagIVLength, 64)), 8, []string{"UniqueIdentifier", "Data", "IVCounterNonce"}, 0},
		{"ChaCha20 IV length 40", chacha, cryptoParamsV(random, ttlv.Int(kmip.TagIVLength, 40)), 0, nil, kmip.ResultReasonInvalidField},
		{"AEAD", aead, cryptoParamsV(random, cryptoMode(kmip.BlockCipherModeAEAD)), 12, []string{"UniqueIdentifier", "Data", "IVCounterNonce", "AuthenticatedEncryptionTag"}, 0},
		{"AEAD 64-bit", aead, cryptoParamsV(random, ttlv.Int(kmip.TagIVLength, 64)), 0, nil, kmip.ResultReasonInvalidField},
	}
	msg := []byte("attack at dawn")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.call(kmip.V2_0, kmip.OperationEncrypt, cryptoUID(tt.id), tt.params, cryptoData(msg))
			cryptoWantReason(t, err, tt.reason)
			if tt.reason != 0 {
				return
			}
			if got := cryptoTags(p); !slices.Equal(got, tt.tags) {
				t.Fatalf("fields %v, want %v", got, tt.tags)
			}
			iv := cryptoField(t, p, kmip.TagIVCounterNonce)
			if len(iv) != tt.nonceLen {
				t.Fatalf("nonce of %d bytes, want %d", len(iv), tt.nonceLen)
			}
			fields := []ttlv.Value{cryptoUID(tt.id), tt.params, cryptoData(cryptoField(t, p, kmip.TagData)), cryptoIV(iv)}
			if tg, ok := p.Child(kmip.TagAuthenticatedEncryptionTag); ok {
				fields = append(fields, tg)
			}
			d := e.mustCall(t, kmip.V2_0, kmip.OperationDecrypt, fields...)
			if got := cryptoField(t, d, kmip.TagData); !bytes.Equal(got, msg) {
				t.Fatalf("decrypted %q", got)
			}
		})
	}
}

// TestChaChaServiceCreate creates ChaCha20 keys in the HSM (Create, as a
// 256-bit generic secret), activates them and round-trips data through
// them.
func TestChaChaServiceCreate(t *testing.T) {
	e := cryptoNewEnv(t, cryptoDefaultCache)
	for _, ver := range cryptoVersions {
		for _, alg := range []kmip.CryptographicAlgorithm{kmip.CryptographicAlgorithmChaCha20, kmip.CryptographicAlgorithmChaCha20Poly1305} {
			t.Run(ver.String()+"/"+alg.String(), func(t *testing.T) {
				p := e.mustCall(t, ver, kmip.OperationCreate, ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
					creationTemplate(ver, creationAlg(alg), creationLen(256),
						creationMask(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt)))
				id := creationID(t, p)
				e.mustCall(t, ver, kmip.OperationActivate, cryptoUID(id))
				nonce := make([]byte, 12)
				binary.BigEndian.PutUint32(nonce[8:], 7)
				msg := []byte(chachaSunscreen)
				enc := e.mustCall(t, ver, kmip.OperationEncrypt, cryptoUID(id), cryptoData(msg), cryptoIV(nonce))
				ctext := cryptoField(t, enc, kmip.TagData)
				if bytes.Equal(ctext, msg) {
					t.Fatal("ciphertext equals plaintext")
				}
				fields := []ttlv.Value{cryptoUID(id), cryptoData(ctext), cryptoIV(nonce)}
				if tg, ok := enc.Child(kmip.TagAuthenticatedEncryptionTag); ok {
					fields = append(fields, tg)
				} else if alg == kmip.CryptographicAlgorithmChaCha20Poly1305 {
					t.Fatal("AEAD response without a tag")
				}
				dec := e.mustCall(t, ver, kmip.OperationDecrypt, fields...)
				if got := cryptoField(t, dec, kmip.TagData); !bytes.Equal(got, msg) {
					t.Fatalf("decrypted %q", got)
				}
			})
		}
	}
}

// TestChaChaServiceKeyLength checks that Create and Register refuse
// ChaCha20 keys that are not 256 bits (RFC 8439 §2.3), with the reason
// of a bad attribute value of each version.
func TestChaChaServiceKeyLength(t *testing.T) {
	e := cryptoNewEnv(t, cryptoDefaultCache)
	symKey := ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey))
	tests := []struct {
		name string
		alg  kmip.CryptographicAlgorithm
		bits int32
		ok   bool
	}{
		{"ChaCha20 256", kmip.CryptographicAlgorithmChaCha20, 256, true},
		{"ChaCha20 128", kmip.CryptographicAlgorithmChaCha20, 128, false},
		{"ChaCha20-Poly1305 256", kmip.CryptographicAlgorithmChaCha20Poly1305, 256, true},
		{"ChaCha20-Poly1305 512", kmip.CryptographicAlgorithmChaCha20Poly1305, 512, false},
	}
	for _, ver := range cryptoVersions {
		for _, tt := range tests {
			want := cryptoByVersion(ver, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue)
			if tt.ok {
				want = 0
			}
			t.Run(ver.String()+"/Create/"+tt.name, func(t *testing.T) {
				_, err := e.call(ver, kmip.OperationCreate, symKey, creationTemplate(ver, creationAlg(tt.alg), creationLen(tt.bits)))
				cryptoWantReason(t, err, want)
			})
			t.Run(ver.String()+"/Register/"+tt.name, func(t *testing.T) {
				obj := ttlv.Struct(kmip.TagSymmetricKey, creationKeyBlock(kmip.KeyFormatTypeRaw,
					ttlv.Bytes(kmip.TagKeyMaterial, make([]byte, tt.bits/8)), tt.alg, tt.bits))
				_, err := e.call(ver, kmip.OperationRegister, symKey, creationTemplate(ver), obj)
				cryptoWantReason(t, err, want)
			})
		}
	}
}
