package service

import (
	"context"
	"math"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// attrsReason picks the reason a test expects in a version.
func attrsReason(ver kmip.ProtocolVersion, r1x, r2x kmip.ResultReason) kmip.ResultReason {
	if ver.Is2x() {
		return r2x
	}
	return r1x
}

func TestAddAttribute(t *testing.T) {
	e := attrsNewEnv(t)
	for _, ver := range attrsVersions {
		t.Run(ver.String(), func(t *testing.T) {
			active := e.attrsPut(t, attrsObj{state: kmip.StateActive, attrs: []kmip.Attribute{attrsA(attrActivationDate, ttlv.DateTime(0, e.clock.Now()))}})
			e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{attrsA(attrName, attrsName("taken-"+ver.String()))}})
			tests := []struct {
				name      string
				preActive bool // on a fresh Pre-Active object instead of the Active one
				a         kmip.Attribute
				fields    []ttlv.Value // replaces the attribute field when set
				want      kmip.ResultReason
				wantIndex int
			}{
				{name: "custom text", a: attrsA("x-Vendor", ttlv.Text(0, "VMware"))},
				{name: "custom second instance", a: attrsA("x-Vendor", ttlv.Text(0, "Broadcom")), wantIndex: 1},
				{name: "link", a: attrsA(attrLink, attrsLink(kmip.LinkTypeNextLink, "abc"))},
				{name: "name", a: attrsA(attrName, attrsName("fresh-name-"+ver.String()))},
				{name: "second name", a: attrsA(attrName, attrsName("other-name-"+ver.String())), wantIndex: 1},
				{name: "contact information", a: attrsA(attrContactInformation, ttlv.Text(0, "ops@example.com"))},
				{name: "single-valued twice", a: attrsA(attrContactInformation, ttlv.Text(0, "x")),
					want: attrsReason(ver, kmip.ResultReasonIllegalOperation, kmip.ResultReasonAttributeSingleValued)},
				{name: "read-only", a: attrsA(attrCryptoAlgorithm, ttlv.Enum(0, uint32(kmip.CryptographicAlgorithmAES))),
					want: attrsReason(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonReadOnlyAttribute)},
				{name: "server-only state", a: attrsA(attrState, ttlv.Enum(0, uint32(kmip.StateActive))),
					want: attrsReason(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonReadOnlyAttribute)},
				{name: "server custom attribute", a: attrsA("y-Internal", ttlv.Text(0, "v")),
					want: attrsReason(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonReadOnlyAttribute)},
				{name: "name used by another object", a: attrsA(attrName, attrsName("taken-"+ver.String())),
					want: attrsReason(ver, kmip.ResultReasonIllegalOperation, kmip.ResultReasonNonUniqueNameAttribute)},
				{name: "value of the wrong type", a: attrsA(attrContactInformation, ttlv.Int(0, 1)), preActive: true,
					want: attrsReason(ver, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue)},
				{name: "name without name value", a: attrsA(attrName, ttlv.Struct(kmip.TagName)),
					want: attrsReason(ver, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidAttributeValue)},
				{name: "deactivation date while active", a: attrsA(attrDeactivationDate, ttlv.DateTime(0, e.clock.Now().Add(time.Hour)))},
				{name: "activation date when pre-active", preActive: true, a: attrsA(attrActivationDate, ttlv.DateTime(0, e.clock.Now().Add(time.Hour)))},
				{name: "no attribute", fields: []ttlv.Value{}, want: kmip.ResultReasonInvalidField},
			}
			if !ver.Is2x() {
				tests = append(tests, struct {
					name      string
					preActive bool
					a         kmip.Attribute
					fields    []ttlv.Value
					want      kmip.ResultReason
					wantIndex int
				}{name: "client gives an index", fields: []ttlv.Value{ttlv.Struct(kmip.TagAttribute,
					ttlv.Text(kmip.TagAttributeName, "x-Indexed"), ttlv.Int(kmip.TagAttributeIndex, 3), ttlv.Text(kmip.TagAttributeValue, "v"))},
					want: kmip.ResultReasonInvalidField})
			} else {
				tests = append(tests, struct {
					name      string
					preActive bool
					a         kmip.Attribute
					fields    []ttlv.Value
					want      kmip.ResultReason
					wantIndex int
				}{name: "two attributes in new attribute", fields: []ttlv.Value{ttlv.Struct(kmip.TagNewAttribute,
					ttlv.Text(kmip.TagContactInformation, "a"), ttlv.Text(kmip.TagComment, "b"))},
					want: kmip.ResultReasonInvalidField})
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					id := active
					if tc.preActive {
						id = e.attrsPut(t, attrsObj{})
					}
					before := e.attrsGet(t, id)
					e.clock.Set(e.clock.Now().Add(time.Second))
					fields := []ttlv.Value{attrsUID(id)}
					if tc.fields != nil {
						fields = append(fields, tc.fields...)
					} else {
						fields = append(fields, attrsNew(ver, tc.a))
					}
					p, err := e.attrsCall(context.Background(), ver, kmip.OperationAddAttribute, fields...)
					attrsWantReason(t, err, tc.want)
					after := e.attrsGet(t, id)
					if tc.want != 0 {
						if after.Revision != before.Revision {
							t.Fatal("a refused add changed the object")
						}
						return
					}
					if uid, _ := p.Child(kmip.TagUniqueIdentifier); uid.Text() != id {
						t.Fatalf("unique identifier %q", uid.Text())
					}
					if ver.Is2x() {
						// KMIP 2.0 Table 153: the Unique Identifier only.
						if len(p.Children()) != 1 {
							t.Fatalf("2.x response has %d fields", len(p.Children()))
						}
					} else {
						got := attrsParse(t, ver, p)
						if len(got) != 1 || got[0].Name != tc.a.Name || got[0].Index != tc.wantIndex || !attrValuesEqual(got[0].Value, tc.a.Value) {
							t.Fatalf("echoed %+v, want %s index %d", got, tc.a.Name, tc.wantIndex)
						}
						it, _ := p.Child(kmip.TagAttribute)
						if it.Has(kmip.TagAttributeIndex) != (tc.wantIndex > 0) {
							t.Fatalf("attribute index present: %v, want only when not 0", it.Has(kmip.TagAttributeIndex))
						}
					}
					var stored bool
					for _, a := range after.AttrsNamed(tc.a.Name) {
						stored = stored || a.Index == tc.wantIndex && attrValuesEqual(a.Value, tc.a.Value)
					}
					if !stored {
						t.Fatalf("attribute not stored: %+v", after.AttrsNamed(tc.a.Name))
					}
					lcd, _ := after.Attr(attrLastChangeDate)
					if !lcd.Value.Time().Equal(e.clock.Now()) {
						t.Errorf("last change date %v, want %v", lcd.Value.Time(), e.clock.Now())
					}
				})
			}
		})
	}
}

// TestAddAttributeActivationDatePast checks that adding an Activation
// Date already reached activates the object (KMIP 1.4 §3.22 transition 4).
func TestAddAttributeActivationDatePast(t *testing.T) {
	e := attrsNewEnv(t)
	for _, ver := range attrsVersions {
		id := e.attrsPut(t, attrsObj{})
		_, err := e.attrsCall(context.Background(), ver, kmip.OperationAddAttribute, attrsUID(id),
			attrsNew(ver, attrsA(attrActivationDate, ttlv.DateTime(0, e.clock.Now().Add(-time.Hour)))))
		if err != nil {
			t.Fatal(err)
		}
		o := e.attrsGet(t, id)
		st, _ := o.Attr(attrState)
		if o.State != kmip.StateActive || kmip.State(st.Value.Enum()) != kmip.StateActive {
			t.Fatalf("%s: state %v (attribute %v), want Active", ver, o.State, st.Value.Enum())
		}
		// Now active: the Activation Date is fixed (SKLC-M-3, AKLC-M-3).
		_, err = e.attrsCall(context.Background(), ver, kmip.OperationModifyAttribute, attrsUID(id),
			attrsNew(ver, attrsA(attrActivationDate, ttlv.DateTime(0, e.clock.Now()))))
		attrsWantReason(t, err, kmip.ResultReasonPermissionDenied)
	}
}

// TestAddAttributeLimits checks the server's instance limit (KMIP 1.4
// §11.15 Index Out of Bounds, 2.0 Server Limit Exceeded).
func TestAddAttributeLimits(t *testing.T) {
	e := attrsNewEnv(t)
	var many []kmip.Attribute
	for range maxAttributeInstances {
		many = append(many, attrsA("x-Many", ttlv.Int(0, 1)))
	}
	id := e.attrsPut(t, attrsObj{attrs: many})
	for _, ver := range attrsVersions {
		_, err := e.attrsCall(context.Background(), ver, kmip.OperationAddAttribute, attrsUID(id), attrsNew(ver, attrsA("x-Many", ttlv.Int(0, 2))))
		attrsWantReason(t, err, attrsReason(ver, kmip.ResultReasonIndexOutOfBounds, kmip.ResultReasonServerLimitExceeded))
	}
}

// TestCustomAttributeTypes adds custom attributes of every item type in
// each version and reads them back unchanged, through the other version
// too (1.x "x-name" is 2.x vendor "x", name "name").
func TestCustomAttributeTypes(t *testing.T) {
	e := attrsNewEnv(t)
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	values := []struct {
		name string
		v    ttlv.Value
	}{
		{"x-Integer", ttlv.Int(0, -42)},
		{"x-Long", ttlv.Long(0, math.MaxInt64)},
		{"x-Big", ttlv.BigInt(0, new(big.Int).Lsh(big.NewInt(1), 100))},
		{"x-Enum", ttlv.Enum(0, 0x80000001)},
		{"x-Bool", ttlv.Bool(0, true)},
		{"x-Text", ttlv.Text(0, "Ωmega text")},
		{"x-Bytes", ttlv.Bytes(0, []byte{0, 1, 2, 0xff})},
		{"x-Date", ttlv.DateTime(0, when)},
		{"x-Interval", ttlv.Interval(0, 3600)},
		{"x-Struct", ttlv.Struct(0, ttlv.Text(kmip.TagApplicationNamespace, "ns"), ttlv.Int(kmip.TagCryptographicLength, 7))},
	}
	for _, ver := range attrsVersions {
		id := e.attrsPut(t, attrsObj{})
		for _, c := range values {
			v := c.v
			v.Tag = kmip.TagAttributeValue
			if _, err := e.attrsCall(context.Background(), ver, kmip.OperationAddAttribute, attrsUID(id), attrsNew(ver, kmip.Attribute{Name: c.name, Value: v})); err != nil {
				t.Fatalf("%s add %s: %v", ver, c.name, err)
			}
		}
		for _, readVer := range attrsVersions {
			fields := []ttlv.Value{attrsUID(id)}
			for _, c := range values {
				fields = append(fields, attrsRef(readVer, c.name))
			}
			p, err := e.attrsCall(context.Background(), readVer, kmip.OperationGetAttributes, fields...)
			if err != nil {
				t.Fatal(err)
			}
			got := attrsParse(t, readVer, p)
			if len(got) != len(values) {
				t.Fatalf("added in %s, read in %s: %d attributes, want %d", ver, readVer, len(got), len(values))
			}
			for i, c := range values {
				if got[i].Name != c.name || !attrValuesEqual(got[i].Value, c.v) {
					t.Errorf("added in %s, read in %s: %s = %+v, want %+v", ver, readVer, c.name, got[i], c.v)
				}
			}
		}
	}
}

// TestAddAttributeVCenterBatch replays vCenter's registration: one batch of
// three Add Attribute with text custom attributes.
func TestAddAttributeVCenterBatch(t *testing.T) {
	e := attrsNewEnv(t)
	id := e.attrsPut(t, attrsObj{})
	add := func(n, v string) attrsBatchItem {
		return attrsBatchItem{op: kmip.OperationAddAttribute, fields: []ttlv.Value{attrsUID(id), attrsNew(kmip.V1_1, attrsA(n, ttlv.Text(0, v)))}}
	}
	items := e.attrsMessage(t, nil, kmip.V1_1,
		add("x-Product_Version", "8.0.2"), add("x-Vendor", "VMware, Inc."), add("x-Product", "VMware vCenter Server"))
	if len(items) != 3 {
		t.Fatalf("%d batch items", len(items))
	}
	for i, it := range items {
		if r, _ := attrsItemResult(t, it); r != 0 {
			t.Fatalf("item %d failed: %v", i, r)
		}
	}
	o := e.attrsGet(t, id)
	for _, n := range []string{"x-Product_Version", "x-Vendor", "x-Product"} {
		if _, ok := o.Attr(n); !ok {
			t.Errorf("%s not stored", n)
		}
	}
}

func TestModifyAttribute(t *testing.T) {
	e := attrsNewEnv(t)
	for _, ver := range attrsVersions {
		t.Run(ver.String(), func(t *testing.T) {
			e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{attrsA(attrName, attrsName("taken-m-"+ver.String()))}})
			id := e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{
				attrsA("x-VendorAttribute2", ttlv.Int(0, 0)),
				attrsA("x-Multi", ttlv.Text(0, "a")),
				attrsA("x-Multi", ttlv.Text(0, "b")),
				attrsA(attrName, attrsName("mine-"+ver.String())),
				attrsA(attrSensitive, ttlv.Bool(0, true)),
				attrsA(attrAlwaysSensitive, ttlv.Bool(0, true)),
				attrsA(attrActivationDate, ttlv.DateTime(0, e.clock.Now().Add(time.Hour))),
			}})
			type tcase struct {
				name      string
				a         kmip.Attribute
				cur       *kmip.Attribute // 2.x Current Attribute
				want      kmip.ResultReason
				wantIndex int
			}
			tests := []tcase{
				{name: "custom integer (TL-M-3)", a: attrsA("x-VendorAttribute2", ttlv.Int(0, 1))},
				{name: "activation date while pre-active", a: attrsA(attrActivationDate, ttlv.DateTime(0, e.clock.Now().Add(2*time.Hour)))},
				{name: "same name value is fine", a: attrsA(attrName, attrsName("mine-"+ver.String()))},
				{name: "name used by another object", a: attrsA(attrName, attrsName("taken-m-"+ver.String())),
					want: attrsReason(ver, kmip.ResultReasonIllegalOperation, kmip.ResultReasonNonUniqueNameAttribute)},
				{name: "attribute not there", a: attrsA("x-Absent", ttlv.Int(0, 1)),
					want: attrsReason(ver, kmip.ResultReasonInvalidField, kmip.ResultReasonAttributeNotFound)},
				{name: "read-only", a: attrsA(attrCryptoLength, ttlv.Int(0, 128)),
					want: attrsReason(ver, kmip.ResultReasonPermissionDenied, kmip.ResultReasonAttributeReadOnly)},
				{name: "sensitive off clears always sensitive", a: attrsA(attrSensitive, ttlv.Bool(0, false))},
			}
			if ver.Is2x() {
				b := attrsA("x-Multi", ttlv.Text(0, "b"))
				z := attrsA("x-Multi", ttlv.Text(0, "z"))
				tests = append(tests,
					tcase{name: "several instances, no current", a: attrsA("x-Multi", ttlv.Text(0, "c")), want: kmip.ResultReasonMultiValuedAttribute},
					tcase{name: "instance by current value", a: attrsA("x-Multi", ttlv.Text(0, "c")), cur: &b, wantIndex: 1},
					tcase{name: "current value not there", a: attrsA("x-Multi", ttlv.Text(0, "d")), cur: &z, want: kmip.ResultReasonAttributeInstanceNotFound},
				)
			} else {
				c := attrsA("x-Multi", ttlv.Text(0, "c"))
				c.Index = 1
				d := attrsA("x-Multi", ttlv.Text(0, "d"))
				d.Index = 5
				tests = append(tests,
					tcase{name: "instance by index", a: c, wantIndex: 1},
					tcase{name: "index not there", a: d, want: kmip.ResultReasonItemNotFound},
				)
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					fields := []ttlv.Value{attrsUID(id)}
					if tc.cur != nil {
						fields = append(fields, attrsCurrent(*tc.cur))
					}
					fields = append(fields, attrsNew(ver, tc.a))
					p, err := e.attrsCall(context.Background(), ver, kmip.OperationModifyAttribute, fields...)
					attrsWantReason(t, err, tc.want)
					if tc.want != 0 {
						return
					}
					if ver.Is2x() {
						if len(p.Children()) != 1 {
							t.Fatalf("2.x response has %d fields", len(p.Children()))
						}
					} else {
						// KMIP 1.4 Table 203: the modified attribute, new value.
						got := attrsParse(t, ver, p)
						if len(got) != 1 || got[0].Name != tc.a.Name || got[0].Index != tc.wantIndex || !attrValuesEqual(got[0].Value, tc.a.Value) {
							t.Fatalf("echoed %+v", got)
						}
					}
					o := e.attrsGet(t, id)
					var found bool
					for _, a := range o.AttrsNamed(tc.a.Name) {
						found = found || a.Index == tc.wantIndex && attrValuesEqual(a.Value, tc.a.Value)
					}
					if !found {
						t.Fatalf("not modified: %+v", o.AttrsNamed(tc.a.Name))
					}
				})
			}
			o := e.attrsGet(t, id)
			if as, _ := o.Attr(attrAlwaysSensitive); as.Value.Bool() {
				t.Error("always sensitive still true after sensitive was set false (KMIP 1.4 §3.49)")
			}
			if n := len(o.AttrsNamed("x-Multi")); n != 2 {
				t.Errorf("%d instances of x-Multi after modifications, want 2", n)
			}
		})
	}
}

func TestDeleteAttribute(t *testing.T) {
	e := attrsNewEnv(t)
	for _, ver := range attrsVersions {
		t.Run(ver.String(), func(t *testing.T) {
			id := e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{
				attrsA("x-attribute1", ttlv.Text(0, "Value1")),
				attrsA("x-Multi", ttlv.Text(0, "a")),
				attrsA("x-Multi", ttlv.Text(0, "b")),
				attrsA("x-Multi", ttlv.Text(0, "c")),
				attrsA("x-All", ttlv.Text(0, "1")),
				attrsA("x-All", ttlv.Text(0, "2")),
				attrsA(attrActivationDate, ttlv.DateTime(0, e.clock.Now().Add(time.Hour))),
			}})
			type tcase struct {
				name       string
				fields     []ttlv.Value
				want       kmip.ResultReason
				wantEcho   *kmip.Attribute // 1.x response attribute
				wantLeft   string          // attribute checked afterwards
				wantRemain []string        // its remaining values
			}
			var tests []tcase
			if ver.Is2x() {
				b := attrsA("x-Multi", ttlv.Text(0, "b"))
				q := attrsA("x-Multi", ttlv.Text(0, "q"))
				tests = []tcase{
					{name: "vendor attribute by reference (SKFF-M-9-20)", fields: []ttlv.Value{attrsRef(ver, "x-attribute1")}, wantLeft: "x-attribute1"},
					{name: "one instance by current value", fields: []ttlv.Value{attrsCurrent(b)}, wantLeft: "x-Multi", wantRemain: []string{"a", "c"}},
					{name: "every instance by reference", fields: []ttlv.Value{attrsRef(ver, "x-All")}, wantLeft: "x-All"},
					{name: "current value not there", fields: []ttlv.Value{attrsCurrent(q)}, want: kmip.ResultReasonAttributeInstanceNotFound},
					{name: "attribute not there", fields: []ttlv.Value{attrsRef(ver, "x-Absent")}, want: kmip.ResultReasonAttributeNotFound},
					{name: "always-present attribute", fields: []ttlv.Value{attrsRef(ver, attrCryptoAlgorithm)}, want: kmip.ResultReasonAttributeReadOnly},
					{name: "activation date", fields: []ttlv.Value{attrsRef(ver, attrActivationDate)}, want: kmip.ResultReasonAttributeReadOnly},
					{name: "neither current nor reference", want: kmip.ResultReasonInvalidField},
				}
			} else {
				v1 := attrsA("x-attribute1", ttlv.Text(0, "Value1"))
				b := attrsA("x-Multi", ttlv.Text(0, "b"))
				b.Index = 1
				tests = []tcase{
					{name: "by name (SKFF-M-9-14)", fields: []ttlv.Value{ttlv.Text(kmip.TagAttributeName, "x-attribute1")}, wantEcho: &v1, wantLeft: "x-attribute1"},
					{name: "by name and index", fields: []ttlv.Value{ttlv.Text(kmip.TagAttributeName, "x-Multi"), ttlv.Int(kmip.TagAttributeIndex, 1)},
						wantEcho: &b, wantLeft: "x-Multi", wantRemain: []string{"a", "c"}},
					{name: "index not there", fields: []ttlv.Value{ttlv.Text(kmip.TagAttributeName, "x-Multi"), ttlv.Int(kmip.TagAttributeIndex, 1)}, want: kmip.ResultReasonItemNotFound},
					{name: "attribute not there", fields: []ttlv.Value{ttlv.Text(kmip.TagAttributeName, "x-Absent")}, want: kmip.ResultReasonItemNotFound},
					{name: "always-present attribute", fields: []ttlv.Value{ttlv.Text(kmip.TagAttributeName, attrCryptoAlgorithm)}, want: kmip.ResultReasonPermissionDenied},
					{name: "activation date", fields: []ttlv.Value{ttlv.Text(kmip.TagAttributeName, attrActivationDate)}, want: kmip.ResultReasonPermissionDenied},
					{name: "no attribute name", want: kmip.ResultReasonInvalidField},
				}
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					p, err := e.attrsCall(context.Background(), ver, kmip.OperationDeleteAttribute, append([]ttlv.Value{attrsUID(id)}, tc.fields...)...)
					attrsWantReason(t, err, tc.want)
					if tc.want != 0 {
						return
					}
					if ver.Is2x() && len(p.Children()) != 1 {
						t.Fatalf("2.x response has %d fields", len(p.Children()))
					}
					if tc.wantEcho != nil {
						got := attrsParse(t, ver, p)
						if len(got) != 1 || got[0].Name != tc.wantEcho.Name || got[0].Index != tc.wantEcho.Index || !attrValuesEqual(got[0].Value, tc.wantEcho.Value) {
							t.Fatalf("echoed %+v, want %+v", got, *tc.wantEcho)
						}
					}
					var left []string
					o := e.attrsGet(t, id)
					for _, a := range o.AttrsNamed(tc.wantLeft) {
						left = append(left, a.Value.Text())
					}
					if !slices.Equal(left, tc.wantRemain) {
						t.Fatalf("%s left %q, want %q", tc.wantLeft, left, tc.wantRemain)
					}
				})
			}
			// KMIP 1.4 §2.1.1: the other instances keep their indexes.
			o := e.attrsGet(t, id)
			var idx []int
			for _, a := range o.AttrsNamed("x-Multi") {
				idx = append(idx, a.Index)
			}
			if !slices.Equal(idx, []int{0, 2}) {
				t.Errorf("x-Multi indexes %v, want [0 2]", idx)
			}
		})
	}
}

// TestSetAttribute follows KMIP 2.0 §6.1.47 and the TC-SETATTR vectors.
func TestSetAttribute(t *testing.T) {
	e := attrsNewEnv(t)
	id := e.attrsPut(t, attrsObj{})
	steps := []struct {
		name string
		op   kmip.Operation
		ver  kmip.ProtocolVersion
		a    kmip.Attribute
		want kmip.ResultReason
		vals []string // values of tc:Set afterwards
	}{
		{"set absent vendor attribute adds it", kmip.OperationSetAttribute, kmip.V2_0, attrsA("tc:Set", ttlv.Text(0, "one")), 0, []string{"one"}},
		{"set again replaces it (TC-SETATTR-2)", kmip.OperationSetAttribute, kmip.V2_0, attrsA("tc:Set", ttlv.Text(0, "two")), 0, []string{"two"}},
		{"add makes it multi-valued (TC-SETATTR-3)", kmip.OperationAddAttribute, kmip.V2_0, attrsA("tc:Set", ttlv.Text(0, "three")), 0, []string{"two", "three"}},
		{"set of a multi-valued attribute", kmip.OperationSetAttribute, kmip.V2_0, attrsA("tc:Set", ttlv.Text(0, "four")), kmip.ResultReasonMultiValuedAttribute, []string{"two", "three"}},
		{"sensitive (TC-SETATTR-1)", kmip.OperationSetAttribute, kmip.V2_0, attrsA(attrSensitive, ttlv.Bool(0, true)), 0, []string{"two", "three"}},
		{"read-only", kmip.OperationSetAttribute, kmip.V2_0, attrsA(attrInitialDate, ttlv.DateTime(0, time.Now())), kmip.ResultReasonReadOnlyAttribute, []string{"two", "three"}},
		{"server vendor attribute", kmip.OperationSetAttribute, kmip.V2_0, attrsA("y-Mine", ttlv.Text(0, "v")), kmip.ResultReasonReadOnlyAttribute, []string{"two", "three"}},
		{"not a 1.x operation", kmip.OperationSetAttribute, kmip.V1_4, attrsA("x-Set", ttlv.Text(0, "v")), kmip.ResultReasonOperationNotSupported, []string{"two", "three"}},
	}
	for _, st := range steps {
		p, err := e.attrsCall(context.Background(), st.ver, st.op, attrsUID(id), attrsNew(st.ver, st.a))
		attrsWantReason(t, err, st.want)
		if err == nil && (len(p.Children()) != 1 || !p.Has(kmip.TagUniqueIdentifier)) {
			t.Fatalf("%s: response %+v, want the unique identifier only", st.name, p)
		}
		var vals []string
		for _, a := range e.attrsGet(t, id).AttrsNamed("tc:Set") {
			vals = append(vals, a.Value.Text())
		}
		if !slices.Equal(vals, st.vals) {
			t.Fatalf("%s: values %q, want %q", st.name, vals, st.vals)
		}
	}
	// Read back as the vector does: by vendor attribute reference.
	p, err := e.attrsCall(context.Background(), kmip.V2_0, kmip.OperationGetAttributes, attrsUID(id), attrsRef(kmip.V2_0, attrSensitive))
	if err != nil {
		t.Fatal(err)
	}
	if got := attrsParse(t, kmip.V2_0, p); len(got) != 1 || !got[0].Value.Bool() {
		t.Fatalf("sensitive = %+v", got)
	}
}

// TestAdjustAttribute follows KMIP 2.0 §6.1.3 and Table 390.
func TestAdjustAttribute(t *testing.T) {
	e := attrsNewEnv(t)
	base := e.clock.Now().Add(time.Hour)
	id := e.attrsPut(t, attrsObj{attrs: []kmip.Attribute{
		attrsA("x-Count", ttlv.Int(0, 5)),
		attrsA("x-Long", ttlv.Long(0, 1)),
		attrsA("x-Max", ttlv.Int(0, math.MaxInt32)),
		attrsA("x-Text", ttlv.Text(0, "t")),
		attrsA("x-Two", ttlv.Int(0, 1)),
		attrsA("x-Two", ttlv.Int(0, 2)),
		attrsA(attrActivationDate, ttlv.DateTime(0, base)),
	}})
	adj := func(how kmip.AdjustmentType) ttlv.Value { return ttlv.Enum(kmip.TagAdjustmentType, uint32(how)) }
	val := func(v ttlv.Value) ttlv.Value { v.Tag = kmip.TagAdjustmentValue; return v }
	tests := []struct {
		name   string
		attr   string
		fields []ttlv.Value
		want   kmip.ResultReason
		check  func(v ttlv.Value) bool
	}{
		{"increment by default 1", "x-Count", []ttlv.Value{adj(kmip.AdjustmentTypeIncrement)}, 0, func(v ttlv.Value) bool { return v.Int() == 6 }},
		{"decrement by 10", "x-Count", []ttlv.Value{adj(kmip.AdjustmentTypeDecrement), val(ttlv.Int(0, 10))}, 0, func(v ttlv.Value) bool { return v.Int() == -4 }},
		{"negate", "x-Count", []ttlv.Value{adj(kmip.AdjustmentTypeNegate)}, 0, func(v ttlv.Value) bool { return v.Int() == 4 }},
		{"long by a long", "x-Long", []ttlv.Value{adj(kmip.AdjustmentTypeIncrement), val(ttlv.Long(0, 1<<40))}, 0, func(v ttlv.Value) bool { return v.Long() == 1<<40+1 }},
		{"date by an interval", attrActivationDate, []ttlv.Value{adj(kmip.AdjustmentTypeIncrement), val(ttlv.Interval(0, 60))}, 0,
			func(v ttlv.Value) bool { return v.Time().Equal(base.Add(time.Minute)) }},
		{"absent boolean counts as false", attrSensitive, []ttlv.Value{adj(kmip.AdjustmentTypeNegate)}, 0, func(v ttlv.Value) bool { return v.Bool() }},
		{"overflow", "x-Max", []ttlv.Value{adj(kmip.AdjustmentTypeIncrement)}, kmip.ResultReasonNumericRange, nil},
		{"text", "x-Text", []ttlv.Value{adj(kmip.AdjustmentTypeIncrement)}, kmip.ResultReasonInvalidDataType, nil},
		{"negate a date", attrActivationDate, []ttlv.Value{adj(kmip.AdjustmentTypeNegate)}, kmip.ResultReasonInvalidDataType, nil},
		{"text adjustment value", "x-Count", []ttlv.Value{adj(kmip.AdjustmentTypeIncrement), val(ttlv.Text(0, "1"))}, kmip.ResultReasonInvalidDataType, nil},
		{"multi-valued", "x-Two", []ttlv.Value{adj(kmip.AdjustmentTypeIncrement)}, kmip.ResultReasonMultiValuedAttribute, nil},
		{"absent custom", "x-Absent", []ttlv.Value{adj(kmip.AdjustmentTypeIncrement)}, kmip.ResultReasonItemNotFound, nil},
		{"read-only", attrCryptoLength, []ttlv.Value{adj(kmip.AdjustmentTypeIncrement)}, kmip.ResultReasonReadOnlyAttribute, nil},
		{"no adjustment type", "x-Count", nil, kmip.ResultReasonInvalidField, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := append([]ttlv.Value{attrsUID(id), attrsRef(kmip.V2_0, tc.attr)}, tc.fields...)
			p, err := e.attrsCall(context.Background(), kmip.V2_0, kmip.OperationAdjustAttribute, fields...)
			attrsWantReason(t, err, tc.want)
			if err != nil {
				return
			}
			if len(p.Children()) != 1 {
				t.Fatalf("response has %d fields", len(p.Children()))
			}
			a, ok := e.attrsGet(t, id).Attr(tc.attr)
			if !ok || !tc.check(a.Value) {
				t.Fatalf("%s = %+v", tc.attr, a)
			}
		})
	}
	_, err := e.attrsCall(context.Background(), kmip.V1_4, kmip.OperationAdjustAttribute, attrsUID(id), attrsRef(kmip.V1_4, "x-Count"))
	attrsWantReason(t, err, kmip.ResultReasonOperationNotSupported)
}

// TestNameUniquePerTenant checks that a Name is unique within a tenant
// (the key management domain of KMIP 1.4 §3.2), not across tenants.
func TestNameUniquePerTenant(t *testing.T) {
	e := attrsNewEnv(t)
	e.attrsPut(t, attrsObj{tenant: "t1", attrs: []kmip.Attribute{attrsA(attrName, attrsName("shared"))}})
	a := e.attrsPut(t, attrsObj{tenant: "t2"})
	b := e.attrsPut(t, attrsObj{tenant: "t2"})
	ctx := attrsTenantCtx("t2", "carol")
	for _, ver := range attrsVersions {
		name := attrsA(attrName, attrsName("shared-"+ver.String()))
		e.attrsPut(t, attrsObj{tenant: "t1", attrs: []kmip.Attribute{name}})
		_, err := e.attrsCall(ctx, ver, kmip.OperationAddAttribute, attrsUID(a), attrsNew(ver, name))
		attrsWantReason(t, err, 0)
		_, err = e.attrsCall(ctx, ver, kmip.OperationAddAttribute, attrsUID(b), attrsNew(ver, name))
		attrsWantReason(t, err, attrsReason(ver, kmip.ResultReasonIllegalOperation, kmip.ResultReasonNonUniqueNameAttribute))
	}
}
