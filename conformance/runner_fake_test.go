package conformance

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// fakeDial serves each connection with kmip.HandleMessage over h, in
// memory: the runner's transport and conversation state without a real
// server.
func fakeDial(h kmip.Handler) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer func() { _ = server.Close() }()
			for {
				msg, err := ttlv.ReadMessage(server, nil, ttlv.Limits{})
				if err != nil {
					return
				}
				if _, err := server.Write(kmip.HandleMessage(ctx, h, msg, nil)); err != nil {
					return
				}
			}
		}()
		return client, nil
	}
}

const fakeVector = `<KMIP>
<RequestMessage>` + vecHeader + `<BatchItem><Operation type="Enumeration" value="Create"/><RequestPayload>
  <ObjectType type="Enumeration" value="SymmetricKey"/>
  <TemplateAttribute><Attribute><AttributeName type="TextString" value="Activation Date"/><AttributeValue type="DateTime" value="$NOW-3600"/></Attribute></TemplateAttribute>
</RequestPayload></BatchItem></RequestMessage>
<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion><TimeStamp type="DateTime" value="$NOW"/><BatchCount type="Integer" value="1"/></ResponseHeader>
<BatchItem><Operation type="Enumeration" value="Create"/><ResultStatus type="Enumeration" value="Success"/><ResponsePayload>
  <ObjectType type="Enumeration" value="SymmetricKey"/><UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>
</ResponsePayload></BatchItem></ResponseMessage>
<RequestMessage>` + vecHeader + `<BatchItem><Operation type="Enumeration" value="Encrypt"/><RequestPayload>
  <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/><Data type="ByteString" value="0102"/>
</RequestPayload></BatchItem></RequestMessage>
<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion><TimeStamp type="DateTime" value="$NOW"/><BatchCount type="Integer" value="1"/></ResponseHeader>
<BatchItem><Operation type="Enumeration" value="Encrypt"/><ResultStatus type="Enumeration" value="Success"/><ResponsePayload>
  <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/><Data type="ByteString" value="aaaaaaaa"/><IVCounterNonce type="ByteString" value="bbbb"/>
</ResponsePayload></BatchItem></ResponseMessage>
<RequestMessage>` + vecHeader + `<BatchItem><Operation type="Enumeration" value="Decrypt"/><RequestPayload>
  <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/><Data type="ByteString" value="$DATA_0"/><IVCounterNonce type="ByteString" value="$IV_COUNTER_NONCE"/>
</RequestPayload></BatchItem></RequestMessage>
<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion><TimeStamp type="DateTime" value="$NOW"/><BatchCount type="Integer" value="1"/></ResponseHeader>
<BatchItem><Operation type="Enumeration" value="Decrypt"/><ResultStatus type="Enumeration" value="Success"/><ResponsePayload>
  <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/><Data type="ByteString" value="0102"/>
</ResponsePayload></BatchItem></ResponseMessage>
</KMIP>`

// fakeServer answers fakeVector's conversation and checks what the runner
// substitutes: the identifier it returned, the activation date one hour
// back, and its own ciphertext and IV sent back for Decrypt.
type fakeServer struct {
	id    string
	errs  chan error
	ivLen int
}

func (f *fakeServer) ServeKMIP(_ context.Context, req *kmip.Request) (ttlv.Value, error) {
	report := func(format string) { f.errs <- errors.New(format) }
	switch req.Operation {
	case kmip.OperationCreate:
		ta, _ := req.Payload.Child(kmip.TagTemplateAttribute)
		a, _ := ta.Child(kmip.TagAttribute)
		d, _ := a.Child(kmip.TagAttributeValue)
		if off := time.Since(d.Time()); off < 59*time.Minute || off > 61*time.Minute {
			report("$NOW-3600 was not one hour back")
		}
		return kmip.Payload(ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)), ttlv.Text(kmip.TagUniqueIdentifier, f.id)), nil
	case kmip.OperationEncrypt:
		return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, f.id),
			ttlv.Bytes(kmip.TagData, []byte{9, 9, 9, 9}), ttlv.Bytes(kmip.TagIVCounterNonce, make([]byte, f.ivLen))), nil
	case kmip.OperationDecrypt:
		id, _ := req.UniqueIdentifier()
		data, _ := req.Payload.Child(kmip.TagData)
		if id != f.id || string(data.Bytes()) != "\x09\x09\x09\x09" {
			report("decrypt did not get the bound id and the captured data")
		}
		return kmip.Payload(ttlv.Text(kmip.TagUniqueIdentifier, f.id), ttlv.Bytes(kmip.TagData, []byte{1, 2})), nil
	default:
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonOperationNotSupported, "no")
	}
}

func TestRunnerFakeServer(t *testing.T) {
	v, err := ParseVector("fake/F-1-14.xml", "fake", []byte(fakeVector), testNames)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ivLen    int
		passed   bool
		step     int
		wantDiff string
		dial     func(f *fakeServer) func(ctx context.Context) (net.Conn, error)
	}{
		{name: "conversation", ivLen: 2, passed: true},
		{name: "IV of another length", ivLen: 3, step: 2, wantDiff: "IVCounterNonce: got IVCounterNonce (ByteString, 3 bytes), want IVCounterNonce (ByteString, 2 bytes) (compared by type and length)"},
		{name: "connection refused", step: 0, wantDiff: "connect: refused",
			dial: func(*fakeServer) func(ctx context.Context) (net.Conn, error) {
				return func(context.Context) (net.Conn, error) { return nil, errors.New("refused") }
			}},
		{name: "connection closed", step: 1, wantDiff: "read response",
			dial: func(*fakeServer) func(ctx context.Context) (net.Conn, error) {
				return func(context.Context) (net.Conn, error) {
					c, s := net.Pipe()
					go func() { _, _ = ttlv.ReadMessage(s, nil, ttlv.Limits{}); _ = s.Close() }()
					return c, nil
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{id: "obj-" + tt.name, errs: make(chan error, 8), ivLen: tt.ivLen}
			dial := fakeDial(f)
			if tt.dial != nil {
				dial = tt.dial(f)
			}
			r := &Runner{Dial: dial, Names: testNames, Timeout: 10 * time.Second}
			res := r.Run(context.Background(), v)
			close(f.errs)
			for err := range f.errs {
				t.Error(err)
			}
			if res.Passed != tt.passed || res.Step != tt.step || !strings.Contains(res.Difference, tt.wantDiff) {
				t.Fatalf("passed %v step %d difference %q; want %v, %d, %q", res.Passed, res.Step, res.Difference, tt.passed, tt.step, tt.wantDiff)
			}
			if tt.passed {
				for _, rule := range []string{RuleNow, RuleUniqueID, RuleServerIV, RuleLatestResponse} {
					if !strings.Contains(strings.Join(res.Rules, ","), rule) {
						t.Errorf("rules %v lack %s", res.Rules, rule)
					}
				}
			}
		})
	}
}
