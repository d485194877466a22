package service

import (
	"bytes"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Tests of Export and Import (KMIP 2.0 §6.1.18, §6.1.24) over SoftHSM.

// impexpKey is the AES-128 key the tests register and import.
var impexpKey = []byte("0123456789abcdef")

// impexpSymmetric is a Symmetric Key structure holding key.
func impexpSymmetric(key []byte) ttlv.Value {
	return ttlv.Struct(kmip.TagSymmetricKey,
		creationKeyBlock(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, key), kmip.CryptographicAlgorithmAES, int32(len(key)*8)))
}

// impexpImport builds the fields of an Import of a symmetric key.
func impexpImport(id string, replace bool, key []byte, attrs ...kmip.Attribute) []ttlv.Value {
	return []ttlv.Value{
		creationUID(id),
		creationOT(kmip.ObjectTypeSymmetricKey),
		ttlv.Bool(kmip.TagReplaceExisting, replace),
		creationTemplate(kmip.V2_0, attrs...),
		impexpSymmetric(key),
	}
}

// impexpExportParts splits an Export response payload into its
// attributes (by name, first instance) and its object structure.
func impexpExportParts(t *testing.T, p ttlv.Value) (map[string]ttlv.Value, ttlv.Value, bool) {
	t.Helper()
	c := p.Children()
	if len(c) < 3 || c[0].Tag != kmip.TagObjectType || c[1].Tag != kmip.TagUniqueIdentifier || c[2].Tag != kmip.TagAttributes {
		t.Fatalf("export payload %v: want Object Type, Unique Identifier, Attributes, object", p)
	}
	attrs, err := kmip.ParseAttributes(c[2])
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ttlv.Value{}
	for _, a := range attrs {
		if _, ok := byName[a.Name]; !ok {
			byName[a.Name] = a.Value
		}
	}
	if len(c) == 3 {
		return byName, ttlv.Value{}, false
	}
	return byName, c[3], true
}

func TestImpExpExport(t *testing.T) {
	ver := kmip.V2_0
	tests := []struct {
		name       string
		attrs      []kmip.Attribute
		destroy    bool
		wantReason kmip.ResultReason // 0: success
		wantObject bool
	}{
		{name: "plain key", wantObject: true},
		{name: "sensitive key", attrs: []kmip.Attribute{creationBool(attrSensitive, true)}, wantReason: kmip.ResultReasonSensitive},
		{name: "non-extractable key", attrs: []kmip.Attribute{creationBool(attrExtractable, false)}, wantReason: kmip.ResultReasonNotExtractable},
		{name: "destroyed key: attributes only", destroy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCreationEnv(t)
			id := e.registerSymmetric(t, ver, kmip.CryptographicAlgorithmAES, impexpKey, append([]kmip.Attribute{creationMask(kmip.CryptographicUsageMaskEncrypt)}, tt.attrs...)...)
			if tt.destroy {
				e.must(t, ver, kmip.OperationDestroy, creationUID(id))
			}
			p, err := e.call(ver, kmip.OperationExport, creationUID(id))
			if tt.wantReason != 0 {
				creationReason(t, err, tt.wantReason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			attrs, obj, hasObj := impexpExportParts(t, p)
			if hasObj != tt.wantObject {
				t.Fatalf("export returned an object: %v, want %v", hasObj, tt.wantObject)
			}
			if got := attrs[attrUniqueIdentifier]; got.Text() != id {
				t.Errorf("Unique Identifier attribute %v, want %s", got, id)
			}
			for _, n := range []string{attrState, attrInitialDate, attrDigest, attrCryptoAlgorithm} {
				if _, ok := attrs[n]; !ok {
					t.Errorf("export lacks attribute %s", n)
				}
			}
			if hasObj {
				if _, m := creationMaterial(t, obj); !bytes.Equal(m.Bytes(), impexpKey) {
					t.Errorf("exported key material differs from the registered key")
				}
			}
			// Export copies the object; it does not serve it (TC-IMPEXP-3).
			if !tt.destroy && !creationAttrValue(t, e.object(t, id), attrFresh).Bool() {
				t.Errorf("Export cleared Fresh")
			}
		})
	}
}

func TestImpExpImport(t *testing.T) {
	ver := kmip.V2_0
	initial := time.Date(2018, 12, 19, 9, 24, 26, 0, time.UTC)
	activation := time.Date(2000, 2, 1, 14, 0, 0, 0, time.UTC)
	otherKey := []byte("fedcba9876543210")
	tests := []struct {
		name string
		// existing registers an object first; the import targets its id.
		existing   bool
		replace    bool
		attrs      func(id string) []kmip.Attribute
		wantReason kmip.ResultReason
		wantState  kmip.State
	}{
		{name: "new identifier, attributes kept verbatim", attrs: func(id string) []kmip.Attribute {
			return []kmip.Attribute{
				creationA(attrUniqueIdentifier, ttlv.Text(0, id)),
				creationMask(kmip.CryptographicUsageMaskEncrypt),
				creationDate(attrInitialDate, initial),
				creationDate(attrLastChangeDate, initial),
				creationDate(attrActivationDate, activation),
				creationA(attrState, ttlv.Enum(0, uint32(kmip.StateActive))),
			}
		}, wantState: kmip.StateActive},
		{name: "existing identifier without Replace Existing", existing: true, attrs: func(string) []kmip.Attribute {
			return []kmip.Attribute{creationMask(kmip.CryptographicUsageMaskEncrypt)}
		}, wantReason: kmip.ResultReasonObjectAlreadyExists},
		{name: "existing identifier replaced", existing: true, replace: true, attrs: func(string) []kmip.Attribute {
			return []kmip.Attribute{creationMask(kmip.CryptographicUsageMaskEncrypt), creationDate(attrInitialDate, initial)}
		}, wantState: kmip.StatePreActive},
		{name: "Unique Identifier attribute contradicts the request", attrs: func(string) []kmip.Attribute {
			return []kmip.Attribute{creationA(attrUniqueIdentifier, ttlv.Text(0, "someone-else"))}
		}, wantReason: kmip.ResultReasonInvalidField},
		{name: "Object Type attribute contradicts the request", attrs: func(string) []kmip.Attribute {
			return []kmip.Attribute{creationA(attrObjectType, ttlv.Enum(0, uint32(kmip.ObjectTypeSecretData)))}
		}, wantReason: kmip.ResultReasonInvalidField},
		{name: "destroyed state refused", attrs: func(string) []kmip.Attribute {
			return []kmip.Attribute{creationA(attrState, ttlv.Enum(0, uint32(kmip.StateDestroyed)))}
		}, wantReason: kmip.ResultReasonInvalidAttributeValue},
		{name: "server-set attribute of the wrong type", attrs: func(string) []kmip.Attribute {
			return []kmip.Attribute{creationA(attrInitialDate, ttlv.Text(0, "yesterday"))}
		}, wantReason: kmip.ResultReasonInvalidAttributeValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCreationEnv(t)
			id := "imported-key-1"
			if tt.existing {
				id = e.registerSymmetric(t, ver, kmip.CryptographicAlgorithmAES, impexpKey, creationMask(kmip.CryptographicUsageMaskEncrypt))
			}
			p, err := e.call(ver, kmip.OperationImport, impexpImport(id, tt.replace, otherKey, tt.attrs(id)...)...)
			if tt.wantReason != 0 {
				creationReason(t, err, tt.wantReason)
				if tt.existing {
					// The existing object is left as it was.
					if _, m := creationMaterial(t, e.get(t, ver, id)); !bytes.Equal(m.Bytes(), impexpKey) {
						t.Errorf("a refused import changed the existing key")
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := creationID(t, p); got != id {
				t.Fatalf("import answered %s, want the client's %s", got, id)
			}
			o := e.object(t, id)
			if o.State != tt.wantState {
				t.Errorf("state %v, want %v", o.State, tt.wantState)
			}
			if got := creationAttrValue(t, o, attrInitialDate).Time(); !got.Equal(initial) {
				t.Errorf("Initial Date %v, want the imported %v", got, initial)
			}
			// The material is stored wrapped by the HSM, never in clear.
			if o.Wrapped == nil || bytes.Contains(o.Public, otherKey) {
				t.Errorf("imported key not stored wrapped (wrapped %v)", o.Wrapped != nil)
			}
			if _, m := creationMaterial(t, e.get(t, ver, id)); !bytes.Equal(m.Bytes(), otherKey) {
				t.Errorf("Get after import returns other material than imported")
			}
		})
	}
}

// TestImpExpRoundTrip exports a key, destroys it and imports the export
// again under the same identifier (TC-IMPEXP-4).
func TestImpExpRoundTrip(t *testing.T) {
	ver := kmip.V2_0
	e := newCreationEnv(t)
	id := e.registerSymmetric(t, ver, kmip.CryptographicAlgorithmAES, impexpKey, creationMask(kmip.CryptographicUsageMaskEncrypt))
	exp := e.must(t, ver, kmip.OperationExport, creationUID(id)).Children()
	before := e.object(t, id)
	e.must(t, ver, kmip.OperationDestroy, creationUID(id))
	e.must(t, ver, kmip.OperationImport, exp[1], exp[0], ttlv.Bool(kmip.TagReplaceExisting, true), exp[2], exp[3])
	after := e.object(t, id)
	if after.State != kmip.StatePreActive {
		t.Errorf("state %v after import, want the exported Pre-Active", after.State)
	}
	for _, n := range []string{attrInitialDate, attrLastChangeDate, attrDigest, attrCryptoUsageMask} {
		if !attrValuesEqual(creationAttrValue(t, before, n), creationAttrValue(t, after, n)) {
			t.Errorf("%s changed across export and import", n)
		}
	}
	if _, m := creationMaterial(t, e.get(t, ver, id)); !bytes.Equal(m.Bytes(), impexpKey) {
		t.Errorf("Get after re-import returns other material")
	}
}
