package kmip

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kmipd/kmipd/ttlv"
)

func versionsOf(t *testing.T, payload ttlv.Value) []ProtocolVersion {
	t.Helper()
	var out []ProtocolVersion
	for _, c := range payload.Children() {
		if c.Tag != TagProtocolVersion {
			t.Errorf("unexpected %s in Discover Versions response", TagString(c.Tag))
			continue
		}
		pv, err := parseProtocolVersion(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pv)
	}
	return out
}

// TestDiscoverVersions follows KMIP 1.4 §4.26 (2.0 §6.1.17): the versions
// both sides support, in the server's order of preference; all of ours when
// the client lists none; an empty list when none is common.
func TestDiscoverVersions(t *testing.T) {
	pv := func(maj, minr int32) ttlv.Value { return ProtocolVersionValue(ProtocolVersion{maj, minr}) }
	tests := []struct {
		name    string
		payload []ttlv.Value
		want    []ProtocolVersion
		reason  ResultReason // 0: success
	}{
		{name: "empty list: all", want: SupportedVersions},
		{name: "one common", payload: []ttlv.Value{pv(1, 2)}, want: []ProtocolVersion{V1_2}},
		{
			name:    "intersection in server order",
			payload: []ttlv.Value{pv(1, 0), pv(3, 0), pv(2, 0), pv(1, 4), pv(1, 7)},
			want:    []ProtocolVersion{V2_0, V1_4, V1_0},
		},
		{name: "none in common", payload: []ttlv.Value{pv(3, 0), pv(1, 9)}, want: nil},
		{name: "other fields ignored", payload: []ttlv.Value{ttlv.Text(0x540001, "x"), pv(2, 1)}, want: []ProtocolVersion{V2_1}},
		{
			name:    "malformed version",
			payload: []ttlv.Value{ttlv.Struct(TagProtocolVersion, ttlv.Int(TagProtocolVersionMajor, 1))},
			reason:  ResultReasonInvalidField,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Version: V1_4, Operation: OperationDiscoverVersions, Payload: ttlv.Struct(TagRequestPayload, tt.payload...)}
			got, err := DiscoverVersions(context.Background(), req)
			if tt.reason != 0 {
				if err == nil || ReasonOf(err) != tt.reason {
					t.Fatalf("error = %v, want reason %v", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Tag != TagResponsePayload {
				t.Errorf("payload tag %s", TagString(got.Tag))
			}
			vs := versionsOf(t, got)
			if len(vs) != len(tt.want) {
				t.Fatalf("versions %v, want %v", vs, tt.want)
			}
			for i := range vs {
				if vs[i] != tt.want[i] {
					t.Fatalf("versions %v, want %v", vs, tt.want)
				}
			}
		})
	}
}

// testServerInfo claims a little of everything, so that each query
// function has something to answer.
func testServerInfo() *ServerInfo {
	mux := NewServeMux()
	mux.HandleFunc(OperationDiscoverVersions, DiscoverVersions)
	mux.HandleFunc(OperationGet, func(context.Context, *Request) (ttlv.Value, error) { return ttlv.Value{}, nil })
	info := &ServerInfo{
		Operations:                mux.Operations,
		ObjectTypes:               []ObjectType{ObjectTypeSymmetricKey, ObjectTypePrivateKey},
		VendorIdentification:      "kmipd",
		ServerInformation:         []ttlv.Value{ttlv.Text(0x540010, "build 1")},
		ApplicationNamespaces:     []string{"ns1"},
		Extensions:                []ExtensionInfo{{Name: "x-ext", Tag: 0x540010, Type: ttlv.TypeTextString}},
		Profiles:                  []ProfileName{ProfileNameCompleteServerBasic, ProfileNameBaselineServerBasicKMIPV14},
		ClientRegistrationMethods: []ClientRegistrationMethod{ClientRegistrationMethodUnspecified},
		Capabilities:              Capabilities{BatchContinue: true, DestroyAction: DestroyActionKeyMaterialDeleted},
	}
	mux.Handle(OperationQuery, QueryHandler(info))
	return info
}

// TestQuery checks each query function (KMIP 1.4 §4.25 Tables 222-223, 2.0
// §6.1.37) and what each version may be answered: extension information
// from 1.1, RNGs, profiles, capabilities and client registration methods
// from 1.3, the batch capabilities from 1.4.
func TestQuery(t *testing.T) {
	info := testServerInfo()
	h := QueryHandler(info)
	tests := []struct {
		name  string
		ver   ProtocolVersion
		funcs []QueryFunction
		// want lists the tags of the response payload, in order.
		want []ttlv.Tag
		// check looks further into the payload.
		check func(t *testing.T, p ttlv.Value)
	}{
		{
			name: "operations", ver: V1_4, funcs: []QueryFunction{QueryFunctionQueryOperations},
			want: []ttlv.Tag{TagOperation, TagOperation, TagOperation},
			check: func(t *testing.T, p ttlv.Value) {
				var ops []Operation
				for _, c := range p.All(TagOperation) {
					ops = append(ops, Operation(c.Enum()))
				}
				if !equalOps(ops, []Operation{OperationGet, OperationQuery, OperationDiscoverVersions}) {
					t.Errorf("operations %v", ops)
				}
			},
		},
		{
			name: "objects", ver: V1_4, funcs: []QueryFunction{QueryFunctionQueryObjects},
			want: []ttlv.Tag{TagObjectType, TagObjectType},
		},
		{
			name: "server information", ver: V1_0, funcs: []QueryFunction{QueryFunctionQueryServerInformation},
			want: []ttlv.Tag{TagVendorIdentification, TagServerInformation},
			check: func(t *testing.T, p ttlv.Value) {
				if v, _ := p.Child(TagVendorIdentification); v.Text() != "kmipd" {
					t.Errorf("vendor %q", v.Text())
				}
				if si, _ := p.Child(TagServerInformation); len(si.Children()) != 1 {
					t.Errorf("server information %v", si)
				}
			},
		},
		{
			name: "application namespaces", ver: V1_0, funcs: []QueryFunction{QueryFunctionQueryApplicationNamespaces},
			want: []ttlv.Tag{TagApplicationNamespace},
		},
		{
			name: "extension list", ver: V1_1, funcs: []QueryFunction{QueryFunctionQueryExtensionList},
			want: []ttlv.Tag{TagExtensionInformation},
			check: func(t *testing.T, p ttlv.Value) {
				e, _ := p.Child(TagExtensionInformation)
				if !e.Has(TagExtensionName) || e.Has(TagExtensionTag) {
					t.Errorf("extension list item %v: want the name only", e)
				}
			},
		},
		{
			name: "extension map", ver: V1_4, funcs: []QueryFunction{QueryFunctionQueryExtensionMap},
			want: []ttlv.Tag{TagExtensionInformation},
			check: func(t *testing.T, p ttlv.Value) {
				e, _ := p.Child(TagExtensionInformation)
				tag, _ := e.Child(TagExtensionTag)
				typ, _ := e.Child(TagExtensionType)
				if tag.Int() != 0x540010 || typ.Int() != int32(ttlv.TypeTextString) {
					t.Errorf("extension map item %v", e)
				}
			},
		},
		{name: "extension list not in 1.0", ver: V1_0, funcs: []QueryFunction{QueryFunctionQueryExtensionList}, want: nil},
		{name: "attestation types: none", ver: V1_4, funcs: []QueryFunction{QueryFunctionQueryAttestationTypes}, want: nil},
		{
			name: "RNGs", ver: V1_3, funcs: []QueryFunction{QueryFunctionQueryRNGs},
			want: []ttlv.Tag{TagRNGParameters},
		},
		{name: "RNGs not in 1.2", ver: V1_2, funcs: []QueryFunction{QueryFunctionQueryRNGs}, want: nil},
		{
			// Each version hears only the profile names it defines: the
			// 2.0 name in 2.0, the "KMIP v1.4" name in 1.4.
			name: "profiles", ver: V2_0, funcs: []QueryFunction{QueryFunctionQueryProfiles},
			want: []ttlv.Tag{TagProfileInformation},
			check: func(t *testing.T, p ttlv.Value) {
				if n, _ := p.Child(TagProfileInformation); n.Children()[0].Enum() != uint32(ProfileNameCompleteServerBasic) {
					t.Errorf("2.0 profile %v", n)
				}
			},
		},
		{
			name: "profiles 1.4", ver: V1_4, funcs: []QueryFunction{QueryFunctionQueryProfiles},
			want: []ttlv.Tag{TagProfileInformation},
			check: func(t *testing.T, p ttlv.Value) {
				if n, _ := p.Child(TagProfileInformation); n.Children()[0].Enum() != uint32(ProfileNameBaselineServerBasicKMIPV14) {
					t.Errorf("1.4 profile %v", n)
				}
			},
		},
		{name: "profiles not in 1.2", ver: V1_2, funcs: []QueryFunction{QueryFunctionQueryProfiles}, want: nil},
		{
			name: "capabilities 1.3", ver: V1_3, funcs: []QueryFunction{QueryFunctionQueryCapabilities},
			want: []ttlv.Tag{TagCapabilityInformation},
			check: func(t *testing.T, p ttlv.Value) {
				c, _ := p.Child(TagCapabilityInformation)
				if c.Has(TagBatchUndoCapability) || c.Has(TagBatchContinueCapability) || !c.Has(TagStreamingCapability) || !c.Has(TagDestroyAction) {
					t.Errorf("1.3 capability information %v", c)
				}
			},
		},
		{
			name: "capabilities 2.1", ver: V2_1, funcs: []QueryFunction{QueryFunctionQueryCapabilities},
			want: []ttlv.Tag{TagCapabilityInformation},
			check: func(t *testing.T, p ttlv.Value) {
				c, _ := p.Child(TagCapabilityInformation)
				undo, _ := c.Child(TagBatchUndoCapability)
				cont, _ := c.Child(TagBatchContinueCapability)
				if !c.Has(TagBatchUndoCapability) || undo.Bool() || !cont.Bool() {
					t.Errorf("2.1 capability information %v: undo must be false, continue true", c)
				}
			},
		},
		{
			name: "client registration methods", ver: V1_4, funcs: []QueryFunction{QueryFunctionQueryClientRegistrationMethods},
			want: []ttlv.Tag{TagClientRegistrationMethod},
		},
		{name: "client registration methods not in 1.2", ver: V1_2, funcs: []QueryFunction{QueryFunctionQueryClientRegistrationMethods}, want: nil},
		{
			// The response follows the order of the response payload table,
			// not of the request; a function asked twice answers once.
			name: "several, out of order", ver: V1_4,
			funcs: []QueryFunction{QueryFunctionQueryServerInformation, QueryFunctionQueryObjects, QueryFunctionQueryObjects},
			want:  []ttlv.Tag{TagObjectType, TagObjectType, TagVendorIdentification, TagServerInformation},
		},
		{name: "unknown function ignored", ver: V2_0, funcs: []QueryFunction{0x7777}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fields []ttlv.Value
			for _, f := range tt.funcs {
				fields = append(fields, ttlv.Enum(TagQueryFunction, uint32(f)))
			}
			req := &Request{Version: tt.ver, Operation: OperationQuery, Payload: ttlv.Struct(TagRequestPayload, fields...)}
			p, err := h.ServeKMIP(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var got []ttlv.Tag
			for _, c := range p.Children() {
				got = append(got, c.Tag)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("payload tags %v, want %v\n%v", got, tt.want, p)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("payload tags %v, want %v", got, tt.want)
				}
			}
			if tt.check != nil {
				tt.check(t, p)
			}
			// Whatever the handler answers must survive the version
			// filter unchanged: it only claims what the version defines.
			if f := FilterForVersion(p, tt.ver); !ttlv.Equal(f, p) {
				t.Errorf("payload carries fields %v lacks:\n%v", tt.ver, p)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	h := QueryHandler(testServerInfo())
	tests := []struct {
		name    string
		payload []ttlv.Value
		reason  ResultReason
		msg     string
	}{
		{"no query function", nil, ResultReasonInvalidField, "at least one"},
		{"only other fields", []ttlv.Value{ttlv.Text(0x540001, "x")}, ResultReasonInvalidField, "at least one"},
		{"query function of the wrong type", []ttlv.Value{ttlv.Int(TagQueryFunction, 1)}, ResultReasonInvalidField, "enumeration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Version: V1_4, Operation: OperationQuery, Payload: ttlv.Struct(TagRequestPayload, tt.payload...)}
			_, err := h.ServeKMIP(context.Background(), req)
			if err == nil || ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %v, want %v containing %q", err, tt.reason, tt.msg)
			}
		})
	}
}

// TestQueryThroughHandleMessage runs Query end to end in a 1.0 and a 2.0
// message, as the OASIS vectors TL-M-1 and QS-M-1 do.
func TestQueryThroughHandleMessage(t *testing.T) {
	info := testServerInfo()
	mux := NewServeMux()
	mux.Handle(OperationQuery, QueryHandler(info))
	for _, ver := range []ProtocolVersion{V1_0, V2_0} {
		t.Run(ver.String(), func(t *testing.T) {
			m := handle(t, mux, reqMessage(ver, nil, reqItemID(OperationQuery, 1,
				ttlv.Enum(TagQueryFunction, uint32(QueryFunctionQueryOperations)),
				ttlv.Enum(TagQueryFunction, uint32(QueryFunctionQueryObjects)),
				ttlv.Enum(TagQueryFunction, uint32(QueryFunctionQueryServerInformation)),
				ttlv.Enum(TagQueryFunction, uint32(QueryFunctionQueryCapabilities)))))
			it := m.Items[0]
			if m.Version != ver || it.Status != ResultStatusSuccess || it.Operation != OperationQuery {
				t.Fatalf("response %v %+v", m.Version, it)
			}
			if it.Payload.Has(TagCapabilityInformation) != ver.AtLeast(V1_3) {
				t.Errorf("capability information in %v: %v", ver, it.Payload)
			}
			if v, _ := it.Payload.Child(TagVendorIdentification); v.Text() != "kmipd" {
				t.Errorf("payload %v", it.Payload)
			}
		})
	}
}

// TestQueryValidationNone checks that Query Validations is answered with
// no Validation Information in every version (the server holds no
// validation: KMIP 1.4 §2.1.20), alone or beside another function.
func TestQueryValidationNone(t *testing.T) {
	h := QueryHandler(testServerInfo())
	tests := []struct {
		name  string
		ver   ProtocolVersion
		funcs []QueryFunction
		want  []ttlv.Tag
	}{
		{name: "1.3", ver: V1_3, funcs: []QueryFunction{QueryFunctionQueryValidations}},
		{name: "1.4", ver: V1_4, funcs: []QueryFunction{QueryFunctionQueryValidations}},
		{name: "2.0", ver: V2_0, funcs: []QueryFunction{QueryFunctionQueryValidations}},
		{name: "with objects", ver: V1_4, funcs: []QueryFunction{QueryFunctionQueryValidations, QueryFunctionQueryObjects},
			want: []ttlv.Tag{TagObjectType, TagObjectType}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fields []ttlv.Value
			for _, f := range tt.funcs {
				fields = append(fields, ttlv.Enum(TagQueryFunction, uint32(f)))
			}
			req := &Request{Version: tt.ver, Operation: OperationQuery, Payload: ttlv.Struct(TagRequestPayload, fields...)}
			p, err := h.ServeKMIP(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var got []ttlv.Tag
			for _, c := range p.Children() {
				got = append(got, c.Tag)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("payload tags %v, want %v", got, tt.want)
			}
		})
	}
}
