package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Database clients, replayed from their recorded traffic (issue "Managed
// objects on the HSM", "What real clients do").

// TestClientMongoDB: MongoDB sends KMIP 1.2 headers (1.0 with its legacy
// option) and registers 96 bytes of Secret Data without a Cryptographic
// Usage Mask (client-side field level encryption), then Gets and Activates
// it. The server must default the mask instead of refusing.
func TestClientMongoDB(t *testing.T) {
	s := startFullServer(t)
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_2, kmip.V1_0} {
		t.Run(ver.String(), func(t *testing.T) {
			c := s.client(t, ver)
			secret := randomBytes(96)
			id := c.register(kmip.ObjectTypeSecretData, ttlv.Struct(kmip.TagSecretData,
				ttlv.Enum(kmip.TagSecretDataType, uint32(kmip.SecretDataTypeSeed)),
				keyBlock(kmip.KeyFormatTypeOpaque, secret, 0, 0)))
			p := c.must(kmip.OperationGet, uidField(id))
			if ot, _ := p.Child(kmip.TagObjectType); kmip.ObjectType(ot.Enum()) != kmip.ObjectTypeSecretData {
				t.Errorf("Get answered object type %v", kmip.ObjectType(ot.Enum()))
			}
			kv, block := keyValue(t, p, kmip.TagSecretData)
			if !bytes.Equal(keyMaterialBytes(t, kv), secret) {
				t.Error("Get returned other bytes than those registered")
			}
			if f, _ := block.Child(kmip.TagKeyFormatType); kmip.KeyFormatType(f.Enum()) != kmip.KeyFormatTypeOpaque {
				t.Errorf("key format %v, want Opaque as registered", kmip.KeyFormatType(f.Enum()))
			}
			sd, _ := p.Child(kmip.TagSecretData)
			if st, _ := sd.Child(kmip.TagSecretDataType); kmip.SecretDataType(st.Enum()) != kmip.SecretDataTypeSeed {
				t.Errorf("secret data type %v", kmip.SecretDataType(st.Enum()))
			}
			if m := attrValues(c.getAttributes(id, "Cryptographic Usage Mask"), "Cryptographic Usage Mask"); len(m) != 1 || m[0].Int() == 0 {
				t.Errorf("no default Cryptographic Usage Mask: %v", m)
			}
			c.activate(id)
			if st := c.state(id); st != kmip.StateActive {
				t.Errorf("after Activate: %v", st)
			}
		})
	}
}

// TestClientPerconaServerMongoDB: KMIP 1.0 only; the master key's State is
// polled and the server shut down if it is not Active; the client breaks
// on anything 1.0 lacks (Fresh in a 1.0 response broke it). Every response
// is decoded and each tag, enumeration value and attribute name checked
// against 1.0 (parseResponseMessage); there is no Server Correlation Value.
func TestClientPerconaServerMongoDB(t *testing.T) {
	s := startFullServer(t)
	c := s.client(t, kmip.V1_0)

	q := c.must(kmip.OperationQuery,
		ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryOperations)),
		ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryObjects)),
		ttlv.Enum(kmip.TagQueryFunction, uint32(kmip.QueryFunctionQueryServerInformation)))
	if len(q.All(kmip.TagOperation)) == 0 {
		t.Errorf("Query Operations empty: %v", q)
	}

	name := randomLabel("psmdb-master-")
	material := randomBytes(32)
	registered := c.registerAES(material, maskAttr(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt), nameAttr(name))
	created := c.createSymmetric(algAttr(kmip.CryptographicAlgorithmAES), lenAttr(256),
		maskAttr(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt), nameAttr(name+"-created"))
	for _, id := range []string{registered, created} {
		c.activate(id)
		// Polling: every 15 minutes in production, three times here.
		for range 3 {
			if st := c.state(id); st != kmip.StateActive {
				t.Fatalf("%s polled as %v", id, st)
			}
		}
		all := c.getAttributes(id)
		for _, a := range all {
			if !kmip.AttributeDefinedIn(a.Name, kmip.V1_0) {
				t.Errorf("Get Attributes in 1.0 returned %q", a.Name)
			}
		}
		for _, n := range []string{"Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length", "State", "Name"} {
			if len(attrValues(all, n)) == 0 {
				t.Errorf("Get Attributes of every attribute lacks %s", n)
			}
		}
		if len(attrValues(all, "Fresh")) != 0 {
			t.Error("Fresh (KMIP 1.1) in a 1.0 response")
		}
		c.must(kmip.OperationGetAttributeList, uidField(id))
	}
	kv, _ := keyValue(t, c.must(kmip.OperationGet, uidField(registered)), kmip.TagSymmetricKey)
	if !bytes.Equal(keyMaterialBytes(t, kv), material) {
		t.Error("Get returned other key material than registered")
	}
	if ids, _ := c.locate(c.locateFilter(nameAttr(name))...); !slices.Equal(ids, []string{registered}) {
		t.Errorf("Locate by name in 1.0 found %v", ids)
	}
}

// TestClientMySQLKeyring: MySQL's and Percona's keyring_kmip speak 1.4,
// keep their keys in an Object Group, list them with Locate by Object
// Group (up to 65,535 items, then paged with Offset Items), and revoke a
// key before destroying it.
func TestClientMySQLKeyring(t *testing.T) {
	s := startFullServer(t)
	c := s.client(t, kmip.V1_4)
	const n = 23
	group := randomLabel("mysql-keyring-")
	want := map[string]bool{}
	for i := range n {
		id := c.createSymmetric(algAttr(kmip.CryptographicAlgorithmAES), lenAttr(256),
			maskAttr(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt),
			kattr("Object Group", ttlv.Text(0, group)), nameAttr(fmt.Sprintf("%s-key-%02d", group, i)))
		want[id] = true
	}
	// Keys outside the group must not be listed.
	c.createSymmetric(algAttr(kmip.CryptographicAlgorithmAES), lenAttr(256), kattr("Object Group", ttlv.Text(0, group+"-other")))
	c.createSymmetric(algAttr(kmip.CryptographicAlgorithmAES), lenAttr(256))

	byGroup := func(maxItems, offset int32) ([]string, int32) {
		f := []ttlv.Value{ttlv.Int(kmip.TagMaximumItems, maxItems)}
		if offset >= 0 {
			f = append(f, ttlv.Int(kmip.TagOffsetItems, offset))
		}
		f = append(f, c.locateFilter(kattr("Object Group", ttlv.Text(0, group)))...)
		ids, p := c.locate(f...)
		located := int32(-1)
		if v, ok := p.Child(kmip.TagLocatedItems); ok {
			located = v.Int()
		}
		return ids, located
	}

	// Without Offset Items the server may omit Located Items (KMIP 1.4
	// §4.9; the OASIS TC-OFFSET vectors have it only with an offset).
	all, located := byGroup(65535, -1)
	if len(all) != n || located != -1 && located != n {
		t.Errorf("Locate Maximum Items 65535: %d identifiers, Located Items %d; want %d", len(all), located, n)
	}
	for _, id := range all {
		if !want[id] {
			t.Errorf("Locate by group returned %s, not in the group", id)
		}
	}

	const page = 5
	seen := map[string]bool{}
	var pages int
	for offset := int32(0); ; offset += page {
		ids, located := byGroup(page, offset)
		pages++
		if located != n {
			t.Errorf("page at offset %d: Located Items %d, want %d (KMIP 1.4 §4.9)", offset, located, n)
		}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("page at offset %d repeats %s", offset, id)
			}
			if !want[id] {
				t.Errorf("page at offset %d returns %s, not in the group", offset, id)
			}
			seen[id] = true
		}
		if len(ids) > page {
			t.Fatalf("page of %d items for Maximum Items %d", len(ids), page)
		}
		if len(ids) < page {
			break
		}
		if pages > n {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != n || pages != n/page+1 {
		t.Errorf("paging found %d of %d keys in %d pages", len(seen), n, pages)
	}

	// Retire three keys: Activate (the keyring activates what it uses),
	// Revoke, then Destroy.
	retired := all[:3]
	for _, id := range retired {
		c.activate(id)
		c.revoke(id, kmip.RevocationReasonCodeCessationOfOperation)
		if st := c.state(id); st != kmip.StateDeactivated {
			t.Errorf("revoked key is %v, want Deactivated", st)
		}
		c.destroy(id)
		if st := c.state(id); st != kmip.StateDestroyed {
			t.Errorf("destroyed key is %v", st)
		}
		if r := c.do(kmip.OperationGet, uidField(id)); r.status == kmip.ResultStatusSuccess {
			t.Errorf("Get of destroyed key %s succeeded", id)
		}
	}
	left, located := byGroup(65535, 0)
	for _, id := range retired {
		if slices.Contains(left, id) {
			t.Errorf("Locate still lists destroyed key %s", id)
		}
	}
	if len(left) != n-len(retired) || located != int32(len(left)) {
		t.Errorf("after destroying %d keys Locate finds %d (Located Items %d)", len(retired), len(left), located)
	}
}
