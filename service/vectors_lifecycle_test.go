package service

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// lifecycleVectorsDir holds the OASIS XML test vectors (see
// /work/shared/conformance/README.md).
const lifecycleVectorsDir = "../../shared/conformance/testcases"

// TestLifecycleVectors replays the Activate, Revoke and Destroy requests of
// the symmetric and asymmetric key lifecycle vectors, encoded as TTLV and
// answered through kmip.HandleMessage, and compares the responses with
// the vectors'. The Create / Create Key Pair the vectors start with is
// stood in for by objects stored directly (Pre-Active, as created); Get
// Attributes and Modify Attribute requests are left out (other groups).
func TestLifecycleVectors(t *testing.T) {
	if _, err := os.Stat(lifecycleVectorsDir); err != nil {
		t.Skipf("no conformance vectors at %s (%v)", lifecycleVectorsDir, err)
	}
	pair := []kmip.ObjectType{kmip.ObjectTypePrivateKey, kmip.ObjectTypePublicKey}
	symmetric := []kmip.ObjectType{kmip.ObjectTypeSymmetricKey}
	tests := []struct {
		file    string
		objects []kmip.ObjectType // $UNIQUE_IDENTIFIER_0, _1, ...
		want    int               // lifecycle requests replayed
	}{
		{"kmip-1.4/mandatory/SKLC-M-1-14.xml", symmetric, 1},
		{"kmip-1.4/mandatory/SKLC-M-2-14.xml", symmetric, 4},
		{"kmip-1.4/mandatory/SKLC-M-3-14.xml", symmetric, 3},
		{"kmip-1.4/mandatory/AKLC-M-1-14.xml", pair, 2},
		{"kmip-1.4/mandatory/AKLC-M-2-14.xml", pair, 5},
		{"kmip-1.4/mandatory/AKLC-M-3-14.xml", pair, 4},
		{"kmip-2.0/mandatory/AKLC-M-1-20.xml", pair, 2},
		{"kmip-2.0/mandatory/AKLC-M-2-20.xml", pair, 5},
		{"kmip-2.0/mandatory/AKLC-M-3-20.xml", pair, 4},
	}
	e := newLifecycleEnv(t)
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			ids := make([]string, len(tc.objects))
			for i, typ := range tc.objects {
				ids[i] = e.putKey(t, kmip.StatePreActive, func(o *objects.Object) {
					o.ObjectType = typ
					o.SetAttr(attr(attrObjectType, ttlv.Enum(0, uint32(typ))))
					if typ == kmip.ObjectTypePublicKey {
						o.Wrapped, o.Public = nil, []byte{0x30, 0x00}
					}
				})
			}
			if n := e.replayVector(t, filepath.Join(lifecycleVectorsDir, tc.file), ids); n != tc.want {
				t.Errorf("replayed %d requests, want %d", n, tc.want)
			}
			for _, id := range ids {
				if o := e.get(t, id); o.State != kmip.StateDestroyed && o.State != kmip.StateDestroyedCompromised {
					t.Errorf("object %s ends %v, want destroyed", id, o.State)
				}
			}
		})
	}
}

// lifecycleMessage encodes a request message of one or more batch items.
func lifecycleMessage(ver kmip.ProtocolVersion, items ...ttlv.Value) []byte {
	hdr := ttlv.Struct(kmip.TagRequestHeader,
		kmip.ProtocolVersionValue(ver),
		ttlv.Int(kmip.TagBatchCount, int32(len(items))))
	return ttlv.Marshal(ttlv.Struct(kmip.TagRequestMessage, append([]ttlv.Value{hdr}, items...)...))
}

func lifecycleItem(op kmip.Operation, fields ...ttlv.Value) ttlv.Value {
	return ttlv.Struct(kmip.TagBatchItem,
		ttlv.Enum(kmip.TagOperation, uint32(op)),
		ttlv.Struct(kmip.TagRequestPayload, fields...))
}

// TestLifecycleEncodedBatch drives a whole key life through encoded 1.x
// and 2.x messages in one batch, the identifier passed on by the ID
// Placeholder (KMIP 1.4 §4: Recover hands it on, and the later items omit
// their Unique Identifier), as a client such as MySQL does: activate,
// revoke, destroy.
func TestLifecycleEncodedBatch(t *testing.T) {
	e := newLifecycleEnv(t)
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_2, kmip.V1_4, kmip.V2_0, kmip.V2_1} {
		t.Run(ver.String(), func(t *testing.T) {
			id := e.putKey(t, kmip.StatePreActive)
			raw := lifecycleMessage(ver,
				lifecycleItem(kmip.OperationRecover, lifecycleUID(id)), // on-line: a no-op
				lifecycleItem(kmip.OperationCheck),
				lifecycleItem(kmip.OperationActivate),
				lifecycleItem(kmip.OperationObtainLease),
				lifecycleItem(kmip.OperationRevoke, lifecycleRevocation(kmip.RevocationReasonCodeSuperseded)),
				lifecycleItem(kmip.OperationDestroy),
				lifecycleItem(kmip.OperationDestroy), // fails, and the batch stops
				lifecycleItem(kmip.OperationRecover),
			)
			resp, err := ttlv.Decode(kmip.HandleMessage(context.Background(), e.svc, raw, nil), ttlv.Limits{})
			if err != nil {
				t.Fatalf("decode response: %v", err)
			}
			items := resp.All(kmip.TagBatchItem)
			if len(items) != 7 {
				t.Fatalf("%d batch items, want 7 (stop after the failure)", len(items))
			}
			wantReason := kmip.ResultReasonPermissionDenied
			if ver.Is2x() {
				wantReason = kmip.ResultReasonObjectDestroyed
			}
			for i, it := range items {
				status, _ := it.Child(kmip.TagResultStatus)
				reason, _ := it.Child(kmip.TagResultReason)
				if i == 6 {
					if kmip.ResultStatus(status.Enum()) != kmip.ResultStatusOperationFailed || kmip.ResultReason(reason.Enum()) != wantReason {
						t.Errorf("item 6: %v %v, want Operation Failed %v", kmip.ResultStatus(status.Enum()), kmip.ResultReason(reason.Enum()), wantReason)
					}
					continue
				}
				if kmip.ResultStatus(status.Enum()) != kmip.ResultStatusSuccess {
					t.Errorf("item %d: %v %v", i, kmip.ResultStatus(status.Enum()), kmip.ResultReason(reason.Enum()))
					continue
				}
				payload, _ := it.Child(kmip.TagResponsePayload)
				if uid, _ := payload.Child(kmip.TagUniqueIdentifier); uid.Text() != id {
					t.Errorf("item %d answers for %q, want %q", i, uid.Text(), id)
				}
			}
			o := e.get(t, id)
			if o.State != kmip.StateDestroyed || o.Wrapped != nil {
				t.Errorf("object ends %v with material %v", o.State, o.Wrapped)
			}
			for _, name := range []string{attrActivationDate, attrDeactivationDate, attrDestroyDate, attrRevocationReason} {
				if _, ok := o.Attr(name); !ok {
					t.Errorf("%s not set", name)
				}
			}
		})
	}
}
