package service

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// attrsLocateFields encodes Locate filter attributes for ver: 1.x Attribute
// structures in the payload, 2.x items of an Attributes structure.
func attrsLocateFields(ver kmip.ProtocolVersion, attrs ...kmip.Attribute) []ttlv.Value {
	enc := make([]ttlv.Value, len(attrs))
	for i, a := range attrs {
		enc[i] = kmip.EncodeAttribute(a, ver, false)
	}
	if ver.Is2x() {
		return []ttlv.Value{ttlv.Struct(kmip.TagAttributes, enc...)}
	}
	return enc
}

func TestLocate(t *testing.T) {
	e := attrsNewEnv(t)
	t0 := e.clock.Now()
	appInfo := ttlv.Struct(kmip.TagApplicationSpecificInformation,
		ttlv.Text(kmip.TagApplicationNamespace, "LIBRARY-LTO"),
		ttlv.Text(kmip.TagApplicationData, "123456789ABCDEF"))
	k1 := e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{
		attrsA(attrName, attrsName("alpha")),
		attrsA(attrObjectGroup, ttlv.Text(0, "g1")),
		attrsA(attrFresh, ttlv.Bool(0, true)),
		attrsA("x-ID", ttlv.Text(0, "one")),
	}})
	k2 := e.attrsPut(t, attrsObj{state: kmip.StateActive, attrs: []kmip.Attribute{
		attrsA(attrName, attrsName("beta")),
		attrsA(attrObjectGroup, ttlv.Text(0, "g1")),
		attrsA(attrFresh, ttlv.Bool(0, false)),
		attrsA("x-ID", ttlv.Text(0, "two")),
		attrsA(attrApplicationSpecific, appInfo),
	}})
	// k1 links to k2; set after k2 exists.
	if _, err := e.store.Update(context.Background(), k1, func(o *objects.Object) error {
		o.AddAttr(attrsA(attrLink, attrsLink(kmip.LinkTypeNextLink, k2)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(time.Hour))
	k3 := e.attrsPut(t, attrsObj{typ: kmip.ObjectTypeSecretData, attrs: []kmip.Attribute{
		attrsA(attrName, attrsName("gamma")),
		attrsA(attrObjectGroup, ttlv.Text(0, "g2")),
	}})
	k4 := e.attrsPut(t, attrsObj{archived: true, attrs: []kmip.Attribute{attrsA(attrName, attrsName("delta"))}})
	k5 := e.attrsPut(t, attrsObj{state: kmip.StateDestroyed, attrs: []kmip.Attribute{attrsA(attrName, attrsName("eps"))}})
	k6 := e.attrsPut(t, attrsObj{tenant: "t2", attrs: []kmip.Attribute{
		attrsA(attrName, attrsName("alpha-t2")),
		attrsA(attrObjectGroup, ttlv.Text(0, "g1")),
	}})
	t2 := attrsTenantCtx("t2", "bob")

	enumA := func(name string, v uint32) kmip.Attribute { return attrsA(name, ttlv.Enum(0, v)) }
	dateA := func(name string, at time.Time) kmip.Attribute { return attrsA(name, ttlv.DateTime(0, at)) }
	intF := ttlv.Int
	tests := []struct {
		name      string
		ctx       context.Context
		attrs     []kmip.Attribute
		extra     []ttlv.Value
		want      []string
		wantCount int // Located Items, -1: absent
		wantErr   kmip.ResultReason
	}{
		{name: "no attribute: every on-line object, newest first", want: []string{k3, k2, k1}},
		{name: "name", attrs: []kmip.Attribute{attrsA(attrName, attrsName("alpha"))}, want: []string{k1}},
		{name: "object type", attrs: []kmip.Attribute{enumA(attrObjectType, uint32(kmip.ObjectTypeSymmetricKey))}, want: []string{k2, k1}},
		{name: "object type and name", attrs: []kmip.Attribute{enumA(attrObjectType, uint32(kmip.ObjectTypeSecretData)), attrsA(attrName, attrsName("gamma"))}, want: []string{k3}},
		{name: "state", attrs: []kmip.Attribute{enumA(attrState, uint32(kmip.StateActive))}, want: []string{k2}},
		{name: "algorithm", attrs: []kmip.Attribute{enumA(attrCryptoAlgorithm, uint32(kmip.CryptographicAlgorithmAES))}, want: []string{k2, k1}},
		{name: "length", attrs: []kmip.Attribute{attrsA(attrCryptoLength, ttlv.Int(0, 256))}, want: []string{k2, k1}},
		{name: "length no match", attrs: []kmip.Attribute{attrsA(attrCryptoLength, ttlv.Int(0, 128))}, want: nil},
		{name: "usage mask subset", attrs: []kmip.Attribute{attrsA(attrCryptoUsageMask, ttlv.Int(0, int32(kmip.CryptographicUsageMaskEncrypt)))}, want: []string{k2, k1}},
		{name: "usage mask superset", attrs: []kmip.Attribute{attrsA(attrCryptoUsageMask, ttlv.Int(0, int32(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskSign)))}, want: nil},
		{name: "object group", attrs: []kmip.Attribute{attrsA(attrObjectGroup, ttlv.Text(0, "g1"))}, want: []string{k2, k1}},
		{name: "link by identifier only", attrs: []kmip.Attribute{attrsA(attrLink, ttlv.Struct(kmip.TagLink, ttlv.Text(kmip.TagLinkedObjectIdentifier, k2)))}, want: []string{k1}},
		{name: "custom attribute", attrs: []kmip.Attribute{attrsA("x-ID", ttlv.Text(0, "two"))}, want: []string{k2}},
		{name: "application specific information (TL-M-3)", attrs: []kmip.Attribute{enumA(attrObjectType, uint32(kmip.ObjectTypeSymmetricKey)), attrsA(attrApplicationSpecific, appInfo)}, want: []string{k2}},
		{name: "date instant", attrs: []kmip.Attribute{dateA(attrInitialDate, t0.Add(time.Hour))}, want: []string{k3}},
		{name: "date range", attrs: []kmip.Attribute{dateA(attrInitialDate, t0.Add(-time.Minute)), dateA(attrInitialDate, t0.Add(time.Minute))}, want: []string{k2, k1}},
		{name: "date range, ends reversed", attrs: []kmip.Attribute{dateA(attrInitialDate, t0.Add(2*time.Hour)), dateA(attrInitialDate, t0)}, want: []string{k3, k2, k1}},
		{name: "date range ends included", attrs: []kmip.Attribute{dateA(attrInitialDate, t0), dateA(attrInitialDate, t0)}, want: []string{k2, k1}},
		{name: "storage: archived only", extra: []ttlv.Value{intF(kmip.TagStorageStatusMask, 2)}, want: []string{k4}},
		{name: "storage: on-line and archived", extra: []ttlv.Value{intF(kmip.TagStorageStatusMask, 3)}, want: []string{k4, k3, k2, k1}},
		{name: "storage: destroyed", extra: []ttlv.Value{intF(kmip.TagStorageStatusMask, 4)}, want: []string{k5}},
		{name: "group member fresh", attrs: []kmip.Attribute{attrsA(attrObjectGroup, ttlv.Text(0, "g1"))},
			extra: []ttlv.Value{ttlv.Enum(kmip.TagObjectGroupMember, uint32(kmip.ObjectGroupMemberGroupMemberFresh))}, want: []string{k1}},
		{name: "group member default", attrs: []kmip.Attribute{attrsA(attrObjectGroup, ttlv.Text(0, "g1"))},
			extra: []ttlv.Value{ttlv.Enum(kmip.TagObjectGroupMember, uint32(kmip.ObjectGroupMemberGroupMemberDefault))}, want: []string{k2}},
		{name: "maximum items", extra: []ttlv.Value{intF(kmip.TagMaximumItems, 1)}, want: []string{k3}},
		{name: "offset items: located items counts all", extra: []ttlv.Value{intF(kmip.TagOffsetItems, 1)}, want: []string{k2, k1}, wantCount: 3},
		{name: "offset and maximum", extra: []ttlv.Value{intF(kmip.TagMaximumItems, 1), intF(kmip.TagOffsetItems, 1)}, want: []string{k2}, wantCount: 3},
		{name: "offset past the end", extra: []ttlv.Value{intF(kmip.TagOffsetItems, 9)}, want: nil, wantCount: 3},
		{name: "other tenant sees its own only", ctx: t2, want: []string{k6}},
		{name: "other tenant, other's name", ctx: t2, attrs: []kmip.Attribute{attrsA(attrName, attrsName("alpha"))}, want: nil},
		{name: "other tenant, paged", ctx: t2, extra: []ttlv.Value{intF(kmip.TagOffsetItems, 0)}, want: []string{k6}, wantCount: 1},
		{name: "three instances of a date", attrs: []kmip.Attribute{dateA(attrInitialDate, t0), dateA(attrInitialDate, t0), dateA(attrInitialDate, t0)}, wantErr: kmip.ResultReasonInvalidField},
		{name: "negative maximum items", extra: []ttlv.Value{intF(kmip.TagMaximumItems, -1)}, wantErr: kmip.ResultReasonInvalidField},
	}
	for _, ver := range attrsVersions {
		for _, tc := range tests {
			t.Run(ver.String()+"/"+tc.name, func(t *testing.T) {
				fields := append(slices.Clone(tc.extra), attrsLocateFields(ver, tc.attrs...)...)
				p, err := e.attrsCall(tc.ctx, ver, kmip.OperationLocate, fields...)
				attrsWantReason(t, err, tc.wantErr)
				if err != nil {
					return
				}
				ids, n := attrsIDs(p)
				if !slices.Equal(ids, tc.want) {
					t.Fatalf("located %q, want %q", ids, tc.want)
				}
				want := tc.wantCount
				if want == 0 {
					want = -1
				}
				if n != want {
					t.Fatalf("located items %d, want %d", n, want)
				}
			})
		}
	}

	t.Run("1.x attributes in a Template-Attribute (FortiGate)", func(t *testing.T) {
		p, err := e.attrsCall(context.Background(), kmip.V1_2, kmip.OperationLocate,
			ttlv.Struct(kmip.TagTemplateAttribute, attrsLocateFields(kmip.V1_2, attrsA(attrName, attrsName("beta")))...))
		if err != nil {
			t.Fatal(err)
		}
		if ids, _ := attrsIDs(p); !slices.Equal(ids, []string{k2}) {
			t.Fatalf("located %q", ids)
		}
	})
	t.Run("1.x unknown attribute", func(t *testing.T) {
		_, err := e.attrsCall(context.Background(), kmip.V1_4, kmip.OperationLocate, ttlv.Struct(kmip.TagAttribute,
			ttlv.Text(kmip.TagAttributeName, "No Such Attribute"), ttlv.Text(kmip.TagAttributeValue, "v")))
		attrsWantReason(t, err, kmip.ResultReasonInvalidField)
	})
	t.Run("1.2 never gets located items", func(t *testing.T) {
		items := e.attrsMessage(t, nil, kmip.V1_2, attrsBatchItem{op: kmip.OperationLocate, fields: []ttlv.Value{intF(kmip.TagMaximumItems, 1)}})
		r, p := attrsItemResult(t, items[0])
		if r != 0 || p.Has(kmip.TagLocatedItems) {
			t.Fatalf("reason %v, payload %+v", r, p)
		}
	})
}

// TestLocateDateDrivenState checks that a Locate by State finds an object
// whose Activation Date has been reached though nothing has read it since
// (KMIP 1.4 §3.22 transition 4).
func TestLocateDateDrivenState(t *testing.T) {
	e := attrsNewEnv(t)
	t0 := e.clock.Now()
	id := e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{attrsA(attrActivationDate, ttlv.DateTime(0, t0.Add(time.Minute)))}})
	for _, ver := range attrsVersions {
		e.clock.Set(t0)
		p, err := e.attrsCall(context.Background(), ver, kmip.OperationLocate, attrsLocateFields(ver, attrsA(attrState, ttlv.Enum(0, uint32(kmip.StateActive))))...)
		if err != nil {
			t.Fatal(err)
		}
		if ids, _ := attrsIDs(p); len(ids) != 0 && ver == kmip.V1_4 {
			t.Fatalf("before the activation date: located %q", ids)
		}
		e.clock.Set(t0.Add(2 * time.Minute))
		p, err = e.attrsCall(context.Background(), ver, kmip.OperationLocate, attrsLocateFields(ver, attrsA(attrState, ttlv.Enum(0, uint32(kmip.StateActive))))...)
		if err != nil {
			t.Fatal(err)
		}
		if ids, _ := attrsIDs(p); !slices.Equal(ids, []string{id}) {
			t.Fatalf("%s after the activation date: located %q", ver, ids)
		}
	}
}

// TestLocatePaging pages through an object group the way MySQL's
// keyring_kmip lists its keys: Object Group, Maximum Items, Offset Items.
// KMIP 1.4 and 2.0 pages come newest first, 1.3 pages oldest first (see
// Service.locate).
func TestLocatePaging(t *testing.T) {
	e := attrsNewEnv(t)
	const n, page = 23, 5
	var all []string
	for i := range n {
		all = append(all, e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{
			attrsA(attrObjectGroup, ttlv.Text(0, "mysql")),
			attrsA(attrName, attrsName(fmt.Sprintf("key-%d", i))),
		}}))
	}
	e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{attrsA(attrObjectGroup, ttlv.Text(0, "other"))}})
	oldest := slices.Clone(all)
	slices.Reverse(all) // newest first
	for _, ver := range append([]kmip.ProtocolVersion{kmip.V1_3}, attrsVersions...) {
		want := all
		if !ver.AtLeast(kmip.V1_4) {
			want = oldest
		}
		var got []string
		for off := 0; ; off += page {
			fields := append([]ttlv.Value{ttlv.Int(kmip.TagMaximumItems, page), ttlv.Int(kmip.TagOffsetItems, int32(off))},
				attrsLocateFields(ver, attrsA(attrObjectGroup, ttlv.Text(0, "mysql")))...)
			p, err := e.attrsCall(context.Background(), ver, kmip.OperationLocate, fields...)
			if err != nil {
				t.Fatal(err)
			}
			ids, count := attrsIDs(p)
			if count != n {
				t.Fatalf("located items %d, want %d", count, n)
			}
			if len(ids) == 0 {
				break
			}
			got = append(got, ids...)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: pages gave %q\nwant %q", ver, got, want)
		}
	}
}

// TestLocatePlaceholderBatch runs the batches of KMIP 1.4 and 2.0 TL-M-3:
// a Locate whose single result feeds, through the ID Placeholder, the
// operations after it that name no object.
func TestLocatePlaceholderBatch(t *testing.T) {
	e := attrsNewEnv(t)
	id := e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{
		attrsA(attrName, attrsName("AAAAAAA1A1AA12345678901234567")),
		attrsA("x-VendorAttribute2", ttlv.Int(0, 0)),
		attrsA("x-VendorAttribute3", ttlv.DateTime(0, e.clock.Now())),
	}})
	e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{attrsA(attrName, attrsName("unrelated"))}})
	for _, ver := range attrsVersions {
		t.Run(ver.String(), func(t *testing.T) {
			locate := attrsBatchItem{op: kmip.OperationLocate, id: []byte{1}, fields: attrsLocateFields(ver,
				attrsA(attrObjectType, ttlv.Enum(0, uint32(kmip.ObjectTypeSymmetricKey))),
				attrsA(attrName, attrsName("AAAAAAA1A1AA12345678901234567")))}
			items := e.attrsMessage(t, nil, ver, locate,
				attrsBatchItem{op: kmip.OperationGetAttributes, id: []byte{2}, fields: []ttlv.Value{attrsRef(ver, "x-VendorAttribute2")}},
				attrsBatchItem{op: kmip.OperationGetAttributeList, id: []byte{3}},
				attrsBatchItem{op: kmip.OperationModifyAttribute, id: []byte{4}, fields: []ttlv.Value{attrsNew(ver, attrsA("x-VendorAttribute2", ttlv.Int(0, 1)))}},
				attrsBatchItem{op: kmip.OperationAddAttribute, id: []byte{5}, fields: []ttlv.Value{attrsNew(ver, attrsA("x-Added", ttlv.Text(0, ver.String())))}},
			)
			if len(items) != 5 {
				t.Fatalf("%d batch items", len(items))
			}
			for i, it := range items {
				r, p := attrsItemResult(t, it)
				if r != 0 {
					t.Fatalf("item %d failed: %v", i, r)
				}
				if uid, _ := p.Child(kmip.TagUniqueIdentifier); uid.Text() != id {
					t.Fatalf("item %d names %q, want %q", i, uid.Text(), id)
				}
				if bid, _ := it.Child(kmip.TagUniqueBatchItemID); len(bid.Bytes()) != 1 || bid.Bytes()[0] != byte(i+1) {
					t.Fatalf("item %d: unique batch item id %x", i, bid.Bytes())
				}
			}
			_, p := attrsItemResult(t, items[1])
			if got := attrsParse(t, ver, p); len(got) != 1 || got[0].Name != "x-VendorAttribute2" {
				t.Fatalf("get attributes gave %+v", got)
			}
			o := e.attrsGet(t, id)
			if a, _ := o.Attr("x-VendorAttribute2"); a.Value.Int() != 1 {
				t.Fatalf("x-VendorAttribute2 = %d after modify", a.Value.Int())
			}
			if as := o.AttrsNamed("x-Added"); len(as) == 0 || as[len(as)-1].Value.Text() != ver.String() {
				t.Fatalf("x-Added = %+v", as)
			}
			// Reset for the next version.
			if _, err := e.attrsCall(context.Background(), ver, kmip.OperationModifyAttribute, attrsUID(id), attrsNew(ver, attrsA("x-VendorAttribute2", ttlv.Int(0, 0)))); err != nil {
				t.Fatal(err)
			}
		})
	}
}
