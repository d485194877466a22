package service

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// FuzzServeMessage sends whole request messages through kmip.HandleMessage
// into a Service over real SoftHSM and bbolt, so that hostile payloads reach
// every operation handler (Create, Register with each key format, PKCS#12
// containers, Locate, the cryptographic operations, Login and its tickets):
// whatever the bytes, no handler panics (the kmip layer would turn a panic
// into General Failure and log it; here a logged panic fails the run) and
// the answer is a decodable message.
//
//	go test -run '^$' -fuzz FuzzServeMessage -fuzztime 60s ./service
func FuzzServeMessage(f *testing.F) {
	for _, seed := range fuzzServeSeeds(f) {
		f.Add(seed)
	}
	var logged bytes.Buffer
	opts := &kmip.MessageOptions{Logger: hclog.New(&hclog.LoggerOptions{Output: &logged, Level: hclog.Error})}
	// With an audit log, so that every write also goes through the write
	// journal (journal.go).
	e := newCreationEnvWith(f, WithAudit(discardAuditor{}))
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "fuzz", OrganizationalUnit: []string{"t1"}}}
	ctx := kmip.WithConnInfo(context.Background(), &kmip.ConnInfo{PeerCertificates: []*x509.Certificate{cert}})
	f.Fuzz(func(t *testing.T, raw []byte) {
		logged.Reset()
		out := kmip.HandleMessage(ctx, e.svc, raw, opts)
		if strings.Contains(logged.String(), "handler panic") {
			t.Fatalf("a handler panicked:\n%s", logged.String())
		}
		if _, err := ttlv.Decode(out, ttlv.Limits{}); err != nil {
			t.Fatalf("the response does not decode: %v", err)
		}
	})
}

// fuzzServeSeeds are valid requests of the operations whose payloads are the
// most involved, in KMIP 1.4 and 2.0, for the fuzzer to mutate.
func fuzzServeSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	im := newPKCS12Import(tb, pkcs12TestPassword, "seed")
	link := attr(attrLink, attrsLink(kmip.LinkTypePKCS12PasswordLink, "0"))
	var seeds [][]byte
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		items := []struct {
			op     kmip.Operation
			fields []ttlv.Value
		}{
			{kmip.OperationCreate, []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(ver,
				creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256), creationMask(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt),
				creationName("fuzz"), creationDate(attrActivationDate, time.Unix(1, 0)))}},
			{kmip.OperationRegister, []ttlv.Value{creationOT(kmip.ObjectTypeSymmetricKey), creationTemplate(ver, creationMask(kmip.CryptographicUsageMaskEncrypt)),
				ttlv.Struct(kmip.TagSymmetricKey, creationKeyBlock(kmip.KeyFormatTypeRaw, ttlv.Bytes(kmip.TagKeyMaterial, make([]byte, 32)), kmip.CryptographicAlgorithmAES, 256))}},
			{kmip.OperationRegister, []ttlv.Value{creationOT(kmip.ObjectTypePrivateKey), creationTemplate(ver, link), pkcs12KeyObject(im.container, !ver.Is2x())}},
			{kmip.OperationRegister, []ttlv.Value{creationOT(kmip.ObjectTypePrivateKey), creationTemplate(ver),
				ttlv.Struct(kmip.TagPrivateKey, creationKeyBlock(kmip.KeyFormatTypePKCS8, ttlv.Bytes(kmip.TagKeyMaterial, im.keyDER), 0, 0))}},
			{kmip.OperationCreateKeyPair, []ttlv.Value{
				creationAttrs(ver, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes, creationAlg(kmip.CryptographicAlgorithmRSA), creationLen(2048)),
				creationAttrs(ver, kmip.TagPrivateKeyTemplateAttribute, kmip.TagPrivateKeyAttributes, creationMask(kmip.CryptographicUsageMaskSign)),
				creationAttrs(ver, kmip.TagPublicKeyTemplateAttribute, kmip.TagPublicKeyAttributes, creationMask(kmip.CryptographicUsageMaskVerify))}},
			{kmip.OperationLocate, []ttlv.Value{ttlv.Int(kmip.TagMaximumItems, 2), ttlv.Int(kmip.TagOffsetItems, 1), creationTemplate(ver, creationName("fuzz"))}},
			{kmip.OperationEncrypt, []ttlv.Value{creationUID("1"), ttlv.Struct(kmip.TagCryptographicParameters,
				ttlv.Enum(kmip.TagBlockCipherMode, uint32(kmip.BlockCipherModeGCM)), ttlv.Int(kmip.TagTagLength, 16)),
				ttlv.Bytes(kmip.TagData, []byte("fuzz")), ttlv.Bytes(kmip.TagIVCounterNonce, make([]byte, 12))}},
			{kmip.OperationGet, []ttlv.Value{creationUID("1"), ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypePKCS12))}},
			{kmip.OperationLogin, []ttlv.Value{ttlv.Interval(kmip.TagLeaseTime, 60), ttlv.Int(kmip.TagRequestCount, 2)}},
			{kmip.OperationDelegatedLogin, []ttlv.Value{ttlv.Struct(kmip.TagRights, ttlv.Struct(kmip.TagRight,
				ttlv.Struct(kmip.TagOperations, ttlv.Enum(kmip.TagOperation, uint32(kmip.OperationQuery))),
				ttlv.Struct(kmip.TagObjects, ttlv.Text(kmip.TagUniqueIdentifier, "1"))))}},
			{kmip.OperationLogout, []ttlv.Value{ticketStruct(make([]byte, ticketBytes))}},
		}
		for _, it := range items {
			seeds = append(seeds, ttlv.Marshal(fuzzRequestMessage(ver, it.op, it.fields...)))
		}
	}
	return seeds
}

// fuzzRequestMessage is a Request Message of one batch item.
func fuzzRequestMessage(ver kmip.ProtocolVersion, op kmip.Operation, fields ...ttlv.Value) ttlv.Value {
	return ttlv.Struct(kmip.TagRequestMessage,
		ttlv.Struct(kmip.TagRequestHeader,
			ttlv.Struct(kmip.TagProtocolVersion, ttlv.Int(kmip.TagProtocolVersionMajor, ver.Major), ttlv.Int(kmip.TagProtocolVersionMinor, ver.Minor)),
			ttlv.Int(kmip.TagBatchCount, 1)),
		ttlv.Struct(kmip.TagBatchItem,
			ttlv.Enum(kmip.TagOperation, uint32(op)),
			ttlv.Struct(kmip.TagRequestPayload, fields...)))
}

// discardAuditor accepts every record and keeps none.
type discardAuditor struct{}

func (discardAuditor) Record(context.Context, audit.Event, audit.Durability) error { return nil }
func (discardAuditor) Sync() error                                                 { return nil }
