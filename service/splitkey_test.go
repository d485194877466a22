package service

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Tests of Create Split Key and Join Split Key (splitkey.go). Names carry
// the "SplitKey" prefix; the helpers are those of the creation group.

// splitKeyGF256MulSlow is schoolbook multiplication modulo 0x11D, the
// reference gf256Mul must agree with.
func splitKeyGF256MulSlow(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for i := 15; i >= 8; i-- {
		if p>>i&1 == 1 {
			p ^= 0x11D << (i - 8)
		}
	}
	return byte(p)
}

func TestSplitKeyGF256Arithmetic(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			if got, want := gf256Mul(byte(a), byte(b)), splitKeyGF256MulSlow(byte(a), byte(b)); got != want {
				t.Fatalf("gf256Mul(%#x, %#x) = %#x, want %#x", a, b, got, want)
			}
		}
		if a != 0 {
			if p := gf256Mul(byte(a), gf256Inv(byte(a))); p != 1 {
				t.Fatalf("%#x * gf256Inv(%#x) = %#x, want 1", a, a, p)
			}
		}
	}
}

// TestSplitKeyGF256VectorShares joins the shares of the OASIS vectors
// TC-SJ-2 and TC-SJ-3 (threshold 2 of 4) pair by pair: every pair must
// give the registered key, which pins the field and the evaluation points.
func TestSplitKeyGF256VectorShares(t *testing.T) {
	want, _ := hex.DecodeString("0102030405060708090A0B0C0D0E0F10")
	shares := map[byte]string{
		1: "66C46A7754F94DE420C7B1A7FFF5EC56", 2: "CF93D1E2A7E593CD5B8D6247F4E5D49C",
		3: "A855B891F61AD9217240D8EC061E37DA", 4: "803DBAD55CDD329FAD19D99AE2C5A415",
	}
	for x1 := byte(1); x1 <= 4; x1++ {
		for x2 := x1 + 1; x2 <= 4; x2++ {
			s1, _ := hex.DecodeString(shares[x1])
			s2, _ := hex.DecodeString(shares[x2])
			if got := gf256Join([]byte{x1, x2}, [][]byte{s1, s2}); !bytes.Equal(got, want) {
				t.Errorf("parts %d and %d join to %x, want %x", x1, x2, got, want)
			}
		}
	}
}

// splitKeyCreate runs Create Split Key on key id and returns the parts.
func splitKeyCreate(e *creationEnv, ver kmip.ProtocolVersion, id string, parts, threshold int32, m kmip.SplitKeyMethod, attrs ...kmip.Attribute) ([]string, error) {
	p, err := e.call(ver, kmip.OperationCreateSplitKey,
		creationOT(kmip.ObjectTypeSplitKey), creationUID(id),
		ttlv.Int(kmip.TagSplitKeyParts, parts), ttlv.Int(kmip.TagSplitKeyThreshold, threshold),
		ttlv.Enum(kmip.TagSplitKeyMethod, uint32(m)), creationTemplate(ver, attrs...))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range p.All(kmip.TagUniqueIdentifier) {
		ids = append(ids, v.Text())
	}
	return ids, nil
}

// splitKeyJoin runs Join Split Key over ids into an object of type ot.
func splitKeyJoin(e *creationEnv, ver kmip.ProtocolVersion, ot kmip.ObjectType, ids []string, attrs ...kmip.Attribute) (string, error) {
	fields := []ttlv.Value{creationOT(ot)}
	for _, id := range ids {
		fields = append(fields, creationUID(id))
	}
	fields = append(fields, creationTemplate(ver, attrs...))
	p, err := e.call(ver, kmip.OperationJoinSplitKey, fields...)
	if err != nil {
		return "", err
	}
	v, _ := p.Child(kmip.TagUniqueIdentifier)
	return v.Text(), nil
}

// splitKeyPick returns the parts at the given 1-based positions.
func splitKeyPick(ids []string, pick []int) []string {
	out := make([]string, len(pick))
	for i, p := range pick {
		out[i] = ids[p-1]
	}
	return out
}

func TestSplitKeyRoundTrip(t *testing.T) {
	e := newCreationEnv(t)
	key128, _ := hex.DecodeString("0102030405060708090A0B0C0D0E0F10")
	key256 := bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF}, 8)
	tests := []struct {
		name             string
		ver              kmip.ProtocolVersion
		key              []byte
		method           kmip.SplitKeyMethod
		parts, threshold int32
		join             []int
	}{
		{"SplitKeyGF256 3 of 5, parts 1 3 5", kmip.V1_4, key128, kmip.SplitKeyMethodPolynomialSharingGF28, 5, 3, []int{1, 3, 5}},
		{"SplitKeyGF256 3 of 5, all parts, any order", kmip.V2_0, key128, kmip.SplitKeyMethodPolynomialSharingGF28, 5, 3, []int{5, 2, 4, 1, 3}},
		{"SplitKeyGF256 2 of 2", kmip.V1_4, key256, kmip.SplitKeyMethodPolynomialSharingGF28, 2, 2, []int{2, 1}},
		{"SplitKeyGF256 255 parts", kmip.V2_0, key256, kmip.SplitKeyMethodPolynomialSharingGF28, 255, 4, []int{255, 1, 128, 77}},
		{"SplitKeyXOR 4 of 4", kmip.V1_4, key128, kmip.SplitKeyMethodXOR, 4, 4, []int{4, 3, 2, 1}},
		{"SplitKeyXOR 2 of 2", kmip.V2_0, key256, kmip.SplitKeyMethodXOR, 2, 2, []int{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := e.registerSymmetric(t, tc.ver, kmip.CryptographicAlgorithmAES, tc.key)
			parts, err := splitKeyCreate(e, tc.ver, id, tc.parts, tc.threshold, tc.method)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != int(tc.parts) {
				t.Fatalf("%d parts, want %d", len(parts), tc.parts)
			}
			for i, pid := range parts {
				obj := e.get(t, tc.ver, pid)
				kpi, _ := obj.Child(kmip.TagKeyPartIdentifier)
				if kpi.Int() != int32(i+1) {
					t.Fatalf("part %d has Key Part Identifier %d", i+1, kpi.Int())
				}
				kb, m := creationMaterial(t, obj)
				if len(m.Bytes()) != len(tc.key) || bytes.Equal(m.Bytes(), tc.key) {
					t.Fatalf("part %d material %x: want %d bytes, not the key", i+1, m.Bytes(), len(tc.key))
				}
				if alg, _ := kb.Child(kmip.TagCryptographicAlgorithm); alg.Enum() != uint32(kmip.CryptographicAlgorithmAES) {
					t.Fatalf("part %d key block %v lacks the key's algorithm", i+1, kb)
				}
				if o := e.object(t, pid); o.Wrapped == nil || bytes.Contains(o.Public, m.Bytes()) {
					t.Fatalf("part %d not stored wrapped only", i+1)
				}
				if creationLinks(e.object(t, pid))[kmip.LinkTypeDerivationBaseObjectLink] != id {
					t.Fatalf("part %d does not link to %s", i+1, id)
				}
			}
			joined, err := splitKeyJoin(e, tc.ver, kmip.ObjectTypeSymmetricKey, splitKeyPick(parts, tc.join),
				creationAlg(kmip.CryptographicAlgorithmAES), creationLen(int32(8*len(tc.key))))
			if err != nil {
				t.Fatal(err)
			}
			if _, m := creationMaterial(t, e.get(t, tc.ver, joined)); !bytes.Equal(m.Bytes(), tc.key) {
				t.Fatalf("joined key %x, want %x", m.Bytes(), tc.key)
			}
		})
	}
}

// TestSplitKeyJoinInheritsAlgorithm joins without attributes: the key
// takes the algorithm and length its parts carry.
func TestSplitKeyJoinInheritsAlgorithm(t *testing.T) {
	e := newCreationEnv(t)
	key := bytes.Repeat([]byte{7}, 24)
	id := e.registerSymmetric(t, kmip.V1_4, kmip.CryptographicAlgorithmAES, key)
	parts, err := splitKeyCreate(e, kmip.V1_4, id, 3, 2, kmip.SplitKeyMethodPolynomialSharingGF28)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := splitKeyJoin(e, kmip.V1_4, kmip.ObjectTypeSymmetricKey, parts[1:])
	if err != nil {
		t.Fatal(err)
	}
	o := e.object(t, joined)
	if v := creationAttrValue(t, o, attrCryptoLength); v.Int() != 192 {
		t.Fatalf("joined key length %d, want 192", v.Int())
	}
	if _, m := creationMaterial(t, e.get(t, kmip.V1_4, joined)); !bytes.Equal(m.Bytes(), key) {
		t.Fatalf("joined key %x, want %x", m.Bytes(), key)
	}
}

func TestSplitKeyCreateRefusals(t *testing.T) {
	e := newCreationEnv(t)
	key := bytes.Repeat([]byte{1}, 16)
	aes := e.registerSymmetric(t, kmip.V2_0, kmip.CryptographicAlgorithmAES, key)
	locked := e.registerSymmetric(t, kmip.V2_0, kmip.CryptographicAlgorithmAES, key, creationBool(attrExtractable, false))
	gf8 := kmip.SplitKeyMethodPolynomialSharingGF28
	tests := []struct {
		name             string
		id               string
		parts, threshold int32
		method           kmip.SplitKeyMethod
		attrs            []kmip.Attribute
		want             kmip.ResultReason
	}{
		{"SplitKey threshold above parts", aes, 3, 4, gf8, nil, kmip.ResultReasonInvalidField},
		{"SplitKey threshold 1", aes, 3, 1, gf8, nil, kmip.ResultReasonInvalidField},
		{"SplitKey one part", aes, 1, 1, kmip.SplitKeyMethodXOR, nil, kmip.ResultReasonInvalidField},
		{"SplitKey 256 parts", aes, 256, 2, gf8, nil, kmip.ResultReasonInvalidField},
		{"SplitKey XOR threshold below parts", aes, 4, 3, kmip.SplitKeyMethodXOR, nil, kmip.ResultReasonInvalidField},
		{"SplitKey GF(2^16) unsupported", aes, 3, 2, kmip.SplitKeyMethodPolynomialSharingGF216, nil, kmip.ResultReasonInvalidField},
		{"SplitKey prime field unsupported", aes, 3, 2, kmip.SplitKeyMethodPolynomialSharingPrimeField, nil, kmip.ResultReasonInvalidField},
		{"SplitKey one name for all parts", aes, 3, 2, gf8, []kmip.Attribute{creationName("SplitKey-parts")}, kmip.ResultReasonInvalidAttributeValue},
		{"SplitKey non-extractable key", locked, 3, 2, gf8, nil, kmip.ResultReasonNotExtractable},
		{"SplitKey unknown key", "no-such-key", 3, 2, gf8, nil, kmip.ResultReasonItemNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := splitKeyCreate(e, kmip.V2_0, tc.id, tc.parts, tc.threshold, tc.method, tc.attrs...)
			creationReason(t, err, tc.want)
		})
	}
}

func TestSplitKeyJoinRefusals(t *testing.T) {
	e := newCreationEnv(t)
	key := bytes.Repeat([]byte{9}, 16)
	id := e.registerSymmetric(t, kmip.V2_0, kmip.CryptographicAlgorithmAES, key)
	shamir, err := splitKeyCreate(e, kmip.V2_0, id, 5, 3, kmip.SplitKeyMethodPolynomialSharingGF28)
	if err != nil {
		t.Fatal(err)
	}
	xor, err := splitKeyCreate(e, kmip.V2_0, id, 3, 3, kmip.SplitKeyMethodXOR)
	if err != nil {
		t.Fatal(err)
	}
	archived, err := splitKeyCreate(e, kmip.V2_0, id, 2, 2, kmip.SplitKeyMethodXOR)
	if err != nil {
		t.Fatal(err)
	}
	e.must(t, kmip.V2_0, kmip.OperationArchive, creationUID(archived[1]))
	aes128 := []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128)}
	tests := []struct {
		name  string
		ot    kmip.ObjectType
		ids   []string
		attrs []kmip.Attribute
		want  kmip.ResultReason
	}{
		{"SplitKey below threshold", kmip.ObjectTypeSymmetricKey, shamir[:2], aes128, kmip.ResultReasonCryptographicFailure},
		{"SplitKey XOR missing a part", kmip.ObjectTypeSymmetricKey, xor[:2], aes128, kmip.ResultReasonCryptographicFailure},
		{"SplitKey part given twice", kmip.ObjectTypeSymmetricKey, []string{shamir[0], shamir[1], shamir[0]}, aes128, kmip.ResultReasonInvalidField},
		{"SplitKey parts of two splits", kmip.ObjectTypeSymmetricKey, []string{shamir[0], shamir[1], xor[2]}, aes128, kmip.ResultReasonInvalidField},
		{"SplitKey not a split key", kmip.ObjectTypeSymmetricKey, []string{id, shamir[0], shamir[1]}, aes128, kmip.ResultReasonInvalidObjectType},
		{"SplitKey length of another key", kmip.ObjectTypeSymmetricKey, shamir[:3], []kmip.Attribute{creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256)}, kmip.ResultReasonCryptographicFailure},
		{"SplitKey archived part", kmip.ObjectTypeSymmetricKey, archived, aes128, kmip.ResultReasonObjectArchived},
		{"SplitKey into a split key", kmip.ObjectTypeSplitKey, shamir[:3], nil, kmip.ResultReasonInvalidObjectType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := splitKeyJoin(e, kmip.V2_0, tc.ot, tc.ids, tc.attrs...)
			creationReason(t, err, tc.want)
		})
	}
}

// TestSplitKeySecretData splits Secret Data and joins it back as Secret
// Data.
func TestSplitKeySecretData(t *testing.T) {
	e := newCreationEnv(t)
	secret := []byte("a passphrase of some length")
	obj := ttlv.Struct(kmip.TagSecretData,
		ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)),
		creationKeyBlock(kmip.KeyFormatTypeOpaque, ttlv.Bytes(kmip.TagKeyMaterial, secret), 0, 0))
	id := e.register(t, kmip.V1_4, kmip.ObjectTypeSecretData, obj)
	parts, err := splitKeyCreate(e, kmip.V1_4, id, 4, 2, kmip.SplitKeyMethodPolynomialSharingGF28)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := splitKeyJoin(e, kmip.V1_4, kmip.ObjectTypeSecretData, splitKeyPick(parts, []int{4, 2}))
	if err != nil {
		t.Fatal(err)
	}
	if _, m := creationMaterial(t, e.get(t, kmip.V1_4, joined)); !bytes.Equal(m.Bytes(), secret) {
		t.Fatalf("joined secret %q, want %q", m.Bytes(), secret)
	}
}
