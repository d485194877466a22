package kmip

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kmipd/kmipd/ttlv"
)

// vectorsDir holds the OASIS XML test vectors (see
// /work/shared/conformance/README.md).
const vectorsDir = "/work/shared/conformance/testcases"

// TestVectorNames walks every OASIS XML test vector and checks that the
// tables know every name in it: each element is a tag, each Enumeration
// value an enumeration value of its tag (or of the attribute named by a 1.x
// Attribute Name), each symbolic Integer a set of mask bits; each tag is
// defined in the protocol version of its message; and each 1.x Attribute
// Name and 2.x Attribute Reference is an attribute of that version.
func TestVectorNames(t *testing.T) {
	if _, err := os.Stat(vectorsDir); err != nil {
		t.Skipf("no conformance vectors at %s (%v): the name tables are not checked against them", vectorsDir, err)
	}
	names := NewNames()
	var files, items int
	err := filepath.WalkDir(vectorsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".xml") {
			return err
		}
		files++
		n, err := checkVectorFile(t, names, path)
		items += n
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no *.xml under %s", vectorsDir)
	}
	t.Logf("%d files, %d items resolved", files, items)
}

// level is an open element of a vector file.
type level struct {
	tag      ttlv.Tag
	children []ttlv.Value // earlier siblings of the next child, for ValueTag
}

// message collects what one Request/Response Message needs for the version
// checks, which can only run once its Protocol Version has been read.
type message struct {
	major, minor       int32
	hasMajor, hasMinor bool
	tags               map[ttlv.Tag]bool
	attrNames          []string   // 1.x Attribute Names outside Vendor Attributes
	attrRefs           []ttlv.Tag // 2.x Attribute References
	enums              []enumUse
}

type enumUse struct {
	tag ttlv.Tag
	v   uint32
}

func checkVectorFile(t *testing.T, names *Names, path string) (int, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rel, _ := filepath.Rel(vectorsDir, path)
	dec := xml.NewDecoder(f)
	var (
		stack []level
		msg   *message
		items int
	)
	fail := func(format string, args ...any) {
		line, _ := dec.InputPos()
		t.Errorf("%s:%d: %s", rel, line, fmt.Sprintf(format, args...))
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return items, fmt.Errorf("%s: %w", rel, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				// <KMIP>, or <KmipTestCase> in the extracted 1.0-1.2 set.
				stack = append(stack, level{})
				continue
			}
			items++
			tag, ok := names.TagByName(tok.Name.Local)
			if !ok {
				fail("element %s is not a tag", tok.Name.Local)
			}
			if tag == TagRequestMessage || tag == TagResponseMessage {
				msg = &message{tags: map[ttlv.Tag]bool{}}
			}
			if msg != nil {
				msg.tags[tag] = true
			}
			var typ, val string
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "type":
					typ = a.Value
				case "value":
					val = a.Value
				}
			}
			parent := &stack[len(stack)-1]
			vt := names.ValueTag(tag, parent.children)
			item := ttlv.Value{Tag: tag}
			switch typ {
			case "TextString":
				item = ttlv.Text(tag, val)
			case "Enumeration":
				v, ok := enumValue(names, vt, val)
				if !ok {
					fail("%s value %q is not a value of %s", tok.Name.Local, val, TagString(vt))
				} else if msg != nil {
					msg.enums = append(msg.enums, enumUse{vt, v})
					if tag == TagAttributeReference {
						msg.attrRefs = append(msg.attrRefs, ttlv.Tag(v))
					}
				}
			case "Integer":
				if _, err := strconv.ParseInt(val, 10, 32); err == nil {
					break
				}
				if v, ok := maskValue(names, vt, val); !ok {
					fail("%s value %q is not a mask of %s", tok.Name.Local, val, TagString(vt))
				} else if msg != nil {
					msg.enums = append(msg.enums, enumUse{vt, v})
				}
			}
			if msg != nil && typ == "Integer" && tag == TagProtocolVersionMajor && !msg.hasMajor {
				msg.major, msg.hasMajor = atoi32(val), true
			}
			if msg != nil && typ == "Integer" && tag == TagProtocolVersionMinor && !msg.hasMinor {
				msg.minor, msg.hasMinor = atoi32(val), true
			}
			if msg != nil && tag == TagAttributeName && typ == "TextString" && !hasTag(parent.children, TagVendorIdentification) {
				msg.attrNames = append(msg.attrNames, val)
			}
			parent.children = append(parent.children, item)
			stack = append(stack, level{tag: tag})
		case xml.EndElement:
			if len(stack) == 0 {
				continue
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				// KMIP 1.4 TC-ECDSA-SIGN-1-14.xml closes </KMIP> twice:
				// stop at the first.
				return items, nil
			}
			if n := tok.Name.Local; msg != nil && (n == "RequestMessage" || n == "ResponseMessage") {
				checkMessageVersions(t, rel, msg)
				msg = nil
			}
		}
	}
}

func hasTag(vs []ttlv.Value, tag ttlv.Tag) bool {
	for _, v := range vs {
		if v.Tag == tag {
			return true
		}
	}
	return false
}

func atoi32(s string) int32 {
	n, _ := strconv.ParseInt(s, 10, 32)
	return int32(n)
}

// enumValue reads an Enumeration value as the XML encoding writes it: a
// name, or a hex number for extensions.
func enumValue(names *Names, tag ttlv.Tag, s string) (uint32, bool) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		v, err := strconv.ParseUint(h, 16, 32)
		return uint32(v), err == nil
	}
	return names.EnumByName(tag, s)
}

// maskValue reads a symbolic mask: bit names (or hex numbers) separated by
// white space.
func maskValue(names *Names, tag ttlv.Tag, s string) (uint32, bool) {
	bits := names.MaskBits(tag)
	if bits == nil {
		return 0, false
	}
	var v uint32
next:
	for _, f := range strings.Fields(s) {
		if h, ok := strings.CutPrefix(f, "0x"); ok {
			n, err := strconv.ParseUint(h, 16, 32)
			if err != nil {
				return 0, false
			}
			v |= uint32(n)
			continue
		}
		for _, b := range bits {
			if b.Name == f {
				v |= b.Value
				continue next
			}
		}
		return 0, false
	}
	return v, true
}

// checkMessageVersions checks a message against its own Protocol Version.
func checkMessageVersions(t *testing.T, file string, m *message) {
	t.Helper()
	if !m.hasMajor {
		t.Errorf("%s: message without a protocol version", file)
		return
	}
	for tag := range m.tags {
		if !TagDefinedIn(tag, m.major, m.minor) {
			t.Errorf("%s: tag %s used in a %d.%d message, defined %s", file, TagString(tag), m.major, m.minor, tagSpan(tag))
		}
	}
	for _, name := range m.attrNames {
		if strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "y-") || m.major >= 2 {
			continue // 1.x custom attributes (1.4 §3.39); in 2.x a vendor's name
		}
		a, ok := AttributeByName(strings.Join(strings.Fields(name), " "))
		switch {
		case !ok:
			t.Errorf("%s: Attribute Name %q is not an attribute", file, name)
		case !a.DefinedIn(m.major, m.minor):
			t.Errorf("%s: attribute %q used in a %d.%d message, defined %s-%s", file, name, m.major, m.minor, a.Since, a.Until)
		}
	}
	for _, tag := range m.attrRefs {
		a, ok := AttributeByTag(tag)
		switch {
		case !ok:
			t.Errorf("%s: Attribute Reference %s is not an attribute", file, TagString(tag))
		case !a.DefinedIn(m.major, m.minor):
			t.Errorf("%s: attribute %q referenced in a %d.%d message, defined %s-%s", file, a.Name, m.major, m.minor, a.Since, a.Until)
		}
	}
	for _, u := range m.enums {
		if u.v&0x80000000 != 0 && !isMaskTag(u.tag) {
			continue // extension value
		}
		v := u.v
		for _, d := range vectorDeviations {
			if d.file == file && d.tag == u.tag {
				v &^= d.bits
			}
		}
		if !EnumDefinedIn(u.tag, v, m.major, m.minor) {
			t.Errorf("%s: %s value 0x%08X used in a %d.%d message", file, TagString(u.tag), u.v, m.major, m.minor)
		}
	}
}

// vectorDeviations are values the vectors use in a version whose
// specification no longer defines them. The names still resolve; only the
// version check is waived.
var vectorDeviations = []struct {
	file string
	tag  ttlv.Tag
	bits uint32
}{
	// 2.0 §12.1 reserves Content Commitment (0x400, 1.4 §9.1.3.3.1); the
	// 2.0 test cases (CND02) still set it on certificates' keys.
	{"kmip-2.0/testcases/TC-CERTATTR-1-20.xml", TagCryptographicUsageMask, 0x400},
	{"kmip-2.0/testcases/TC-PKCS12-1-20.xml", TagCryptographicUsageMask, 0x400},
}

func isMaskTag(t ttlv.Tag) bool {
	e, ok := lookupTag(t)
	return ok && e.enum != nil && e.enum.mask
}

func tagSpan(t ttlv.Tag) string {
	info, ok := LookupTag(t)
	if !ok {
		return "nowhere"
	}
	if info.Until == 0 {
		return info.Since.String() + "-"
	}
	return info.Since.String() + "-" + info.Until.String()
}

func TestTagNames(t *testing.T) {
	names := NewNames()
	tests := []struct {
		tag  ttlv.Tag
		name string
	}{
		{TagActivationDate, "ActivationDate"},
		{TagUniqueBatchItemID, "UniqueBatchItemID"},
		{TagIVCounterNonce, "IVCounterNonce"},
		{TagMACData, "MACData"},
		{TagMACSignatureKeyInformation, "MACSignatureKeyInformation"},
		{TagPrivateKeyUniqueIdentifier, "PrivateKeyUniqueIdentifier"},
		{TagX509CertificateIdentifier, "X_509CertificateIdentifier"},
		{TagPKCS12FriendlyName, "PKCS_12FriendlyName"},
		{TagPKCS11Function, "PKCS_11Function"},
		{TagCommonTemplateAttribute, "CommonTemplateAttribute"},
		{TagCRTCoefficient, "CRTCoefficient"},
		{TagFIPS186Variation, "FIPS186Variation"},
		{TagAsynchronousCorrelationValues, "AsynchronousCorrelationValues"},
	}
	for _, tt := range tests {
		got, ok := names.TagName(tt.tag)
		if !ok || got != tt.name {
			t.Errorf("TagName(0x%06X) = %q, %t; want %q", uint32(tt.tag), got, ok, tt.name)
		}
		tag, ok := names.TagByName(tt.name)
		if !ok || tag != tt.tag {
			t.Errorf("TagByName(%q) = 0x%06X, %t; want 0x%06X", tt.name, uint32(tag), ok, uint32(tt.tag))
		}
	}
	for _, tag := range []ttlv.Tag{0, 0x420000, 0x420137, 0x42013E, 0x420177, 0x540000, 0xFFFFFF, 0xFFFFFFFF} {
		if name, ok := names.TagName(tag); ok {
			t.Errorf("TagName(0x%06X) = %q, want none", uint32(tag), name)
		}
		if s := TagString(tag); !strings.HasPrefix(s, "0x") {
			t.Errorf("TagString(0x%06X) = %q, want hex", uint32(tag), s)
		}
	}
	for _, name := range []string{"", "Activation Date", "activationDate", "ActivationDateX", "0x420001"} {
		if tag, ok := names.TagByName(name); ok {
			t.Errorf("TagByName(%q) = 0x%06X, want none", name, uint32(tag))
		}
	}
}

func TestEnumNames(t *testing.T) {
	names := NewNames()
	tests := []struct {
		tag   ttlv.Tag
		v     uint32
		name  string   // printed
		alias []string // also accepted
	}{
		{TagObjectType, uint32(ObjectTypeSymmetricKey), "SymmetricKey", nil},
		{TagOperation, uint32(OperationCreateKeyPair), "CreateKeyPair", nil},
		{TagOperation, uint32(OperationReKeyKeyPair), "ReKeyKeyPair", nil},
		{TagOperation, uint32(OperationPKCS11), "PKCS_11", nil},
		{TagHashingAlgorithm, uint32(HashingAlgorithmSHA256), "SHA_256", nil},
		{TagHashingAlgorithm, uint32(HashingAlgorithmSHA3256), "SHA3_256", []string{"SHA_3_256"}},
		{TagMaskGeneratorHashingAlgorithm, uint32(HashingAlgorithmSHA512), "SHA_512", nil},
		{TagKeyFormatType, uint32(KeyFormatTypePKCS1), "PKCS_1", nil},
		{TagCertificateType, uint32(CertificateTypeX509), "X_509", nil},
		{TagRNGAlgorithm, uint32(RNGAlgorithmANSIX931), "ANSIX9_31", nil},
		{TagCryptographicAlgorithm, uint32(CryptographicAlgorithmHMACSHA256), "HMAC_SHA256", nil},
		{TagCryptographicAlgorithm, uint32(CryptographicAlgorithmDES3), "DES3", nil},
		{TagSplitKeyMethod, uint32(SplitKeyMethodPolynomialSharingGF28), "PolynomialSharingGF2_8", nil},
		{TagProfileName, uint32(ProfileNameTapeLibraryServerKMIPV10), "TapeLibraryServerKMIPV1_0", nil},
		{TagPKCS11Function, uint32(PKCS11FunctionCInitialize), "C_Initialize", nil},
		{TagPKCS11ReturnCode, uint32(PKCS11ReturnCodeOK), "OK", nil},
		{TagMaskGenerator, uint32(MaskGeneratorMGF1), "MGF1", []string{"MFG1"}},
		{TagResultReason, uint32(ResultReasonObjectArchived), "ObjectArchived", nil},
		{TagResultReason, uint32(ResultReasonNotAuthorised), "NotAuthorised", []string{"NotAuthorized"}},
		{TagDigitalSignatureAlgorithm, uint32(DigitalSignatureAlgorithmSHA256WithRSAEncryption), "SHA_256WithRSAEncryption",
			[]string{"SHA_256WithRSAEncryptionPKCS_1V1_5"}},
		{TagAsynchronousIndicator, uint32(AsynchronousIndicatorMandatory), "Mandatory", nil},
		{TagLinkedObjectIdentifier, uint32(UniqueIdentifierIDPlaceholder), "IDPlaceholder", nil},
		{TagExtensionType, uint32(ItemTypeDateTimeExtended), "DateTimeExtended", nil},
		{TagAttributeReference, uint32(TagCryptographicUsageMask), "CryptographicUsageMask", nil},
		{TagAttributeReference, uint32(TagX509CertificateSubject), "X_509CertificateSubject", nil},
	}
	for _, tt := range tests {
		got, ok := names.EnumName(tt.tag, tt.v)
		if !ok || got != tt.name {
			t.Errorf("EnumName(%s, 0x%08X) = %q, %t; want %q", TagString(tt.tag), tt.v, got, ok, tt.name)
		}
		for _, n := range append([]string{tt.name}, tt.alias...) {
			v, ok := names.EnumByName(tt.tag, n)
			if !ok || v != tt.v {
				t.Errorf("EnumByName(%s, %q) = 0x%08X, %t; want 0x%08X", TagString(tt.tag), n, v, ok, tt.v)
			}
		}
	}
	bad := []struct {
		tag  ttlv.Tag
		v    uint32
		name string
	}{
		{TagObjectType, 0x80000001, "0x80000001"},         // extension: the codec prints hex
		{TagObjectType, 0, "symmetricKey"},                // names are case-sensitive
		{TagActivationDate, 1, "SymmetricKey"},            // not an enumeration
		{TagCryptographicUsageMask, 4, "Encrypt"},         // a mask, not an enumeration
		{TagOpaqueDataType, 1, "Opaque"},                  // extensions only
		{TagAttributeReference, 0x420137, "Reserved"},     // unassigned tag
		{TagAttributeValue, 1, "SymmetricKey"},            // depends on the Attribute Name
		{ttlv.Tag(0x540001), 1, "SymmetricKey"},           // unknown tag
		{TagUniqueIdentifier, 0xFFFFFFFF, "IDPlaceholde"}, // near miss
	}
	for _, tt := range bad {
		if got, ok := names.EnumName(tt.tag, tt.v); ok {
			t.Errorf("EnumName(%s, 0x%08X) = %q, want none", TagString(tt.tag), tt.v, got)
		}
		if got, ok := names.EnumByName(tt.tag, tt.name); ok {
			t.Errorf("EnumByName(%s, %q) = 0x%08X, want none", TagString(tt.tag), tt.name, got)
		}
	}
}

func TestMaskBits(t *testing.T) {
	names := NewNames()
	tests := []struct {
		tag  ttlv.Tag
		bits map[string]uint32 // a sample
		n    int
	}{
		{TagCryptographicUsageMask, map[string]uint32{"Sign": 1, "Encrypt": 4, "WrapKey": 0x10, "MACGenerate": 0x80,
			"ContentCommitment": 0x400, "CRLSign": 0x2000, "FPEDecrypt": 0x800000}, 24},
		{TagStorageStatusMask, map[string]uint32{"OnLineStorage": 1, "ArchivalStorage": 2, "DestroyedStorage": 4}, 3},
		{TagProtectionStorageMask, map[string]uint32{"Software": 1, "SameJurisdiction": 0x2000}, 14},
		{TagObjectType, nil, 0},
		{TagCryptographicLength, nil, 0},
	}
	for _, tt := range tests {
		bits := names.MaskBits(tt.tag)
		if len(bits) != tt.n {
			t.Errorf("MaskBits(%s) has %d bits, want %d", TagString(tt.tag), len(bits), tt.n)
		}
		got := map[string]uint32{}
		for _, b := range bits {
			got[b.Name] = b.Value
		}
		for name, v := range tt.bits {
			if got[name] != v {
				t.Errorf("MaskBits(%s)[%s] = 0x%X, want 0x%X", TagString(tt.tag), name, got[name], v)
			}
		}
	}
}

func TestEnumString(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		want string
	}{
		{OperationCreate, "Create"},
		{ResultReasonItemNotFound, "ItemNotFound"},
		{Operation(0x80000001), "0x80000001"},
		{State(0), "0x00000000"},
		{CryptographicUsageMaskEncrypt | CryptographicUsageMaskDecrypt, "Encrypt Decrypt"},
		{CryptographicUsageMask(0), "0x00000000"},
		{CryptographicUsageMaskSign | 0x40000000, "Sign 0x40000000"},
		{StorageStatusMaskOnLineStorage, "OnLineStorage"},
		{OpaqueDataType(0x80000001), "0x80000001"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%T(%d).String() = %q, want %q", tt.v, tt.v, got, tt.want)
		}
	}
}

func TestTagDefinedIn(t *testing.T) {
	tests := []struct {
		tag          ttlv.Tag
		major, minor int32
		want         bool
	}{
		{TagActivationDate, 1, 0, true},
		{TagActivationDate, 2, 1, true},
		{TagActivationDate, 3, 0, true}, // newer than the tables: as 2.1
		{TagTemplateAttribute, 1, 4, true},
		{TagTemplateAttribute, 2, 0, false},
		{TagAttributeIndex, 2, 0, false},
		{TagAttributeName, 2, 0, true}, // Vendor Attribute keeps it
		{TagOperationPolicyName, 1, 4, true},
		{TagOperationPolicyName, 2, 0, false},
		{TagPassword, 1, 0, true},
		{TagDeviceIdentifier, 1, 0, false},
		{TagFresh, 1, 0, false},
		{TagFresh, 1, 1, true},
		{TagX509CertificateSubject, 1, 1, true},
		{TagKeyValueLocation, 1, 1, false},
		{TagOriginalCreationDate, 1, 2, true},
		{TagAttestationCapableIndicator, 1, 2, true},
		{TagOffsetItems, 1, 2, false},
		{TagOffsetItems, 1, 3, true},
		{TagCapabilityInformation, 1, 3, true},
		{TagKeyWrapType, 1, 3, false},
		{TagSensitive, 1, 3, false},
		{TagSensitive, 1, 4, true},
		{TagReplaceExisting, 1, 4, true},
		{TagAttributes, 1, 4, false},
		{TagAttributes, 2, 0, true},
		{TagRotateDate, 2, 0, false},
		{TagRotateDate, 2, 1, true},
		{TagActivationDate, 0, 9, false},
		{TagActivationDate, -1, 0, false},
		{TagActivationDate, 1, -1, false},
		{TagActivationDate, 1, 100, false},
		{0x420137, 2, 0, false},
		{0x540001, 2, 0, false},
	}
	for _, tt := range tests {
		if got := TagDefinedIn(tt.tag, tt.major, tt.minor); got != tt.want {
			t.Errorf("TagDefinedIn(%s, %d, %d) = %t, want %t", TagString(tt.tag), tt.major, tt.minor, got, tt.want)
		}
	}
}

func TestEnumDefinedIn(t *testing.T) {
	tests := []struct {
		tag          ttlv.Tag
		v            uint32
		major, minor int32
		want         bool
	}{
		{TagObjectType, uint32(ObjectTypeTemplate), 1, 4, true},
		{TagObjectType, uint32(ObjectTypeTemplate), 2, 0, false},
		{TagObjectType, uint32(ObjectTypeCertificateRequest), 1, 4, false},
		{TagObjectType, uint32(ObjectTypeCertificateRequest), 2, 0, true},
		{TagOperation, uint32(OperationPing), 2, 0, false},
		{TagOperation, uint32(OperationPing), 2, 1, true},
		{TagResultReason, uint32(ResultReasonIllegalOperation), 1, 4, true},
		{TagResultReason, uint32(ResultReasonIllegalOperation), 2, 0, false},
		{TagHashingAlgorithm, uint32(HashingAlgorithmSHA3256), 1, 4, true}, // renamed, not removed
		{TagHashingAlgorithm, uint32(HashingAlgorithmSHA3256), 2, 1, true},
		{TagCryptographicUsageMask, uint32(CryptographicUsageMaskEncrypt | CryptographicUsageMaskDecrypt), 1, 0, true},
		{TagCryptographicUsageMask, uint32(CryptographicUsageMaskExport), 2, 0, false},
		{TagCryptographicUsageMask, uint32(CryptographicUsageMaskAuthenticate), 1, 4, false},
		{TagCryptographicUsageMask, 0x40000000, 2, 1, false},
		{TagAttributeReference, uint32(TagSensitive), 2, 0, true},
		{TagAttributeReference, uint32(TagRotateDate), 2, 0, false},
		{TagObjectType, 0x80000001, 2, 0, false},
		{TagActivationDate, 1, 2, 0, false},
	}
	for _, tt := range tests {
		if got := EnumDefinedIn(tt.tag, tt.v, tt.major, tt.minor); got != tt.want {
			t.Errorf("EnumDefinedIn(%s, 0x%08X, %d, %d) = %t, want %t", TagString(tt.tag), tt.v, tt.major, tt.minor, got, tt.want)
		}
	}
}

func TestAttributes(t *testing.T) {
	type rules struct{ always, srvMod, cliMod, cliDel, multi bool }
	tests := []struct {
		name         string
		tag          ttlv.Tag
		since, until SpecVersion
		rules        rules
	}{
		{"Unique Identifier", TagUniqueIdentifier, 100, 0, rules{always: true}},
		{"Name", TagName, 100, 0, rules{srvMod: true, cliMod: true, cliDel: true, multi: true}},
		{"Cryptographic Algorithm", TagCryptographicAlgorithm, 100, 0, rules{always: true}},
		{"Cryptographic Usage Mask", TagCryptographicUsageMask, 100, 0, rules{always: true, srvMod: true}},
		{"Operation Policy Name", TagOperationPolicyName, 100, 104, rules{srvMod: true}},
		{"Custom Attribute", TagCustomAttribute, 100, 104, rules{srvMod: true, cliMod: true, cliDel: true, multi: true}},
		{"Fresh", TagFresh, 101, 0, rules{always: true, srvMod: true}},
		{"Original Creation Date", TagOriginalCreationDate, 102, 0, rules{}},
		{"Random Number Generator", TagRandomNumberGenerator, 103, 0, rules{}},
		{"Sensitive", TagSensitive, 104, 0, rules{always: true, srvMod: true, cliMod: true}},
		{"Extractable", TagExtractable, 104, 0, rules{always: true, srvMod: true, cliMod: true}},
		{"PKCS#12 Friendly Name", TagPKCS12FriendlyName, 104, 0, rules{cliMod: true, cliDel: true}},
		{"Certificate Subject CN", TagCertificateSubjectCN, 104, 0, rules{multi: true}},
		{"Key Format Type", TagKeyFormatType, 200, 0, rules{always: true}},
		{"Vendor Attribute", TagAttribute, 200, 0, rules{srvMod: true, cliMod: true, cliDel: true, multi: true}},
		{"Rotate Date", TagRotateDate, 201, 0, rules{}},
	}
	for _, tt := range tests {
		a, ok := AttributeByName(tt.name)
		if !ok {
			t.Errorf("AttributeByName(%q) not found", tt.name)
			continue
		}
		got := rules{a.AlwaysPresent, a.ServerModifiable, a.ClientModifiable, a.ClientDeletable, a.MultiInstance}
		if a.Name != tt.name || a.Tag != tt.tag || a.Since != tt.since || a.Until != tt.until || got != tt.rules {
			t.Errorf("AttributeByName(%q) = %+v; want tag %s, %s-%s, %+v", tt.name, a, TagString(tt.tag), tt.since, tt.until, tt.rules)
		}
		b, ok := AttributeByTag(tt.tag)
		switch {
		case tt.name == "Vendor Attribute":
			if ok {
				t.Errorf("AttributeByTag(Attribute) = %q, want none", b.Name)
			}
		case !ok || b.Name != tt.name:
			t.Errorf("AttributeByTag(%s) = %q, %t; want %q", TagString(tt.tag), b.Name, ok, tt.name)
		}
	}
	for _, name := range []string{"", "x-ID", "cryptographic algorithm", "Activation   Date", "ActivationDate"} {
		if a, ok := AttributeByName(name); ok {
			t.Errorf("AttributeByName(%q) = %q, want none", name, a.Name)
		}
	}
	for _, tag := range []ttlv.Tag{TagAttribute, TagAttributeValue, TagKeyBlock, 0} {
		if a, ok := AttributeByTag(tag); ok {
			t.Errorf("AttributeByTag(%s) = %q, want none", TagString(tag), a.Name)
		}
	}
	versions := []struct {
		name         string
		major, minor int32
		want         bool
	}{
		{"Fresh", 1, 0, false},
		{"Fresh", 1, 1, true},
		{"Operation Policy Name", 1, 4, true},
		{"Operation Policy Name", 2, 0, false},
		{"Vendor Attribute", 1, 4, false},
		{"Vendor Attribute", 2, 1, true},
	}
	for _, tt := range versions {
		a, _ := AttributeByName(tt.name)
		if got := a.DefinedIn(tt.major, tt.minor); got != tt.want {
			t.Errorf("%s.DefinedIn(%d, %d) = %t, want %t", tt.name, tt.major, tt.minor, got, tt.want)
		}
	}
}

func TestValueTag(t *testing.T) {
	names := NewNames()
	tests := []struct {
		name      string
		tag       ttlv.Tag
		preceding []ttlv.Value
		want      ttlv.Tag
	}{
		{"1.x attribute", TagAttributeValue, []ttlv.Value{ttlv.Text(TagAttributeName, "Cryptographic Algorithm")}, TagCryptographicAlgorithm},
		{"with index", TagAttributeValue, []ttlv.Value{ttlv.Text(TagAttributeName, "Name"), ttlv.Int(TagAttributeIndex, 1)}, TagName},
		{"spaced name", TagAttributeValue, []ttlv.Value{ttlv.Text(TagAttributeName, "Cryptographic   Usage Mask")}, TagCryptographicUsageMask},
		{"custom", TagAttributeValue, []ttlv.Value{ttlv.Text(TagAttributeName, "x-ID")}, TagAttributeValue},
		{"vendor", TagAttributeValue, []ttlv.Value{ttlv.Text(TagVendorIdentification, "x"), ttlv.Text(TagAttributeName, "State")}, TagAttributeValue},
		{"no name", TagAttributeValue, nil, TagAttributeValue},
		{"other tag", TagObjectType, []ttlv.Value{ttlv.Text(TagAttributeName, "State")}, TagObjectType},
	}
	for _, tt := range tests {
		if got := names.ValueTag(tt.tag, tt.preceding); got != tt.want {
			t.Errorf("%s: ValueTag = %s, want %s", tt.name, TagString(got), TagString(tt.want))
		}
	}
}

func BenchmarkNames(b *testing.B) {
	names := NewNames()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := names.TagByName("CryptographicUsageMask"); !ok {
			b.Fatal("TagByName")
		}
		if _, ok := names.TagName(TagCryptographicUsageMask); !ok {
			b.Fatal("TagName")
		}
		if _, ok := names.EnumByName(TagOperation, "CreateKeyPair"); !ok {
			b.Fatal("EnumByName")
		}
		if _, ok := names.EnumName(TagOperation, uint32(OperationCreateKeyPair)); !ok {
			b.Fatal("EnumName")
		}
	}
}
