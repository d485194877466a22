package kmip

import (
	"context"

	"github.com/kmipd/kmipd/ttlv"
)

// DiscoverVersions answers the Discover Versions operation (KMIP 1.4 §4.26,
// 2.0 §6.1.17): the versions supported by both sides, in the server's order
// of preference; all of ours when the client lists none.
func DiscoverVersions(_ context.Context, req *Request) (ttlv.Value, error) {
	var theirs []ProtocolVersion
	for _, c := range req.Payload.Children() {
		if c.Tag != TagProtocolVersion {
			continue
		}
		pv, err := parseProtocolVersion(c)
		if err != nil {
			return ttlv.Value{}, Errorf(ResultReasonInvalidField, "malformed protocol version in request payload")
		}
		theirs = append(theirs, pv)
	}
	out := make([]ttlv.Value, 0, len(SupportedVersions))
	for _, ours := range SupportedVersions {
		if theirs != nil && !containsVersion(theirs, ours) {
			continue
		}
		out = append(out, ProtocolVersionValue(ours))
	}
	return Payload(out...), nil
}

func containsVersion(list []ProtocolVersion, v ProtocolVersion) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ServerInfo is what Query reports about the server (KMIP 1.4 §4.25, 2.0
// §6.1.37). Only what is true of the server belongs here.
type ServerInfo struct {
	// Operations lists the supported operations; usually mux.Operations.
	Operations func() []Operation
	// ObjectTypes the server can hold.
	ObjectTypes []ObjectType
	// VendorIdentification uniquely names the vendor ("kmipd").
	VendorIdentification string
	// ServerInformation holds vendor-specific items for the Server
	// Information structure (e.g. the build version, with extension tags).
	ServerInformation []ttlv.Value
	// ApplicationNamespaces the server generates Application Data for.
	ApplicationNamespaces []string
	// Extensions are the vendor extension tags the server understands.
	Extensions []ExtensionInfo
	// Profiles the server claims (Query Profiles, 1.3+).
	Profiles []ProfileName
	// Capabilities, answered to Query Capabilities (1.3+).
	Capabilities Capabilities
	// ClientRegistrationMethods the server supports (1.3+).
	ClientRegistrationMethods []ClientRegistrationMethod
}

// ExtensionInfo describes one extension tag (KMIP 1.4 §2.1.9).
type ExtensionInfo struct {
	Name string
	Tag  ttlv.Tag
	Type ttlv.Type
}

// Capabilities is the Capability Information structure (KMIP 1.4 §2.1.21).
type Capabilities struct {
	Streaming, Asynchronous, Attestation, BatchUndo, BatchContinue bool
	DestroyAction                                                  DestroyAction // 0: omitted
}

// QueryHandler returns the handler of the Query operation for info.
func QueryHandler(info *ServerInfo) Handler {
	return HandlerFunc(func(_ context.Context, req *Request) (ttlv.Value, error) {
		want := make(map[QueryFunction]bool)
		for _, c := range req.Payload.Children() {
			if c.Tag != TagQueryFunction {
				continue
			}
			if c.Type != ttlv.TypeEnumeration {
				return ttlv.Value{}, Errorf(ResultReasonInvalidField, "query function must be an enumeration")
			}
			want[QueryFunction(c.Enum())] = true
		}
		if len(want) == 0 {
			return ttlv.Value{}, Errorf(ResultReasonInvalidField, "query needs at least one query function")
		}
		ver := req.Version
		var out []ttlv.Value
		// Response items follow the order of the response payload table
		// (KMIP 1.4 Table 223), whatever the order of the request.
		if want[QueryFunctionQueryOperations] && info.Operations != nil {
			for _, op := range info.Operations() {
				// A version is never told of operations it does not define
				// (Set and Adjust Attribute are 2.0's).
				if !EnumDefinedIn(TagOperation, uint32(op), ver.Major, ver.Minor) {
					continue
				}
				out = append(out, ttlv.Enum(TagOperation, uint32(op)))
			}
		}
		if want[QueryFunctionQueryObjects] {
			for _, t := range info.ObjectTypes {
				if !EnumDefinedIn(TagObjectType, uint32(t), ver.Major, ver.Minor) {
					continue
				}
				out = append(out, ttlv.Enum(TagObjectType, uint32(t)))
			}
		}
		if want[QueryFunctionQueryServerInformation] {
			out = append(out, ttlv.Text(TagVendorIdentification, info.VendorIdentification))
			out = append(out, ttlv.Struct(TagServerInformation, info.ServerInformation...))
		}
		if want[QueryFunctionQueryApplicationNamespaces] {
			for _, ns := range info.ApplicationNamespaces {
				out = append(out, ttlv.Text(TagApplicationNamespace, ns))
			}
		}
		if ver.AtLeast(V1_1) && (want[QueryFunctionQueryExtensionList] || want[QueryFunctionQueryExtensionMap]) {
			withMap := want[QueryFunctionQueryExtensionMap]
			for _, e := range info.Extensions {
				f := []ttlv.Value{ttlv.Text(TagExtensionName, e.Name)}
				if withMap {
					// A tag is 24 bits and a type 8: both fit.
					f = append(f, ttlv.Int(TagExtensionTag, int32(e.Tag&0xFFFFFF)), ttlv.Int(TagExtensionType, int32(e.Type)))
				}
				out = append(out, ttlv.Struct(TagExtensionInformation, f...))
			}
		}
		// Query Validations (KMIP 1.4 §4.25, §2.1.20) is answered with no
		// Validation Information: the server has no FIPS 140 or Common
		// Criteria validation to report, and an empty answer is what
		// TC-Q-VAL-2 expects of such a server. Query Attestation Types
		// likewise lists none.
		if ver.AtLeast(V1_3) && want[QueryFunctionQueryRNGs] {
			out = append(out, ttlv.Struct(TagRNGParameters, ttlv.Enum(TagRNGAlgorithm, uint32(RNGAlgorithmUnspecified))))
		}
		if ver.AtLeast(V1_3) && want[QueryFunctionQueryProfiles] {
			for _, p := range info.Profiles {
				// 1.x profile names carry their KMIP version, 2.x ones do
				// not; each version hears only the names it defines.
				if !EnumDefinedIn(TagProfileName, uint32(p), ver.Major, ver.Minor) {
					continue
				}
				out = append(out, ttlv.Struct(TagProfileInformation, ttlv.Enum(TagProfileName, uint32(p))))
			}
		}
		if ver.AtLeast(V1_3) && want[QueryFunctionQueryCapabilities] {
			c := info.Capabilities
			f := []ttlv.Value{
				ttlv.Bool(TagStreamingCapability, c.Streaming),
				ttlv.Bool(TagAsynchronousCapability, c.Asynchronous),
				ttlv.Bool(TagAttestationCapability, c.Attestation),
			}
			if ver.AtLeast(V1_4) {
				f = append(f, ttlv.Bool(TagBatchUndoCapability, c.BatchUndo), ttlv.Bool(TagBatchContinueCapability, c.BatchContinue))
			}
			if c.DestroyAction != 0 {
				f = append(f, ttlv.Enum(TagDestroyAction, uint32(c.DestroyAction)))
			}
			out = append(out, ttlv.Struct(TagCapabilityInformation, f...))
		}
		if ver.AtLeast(V1_3) && want[QueryFunctionQueryClientRegistrationMethods] {
			for _, m := range info.ClientRegistrationMethods {
				out = append(out, ttlv.Enum(TagClientRegistrationMethod, uint32(m)))
			}
		}
		return Payload(out...), nil
	})
}
