package conformance

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Storage and virtualisation clients, replayed from what their recorded
// traffic does (issue "Managed objects on the HSM", "What real clients
// do"): each test speaks the client's protocol version over real mutual
// TLS to a full kmipd, and every response is checked to carry only what
// that version defines (checkDefinedIn).

// TestClientVMwareVCenter: KMIP 1.1 in every header; connections that only
// probe (Discover Versions, Query); Create AES-256 Encrypt|Decrypt without
// a Name; one batch of three Add Attribute; Get Attributes State;
// Activate; Get of the Raw key.
func TestClientVMwareVCenter(t *testing.T) {
	s := startFullServer(t)
	ver := kmip.V1_1

	// vCenter opens many short connections that only probe the server.
	for i := range 3 {
		c := s.client(t, ver)
		rs := c.batch(
			item(kmip.OperationDiscoverVersions),
			item(kmip.OperationQuery,
				ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryOperations)),
				ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryObjects))))
		if len(rs) != 2 || rs[0].status != kmip.ResultStatusSuccess || rs[1].status != kmip.ResultStatusSuccess {
			t.Fatalf("probe %d: %v", i, rs)
		}
		var ops []kmip.Operation
		for _, v := range rs[1].payload.All(kmip.TagOperation) {
			ops = append(ops, kmip.Operation(v.Enum()))
		}
		for _, op := range []kmip.Operation{kmip.OperationCreate, kmip.OperationAddAttribute, kmip.OperationGetAttributes, kmip.OperationActivate, kmip.OperationGet} {
			if !slices.Contains(ops, op) {
				t.Errorf("Query Operations %v lacks %v, which vCenter uses", ops, op)
			}
		}
		if err := c.conn.Close(); err != nil {
			t.Fatal(err)
		}
	}

	c := s.client(t, ver)
	id := c.createSymmetric(
		algAttr(kmip.CryptographicAlgorithmAES),
		lenAttr(256),
		maskAttr(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt))
	if names := attrValues(c.getAttributes(id), "Name"); len(names) != 0 {
		t.Errorf("key created without a Name has Names %v", names)
	}

	custom := []kmip.Attribute{
		textAttr("x-Product_Version", "8.0.2"),
		textAttr("x-Vendor", "VMware, Inc."),
		textAttr("x-Product", "VMware vCenter Server"),
	}
	var items []wireItem
	for _, a := range custom {
		items = append(items, item(kmip.OperationAddAttribute, uidField(id), kmip.EncodeAttribute(a, ver, false)))
	}
	rs := c.batch(items...)
	if len(rs) != 3 {
		t.Fatalf("Add Attribute batch: %d items answered", len(rs))
	}
	for i, r := range rs {
		if r.status != kmip.ResultStatusSuccess || r.op != kmip.OperationAddAttribute || !bytes.Equal(r.batchID, []byte{byte(i + 1)}) {
			t.Fatalf("Add Attribute %d: %v (batch item id %x)", i, r, r.batchID)
		}
		// KMIP 1.4 §4.13: the response carries the attribute added.
		echo := parseAttributesPayload(t, r.payload, ver)
		if len(echo) != 1 || echo[0].Name != custom[i].Name || echo[0].Value.Text() != custom[i].Value.Text() {
			t.Errorf("Add Attribute %s echoed %v", custom[i].Name, echo)
		}
	}

	if st := c.state(id); st != kmip.StatePreActive {
		t.Errorf("new key is %v, want Pre-Active", st)
	}
	c.activate(id)
	if st := c.state(id); st != kmip.StateActive {
		t.Errorf("after Activate the key is %v", st)
	}
	got := c.getAttributes(id, "x-Product_Version", "x-Vendor", "x-Product")
	for _, a := range custom {
		if vs := attrValues(got, a.Name); len(vs) != 1 || vs[0].Text() != a.Value.Text() {
			t.Errorf("%s read back as %v", a.Name, vs)
		}
	}

	p := c.must(kmip.OperationGet, uidField(id))
	kv, block := keyValue(t, p, kmip.TagSymmetricKey)
	if f, _ := block.Child(kmip.TagKeyFormatType); kmip.KeyFormatType(f.Enum()) != kmip.KeyFormatTypeRaw {
		t.Errorf("Get answered key format %v, want Raw", kmip.KeyFormatType(f.Enum()))
	}
	if k := keyMaterialBytes(t, kv); len(k) != 32 {
		t.Errorf("AES-256 key of %d bytes", len(k))
	}
}

// TestClientSynologyDSM: KMIP 1.2, one TCP connection per operation;
// Register Secret Data (Password) with Operation Policy Name "default";
// Modify Attribute of the Name, whose response echoes the modified
// attribute; Locate by exact Name; Activate.
func TestClientSynologyDSM(t *testing.T) {
	s := startFullServer(t)
	c := s.clientPerMessage(t, kmip.V1_2)
	password := []byte(randomLabel("dsm-volume-passphrase-"))
	tmpName := randomLabel("dsm-tmp-")
	finalName := randomLabel("dsm-vol1-")

	id := c.register(kmip.ObjectTypeSecretData,
		ttlv.Struct(kmip.TagSecretData,
			ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypePassword)),
			keyBlock(kmip.KeyFormatTypeOpaque, password, 0, 0)),
		textAttr("Operation Policy Name", "default"),
		nameAttr(tmpName))

	newName := nameAttr(finalName)
	newName.Index = 0
	p := c.must(kmip.OperationModifyAttribute, uidField(id), kmip.EncodeAttribute(newName, c.ver, true))
	if got := payloadID(t, p); got != id {
		t.Errorf("Modify Attribute answered for %s", got)
	}
	// KMIP 1.4 §4.15 (and 1.2): the response returns the modified attribute
	// with its new value.
	echo := parseAttributesPayload(t, p, c.ver)
	if len(echo) != 1 || echo[0].Name != "Name" {
		t.Fatalf("Modify Attribute echoed %v", echo)
	}
	if nv, _ := echo[0].Value.Child(kmip.TagNameValue); nv.Text() != finalName {
		t.Errorf("Modify Attribute echoed name %q, want %q", nv.Text(), finalName)
	}

	locateName := func(name string) []string {
		ids, _ := c.locate(c.locateFilter(nameAttr(name))...)
		return ids
	}
	if ids := locateName(finalName); !slices.Equal(ids, []string{id}) {
		t.Errorf("Locate by the new name found %v, want [%s]", ids, id)
	}
	if ids := locateName(tmpName); len(ids) != 0 {
		t.Errorf("Locate by the replaced name found %v", ids)
	}
	// Exact match: a prefix of the name is another name.
	if ids := locateName(finalName[:len(finalName)-2]); len(ids) != 0 {
		t.Errorf("Locate by a prefix of the name found %v", ids)
	}
	c.activate(id)
	if st := c.state(id); st != kmip.StateActive {
		t.Errorf("after Activate: %v", st)
	}
	kv, _ := keyValue(t, c.must(kmip.OperationGet, uidField(id)), kmip.TagSecretData)
	if !bytes.Equal(keyMaterialBytes(t, kv), password) {
		t.Error("Get returned another password")
	}
	if vs := attrValues(c.getAttributes(id, "Operation Policy Name"), "Operation Policy Name"); len(vs) != 1 || vs[0].Text() != "default" {
		t.Errorf("Operation Policy Name read back as %v", vs)
	}
}

// netAppAttributes are the x-NETAPP-* attributes ONTAP sets on its keys
// (about 16 in its recorded traffic).
func netAppAttributes(keyID string) []kmip.Attribute {
	var as []kmip.Attribute
	for i, n := range []string{
		"ClusterId", "ClusterName", "Vserverid", "VserverName", "KeyId", "KeyTag", "KeyUsage",
		"KeyManager", "NodeName", "NodeId", "Product", "Product-Version", "Build-Version",
		"Crypto-Module-Version", "Aggregate", "Volume",
	} {
		as = append(as, textAttr("x-NETAPP-"+n, fmt.Sprintf("%s-%02d-%s", n, i, keyID)))
	}
	return as
}

// TestClientNetAppONTAP: about 16 x-NETAPP-* text attributes on Create and
// Register, all read back by Get Attributes.
func TestClientNetAppONTAP(t *testing.T) {
	s := startFullServer(t)
	c := s.client(t, kmip.V1_2)
	created := netAppAttributes(randomLabel(""))
	registered := netAppAttributes(randomLabel(""))
	ids := map[string][]kmip.Attribute{
		c.createSymmetric(append([]kmip.Attribute{algAttr(kmip.CryptographicAlgorithmAES), lenAttr(256),
			maskAttr(kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt)}, created...)...): created,
		c.registerAES(randomBytes(32), append([]kmip.Attribute{maskAttr(kmip.CryptographicUsageMaskEncrypt | kmip.CryptographicUsageMaskDecrypt)}, registered...)...): registered,
	}
	for id, want := range ids {
		var names []string
		for _, a := range want {
			names = append(names, a.Name)
		}
		for _, got := range [][]kmip.Attribute{c.getAttributes(id, names...), c.getAttributes(id)} {
			for _, a := range want {
				if vs := attrValues(got, a.Name); len(vs) != 1 || vs[0].Type != ttlv.TypeTextString || vs[0].Text() != a.Value.Text() {
					t.Errorf("%s: %s read back as %v, want %q", id, a.Name, vs, a.Value.Text())
				}
			}
		}
		list := c.must(kmip.OperationGetAttributeList, uidField(id))
		var listed []string
		for _, v := range list.All(kmip.TagAttributeName) {
			listed = append(listed, v.Text())
		}
		for _, n := range names {
			if !slices.Contains(listed, n) {
				t.Errorf("%s: Get Attribute List %v lacks %s", id, listed, n)
			}
		}
	}
}

// TestClientFortiGate: Locate filters inside a Template-Attribute must
// filter: a server that ignored them returned the same key for every
// Locate and broke IPsec.
func TestClientFortiGate(t *testing.T) {
	s := startFullServer(t)
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_2, kmip.V1_4} {
		t.Run(ver.String(), func(t *testing.T) {
			c := s.client(t, ver)
			names := []string{randomLabel("fgt-ipsec-a-"), randomLabel("fgt-ipsec-b-")}
			var ids []string
			for _, n := range names {
				ids = append(ids, c.createSymmetric(algAttr(kmip.CryptographicAlgorithmAES), lenAttr(256),
					maskAttr(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt), nameAttr(n)))
			}
			for i, n := range names {
				got, _ := c.locate(ttlv.Struct(kmip.TagTemplateAttribute, c.attrs(nameAttr(n))...))
				if !slices.Equal(got, []string{ids[i]}) {
					t.Errorf("Locate with Template-Attribute Name %s found %v, want [%s]", n, got, ids[i])
				}
				got, _ = c.locate(ttlv.Struct(kmip.TagTemplateAttribute, c.attrs(
					kattr("Object Type", ttlv.Enum(0, uint32(kmip.ObjectTypeSymmetricKey))), nameAttr(n))...))
				if !slices.Equal(got, []string{ids[i]}) {
					t.Errorf("Locate with Template-Attribute Object Type and Name %s found %v", n, got)
				}
			}
			if got, _ := c.locate(ttlv.Struct(kmip.TagTemplateAttribute, c.attrs(nameAttr(randomLabel("fgt-none-")))...)); len(got) != 0 {
				t.Errorf("Locate with an unknown name in a Template-Attribute found %v", got)
			}
		})
	}
}

// TestClientVAST: Re-key returns a new identifier and the old key stays
// Active; Get with a Key Wrapping Specification (AES Key Wrap, RFC 3394)
// returns the key wrapped under another managed key, which plain Go code
// unwraps.
func TestClientVAST(t *testing.T) {
	s := startFullServer(t)
	c := s.client(t, kmip.V1_4)

	name := randomLabel("vast-tenant-key-")
	old := c.createSymmetric(algAttr(kmip.CryptographicAlgorithmAES), lenAttr(256),
		maskAttr(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt), nameAttr(name))
	c.activate(old)
	p := c.must(kmip.OperationReKey, uidField(old))
	fresh := payloadID(t, p)
	if fresh == old {
		t.Fatalf("Re-key returned the old identifier %s", old)
	}
	if st := c.state(old); st != kmip.StateActive {
		t.Errorf("the re-keyed key is %v; VAST needs it to stay Active", st)
	}
	if st := c.state(fresh); st != kmip.StateActive && st != kmip.StatePreActive {
		t.Errorf("the replacement key is %v", st)
	}
	// KMIP 1.4 §4.4: Replacement/Replaced Object links both ways, and the
	// replacement takes the name.
	if !hasLink(c.getAttributes(old, "Link"), kmip.LinkTypeReplacementObjectLink, fresh) {
		t.Errorf("old key lacks a Replacement Object Link to %s", fresh)
	}
	if !hasLink(c.getAttributes(fresh, "Link"), kmip.LinkTypeReplacedObjectLink, old) {
		t.Errorf("new key lacks a Replaced Object Link to %s", old)
	}
	if ids, _ := c.locate(c.locateFilter(nameAttr(name))...); !slices.Contains(ids, fresh) {
		t.Errorf("Locate by name %s found %v, not the replacement %s", name, ids, fresh)
	}

	plain := keyMaterialBytes(t, first(keyValue(t, c.must(kmip.OperationGet, uidField(fresh)), kmip.TagSymmetricKey)))
	if len(plain) != 32 {
		t.Fatalf("replacement key of %d bytes", len(plain))
	}

	kekBytes := randomBytes(32)
	kek := c.registerAES(kekBytes, maskAttr(kmip.CryptographicUsageMaskWrapKey|kmip.CryptographicUsageMaskUnwrapKey), nameAttr(randomLabel("vast-kek-")))
	c.activate(kek)
	wrapSpec := func(enc []ttlv.Value) ttlv.Value {
		f := []ttlv.Value{
			ttlv.Enum(kmip.TagWrappingMethod, uint32(kmip.WrappingMethodEncrypt)),
			ttlv.Struct(kmip.TagEncryptionKeyInformation, uidField(kek),
				ttlv.Struct(kmip.TagCryptographicParameters,
					ttlv.Enum(kmip.TagBlockCipherMode, uint32(kmip.BlockCipherModeNISTKeyWrap)))),
		}
		return ttlv.Struct(kmip.TagKeyWrappingSpecification, append(f, enc...)...)
	}
	tests := []struct {
		name string
		enc  []ttlv.Value
		// unwrapped returns the key bytes from the unwrapped blob.
		unwrapped func(t *testing.T, b []byte) []byte
	}{
		{"no encoding", []ttlv.Value{ttlv.Enum(kmip.TagEncodingOption, uint32(kmip.EncodingOptionNoEncoding))},
			func(t *testing.T, b []byte) []byte { return b }},
		{"TTLV encoding", nil, func(t *testing.T, b []byte) []byte {
			kv, err := ttlv.Decode(b, ttlv.Limits{})
			if err != nil || kv.Tag != kmip.TagKeyValue {
				t.Fatalf("unwrapped TTLV is not a Key Value: %v %v", err, kv)
			}
			return keyMaterialBytes(t, kv)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := c.must(kmip.OperationGet, uidField(fresh), wrapSpec(tt.enc))
			kv, block := keyValue(t, p, kmip.TagSymmetricKey)
			kwd, ok := block.Child(kmip.TagKeyWrappingData)
			if !ok {
				t.Fatalf("wrapped key without Key Wrapping Data: %v", block)
			}
			if m, _ := kwd.Child(kmip.TagWrappingMethod); kmip.WrappingMethod(m.Enum()) != kmip.WrappingMethodEncrypt {
				t.Errorf("wrapping method %v", kmip.WrappingMethod(m.Enum()))
			}
			eki, _ := kwd.Child(kmip.TagEncryptionKeyInformation)
			if u, _ := eki.Child(kmip.TagUniqueIdentifier); u.Text() != kek {
				t.Errorf("wrapped under %q, want %s", u.Text(), kek)
			}
			// The Key Value is the wrapped Byte String (KMIP 1.4 §2.1.4), or
			// for No Encoding a structure whose Key Material holds it.
			var blob []byte
			switch kv.Type {
			case ttlv.TypeByteString:
				blob = kv.Bytes()
			case ttlv.TypeStructure:
				blob = keyMaterialBytes(t, kv)
			default:
				t.Fatalf("wrapped Key Value is a %v", kv.Type)
			}
			if bytes.Contains(blob, plain) {
				t.Fatal("the wrapped key value contains the key in the clear")
			}
			got, err := aesKeyUnwrap(kekBytes, blob)
			if err != nil {
				t.Fatalf("RFC 3394 unwrap of %d bytes: %v", len(blob), err)
			}
			if !bytes.Equal(tt.unwrapped(t, got), plain) {
				t.Error("the unwrapped key differs from the key")
			}
		})
	}
}

func first(a, _ ttlv.Value) ttlv.Value { return a }

// hasLink reports whether as has a Link of type lt to id.
func hasLink(as []kmip.Attribute, lt kmip.LinkType, id string) bool {
	for _, v := range attrValues(as, "Link") {
		typ, _ := v.Child(kmip.TagLinkType)
		obj, _ := v.Child(kmip.TagLinkedObjectIdentifier)
		if kmip.LinkType(typ.Enum()) == lt && obj.Text() == id {
			return true
		}
	}
	return false
}

// aesKeyUnwrap is the AES Key Unwrap of RFC 3394 §2.2.2 (index-based
// form), written here so that the test does not trust the server's code.
func aesKeyUnwrap(kek, c []byte) ([]byte, error) {
	if len(c)%8 != 0 || len(c) < 24 {
		return nil, fmt.Errorf("aes key unwrap: %d bytes is not n+1 blocks of 8 with n >= 2", len(c))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("aes key unwrap: %w", err)
	}
	n := len(c)/8 - 1
	a := binary.BigEndian.Uint64(c[:8])
	r := bytes.Clone(c[8:])
	var buf [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			binary.BigEndian.PutUint64(buf[:8], a^uint64(n*j+i))
			copy(buf[8:], r[(i-1)*8:i*8])
			block.Decrypt(buf[:], buf[:])
			a = binary.BigEndian.Uint64(buf[:8])
			copy(r[(i-1)*8:i*8], buf[8:])
		}
	}
	clear(buf[:])
	if a != 0xA6A6A6A6A6A6A6A6 {
		clear(r)
		return nil, errors.New("aes key unwrap: integrity check failed")
	}
	return r, nil
}

// TestAESKeyUnwrapRFC3394 checks the test's own unwrap against RFC 3394
// §4.1 and §4.6.
func TestAESKeyUnwrapRFC3394(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct{ name, kek, data, wrapped string }{
		{"4.1 128-bit data, 128-bit KEK", "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
			"1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
		{"4.6 256-bit data, 256-bit KEK", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
			"00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			"28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := aesKeyUnwrap(h(tt.kek), h(tt.wrapped))
			if err != nil || !bytes.Equal(got, h(tt.data)) {
				t.Errorf("unwrap: %x, %v", got, err)
			}
			bad := h(tt.wrapped)
			bad[3] ^= 1
			if _, err := aesKeyUnwrap(h(tt.kek), bad); err == nil {
				t.Error("a corrupted blob unwrapped")
			}
		})
	}
}
