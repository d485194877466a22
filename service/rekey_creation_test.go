package service

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func TestCreationReKey(t *testing.T) {
	e := newCreationEnv(t)
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		t.Run("names and links/"+ver.String(), func(t *testing.T) {
			// TC-REKEY-1: the replacement gets the existing names plus
			// the requested one, the existing key keeps its state.
			orig := "rekey-original-" + ver.String()
			oldID := creationID(t, e.must(t, ver, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				creationTemplate(ver, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128),
					creationMask(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt),
					creationDate(attrActivationDate, time.Now().Add(-time.Hour)), creationName(orig),
					creationA("x-ID", ttlv.Text(0, "custom")))))
			first := "rekey-first-" + ver.String()
			p := e.must(t, ver, kmip.OperationReKey, creationUID(oldID), creationTemplate(ver, creationName(first)))
			if got := creationTags(p); !slices.Equal(got, []ttlv.Tag{kmip.TagUniqueIdentifier}) {
				t.Fatalf("re-key response fields %v", got)
			}
			newID := creationID(t, p)
			oldObj, newObj := e.object(t, oldID), e.object(t, newID)
			if newID == oldID {
				t.Fatal("re-key reused the identifier")
			}
			if got := creationNames(newObj); !slices.Equal(got, []string{orig, first}) {
				t.Errorf("replacement names %q", got)
			}
			if got := creationNames(oldObj); len(got) != 0 {
				t.Errorf("existing key keeps names %q", got)
			}
			if creationLinks(newObj)[kmip.LinkTypeReplacedObjectLink] != oldID || creationLinks(oldObj)[kmip.LinkTypeReplacementObjectLink] != newID {
				t.Errorf("links %v / %v", creationLinks(oldObj), creationLinks(newObj))
			}
			if oldObj.State != kmip.StateActive || newObj.State != kmip.StateActive {
				t.Errorf("states %v / %v, want both Active", oldObj.State, newObj.State)
			}
			if v := creationAttrValue(t, newObj, "x-ID").Text(); v != "custom" {
				t.Errorf("custom attribute not copied: %q", v)
			}
			if !creationAttrValue(t, newObj, attrInitialDate).Time().After(creationAttrValue(t, oldObj, attrInitialDate).Time()) {
				t.Errorf("replacement initial date not after the existing key's")
			}
			_, oldKey := creationMaterial(t, e.get(t, ver, oldID))
			_, newKey := creationMaterial(t, e.get(t, ver, newID))
			if bytes.Equal(oldKey.Bytes(), newKey.Bytes()) || len(newKey.Bytes()) != 16 {
				t.Errorf("replacement key material not new")
			}
			od, _ := creationAttrValue(t, oldObj, attrDigest).Child(kmip.TagDigestValue)
			nd, _ := creationAttrValue(t, newObj, attrDigest).Child(kmip.TagDigestValue)
			if bytes.Equal(od.Bytes(), nd.Bytes()) {
				t.Errorf("digest not recomputed")
			}
		})
		t.Run("offset/"+ver.String(), func(t *testing.T) {
			now := time.Now().UTC().Truncate(time.Second)
			at1, dt1 := now.Add(-2*time.Hour), now.Add(48*time.Hour)
			oldID := creationID(t, e.must(t, ver, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				creationTemplate(ver, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(256),
					creationDate(attrActivationDate, at1), creationDate(attrDeactivationDate, dt1),
					creationA(attrUsageLimits, ttlv.Struct(0,
						ttlv.Long(kmip.TagUsageLimitsTotal, 100), ttlv.Long(kmip.TagUsageLimitsCount, 7),
						ttlv.Enum(kmip.TagUsageLimitsUnit, 2))))))
			newID := creationID(t, e.must(t, ver, kmip.OperationReKey, creationUID(oldID), ttlv.Interval(kmip.TagOffset, 3600)))
			o := e.object(t, newID)
			it2 := creationAttrValue(t, o, attrInitialDate).Time()
			at2 := creationAttrValue(t, o, attrActivationDate).Time()
			// KMIP 1.4 Table 172.
			if !at2.Equal(it2.Add(time.Hour)) {
				t.Errorf("activation %v, want initial date %v + 1h", at2, it2)
			}
			if dt2 := creationAttrValue(t, o, attrDeactivationDate).Time(); !dt2.Equal(dt1.Add(at2.Sub(at1))) {
				t.Errorf("deactivation %v, want %v", dt2, dt1.Add(at2.Sub(at1)))
			}
			if o.State != kmip.StatePreActive {
				t.Errorf("state %v, want Pre-Active until the offset passes", o.State)
			}
			ul := creationAttrValue(t, o, attrUsageLimits)
			if c, _ := ul.Child(kmip.TagUsageLimitsCount); c.Long() != 100 {
				t.Errorf("usage limits count %d, want the total", c.Long())
			}
		})
	}
	t.Run("placeholder batch", func(t *testing.T) {
		// Create, then Re-key without an identifier: the ID Placeholder.
		resp := creationBatch(t, e, creationV14,
			creationItem(kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
				creationTemplate(creationV14, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128))),
			creationItem(kmip.OperationReKey),
			creationItem(kmip.OperationGet))
		created := creationItemID(t, resp[0])
		rekeyed := creationItemID(t, resp[1])
		if got := creationItemID(t, resp[2]); got != rekeyed || rekeyed == created {
			t.Errorf("ids %s, %s, %s: get must name the replacement", created, rekeyed, got)
		}
	})
	errTests := []struct {
		name           string
		fields         func(id string) []ttlv.Value
		want1x, want2x kmip.ResultReason
	}{
		{"offset with activation date", func(id string) []ttlv.Value {
			return []ttlv.Value{creationUID(id), ttlv.Interval(kmip.TagOffset, 60),
				creationTemplate(creationV14, creationDate(attrActivationDate, time.Now()))}
		}, kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage},
		{"unknown key", func(string) []ttlv.Value { return []ttlv.Value{creationUID("nope")} },
			kmip.ResultReasonItemNotFound, kmip.ResultReasonItemNotFound},
	}
	id := creationID(t, e.must(t, creationV14, kmip.OperationCreate, creationOT(kmip.ObjectTypeSymmetricKey),
		creationTemplate(creationV14, creationAlg(kmip.CryptographicAlgorithmAES), creationLen(128))))
	for _, tc := range errTests {
		for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
			t.Run(tc.name+"/"+ver.String(), func(t *testing.T) {
				fields := tc.fields(id)
				if ver.Is2x() && len(fields) == 3 {
					fields[2] = creationTemplate(ver, creationDate(attrActivationDate, time.Now()))
				}
				_, err := e.call(ver, kmip.OperationReKey, fields...)
				want := tc.want1x
				if ver.Is2x() {
					want = tc.want2x
				}
				creationReason(t, err, want)
			})
		}
	}
	t.Run("private key", func(t *testing.T) {
		p := e.must(t, creationV20, kmip.OperationCreateKeyPair,
			creationAttrs(creationV20, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes, creationAlg(kmip.CryptographicAlgorithmEC), creationLen(256)))
		privID := p.Children()[0].Text()
		_, err := e.call(creationV14, kmip.OperationReKey, creationUID(privID))
		creationReason(t, err, kmip.ResultReasonPermissionDenied)
		_, err = e.call(creationV20, kmip.OperationReKey, creationUID(privID))
		creationReason(t, err, kmip.ResultReasonInvalidObjectType)
	})
}

func TestCreationReKeyKeyPair(t *testing.T) {
	e := newCreationEnv(t)
	for _, ver := range []kmip.ProtocolVersion{creationV14, creationV20} {
		t.Run(ver.String(), func(t *testing.T) {
			p := e.must(t, ver, kmip.OperationCreateKeyPair,
				creationAttrs(ver, kmip.TagCommonTemplateAttribute, kmip.TagCommonAttributes,
					creationAlg(kmip.CryptographicAlgorithmECDSA), creationLen(256),
					creationDate(attrActivationDate, time.Now().Add(-time.Hour))),
				creationAttrs(ver, kmip.TagPrivateKeyTemplateAttribute, kmip.TagPrivateKeyAttributes, creationName("pair-private-"+ver.String())),
				creationAttrs(ver, kmip.TagPublicKeyTemplateAttribute, kmip.TagPublicKeyAttributes, creationName("pair-public-"+ver.String())))
			oldPriv, oldPub := p.Children()[0].Text(), p.Children()[1].Text()
			r := e.must(t, ver, kmip.OperationReKeyKeyPair, ttlv.Text(kmip.TagPrivateKeyUniqueIdentifier, oldPriv))
			if got := creationTags(r); !slices.Equal(got, []ttlv.Tag{kmip.TagPrivateKeyUniqueIdentifier, kmip.TagPublicKeyUniqueIdentifier}) {
				t.Fatalf("re-key key pair response fields %v", got)
			}
			newPriv, newPub := r.Children()[0].Text(), r.Children()[1].Text()
			np, nq := e.object(t, newPriv), e.object(t, newPub)
			op, oq := e.object(t, oldPriv), e.object(t, oldPub)
			if l := creationLinks(np); l[kmip.LinkTypePublicKeyLink] != newPub || l[kmip.LinkTypeReplacedObjectLink] != oldPriv {
				t.Errorf("new private key links %v", l)
			}
			if l := creationLinks(nq); l[kmip.LinkTypePrivateKeyLink] != newPriv || l[kmip.LinkTypeReplacedObjectLink] != oldPub {
				t.Errorf("new public key links %v", l)
			}
			if creationLinks(op)[kmip.LinkTypeReplacementObjectLink] != newPriv || creationLinks(oq)[kmip.LinkTypeReplacementObjectLink] != newPub {
				t.Errorf("old key links %v / %v", creationLinks(op), creationLinks(oq))
			}
			if got := creationNames(np); !slices.Equal(got, []string{"pair-private-" + ver.String()}) {
				t.Errorf("new private names %q", got)
			}
			if len(creationNames(op)) != 0 || len(creationNames(oq)) != 0 {
				t.Errorf("old keys keep their names")
			}
			if np.State != kmip.StateActive || op.State != kmip.StateActive {
				t.Errorf("states %v / %v", np.State, op.State)
			}
			if bytes.Equal(nq.Public, oq.Public) {
				t.Errorf("public key not replaced")
			}
		})
	}
}

// creationItem builds a request batch item.
func creationItem(op kmip.Operation, fields ...ttlv.Value) ttlv.Value {
	return ttlv.Struct(kmip.TagBatchItem,
		ttlv.Enum(kmip.TagOperation, uint32(op)),
		ttlv.Struct(kmip.TagRequestPayload, fields...))
}

// creationBatch sends one encoded request message through
// kmip.HandleMessage and returns the response batch items, failing the
// test on any failed item.
func creationBatch(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion, items ...ttlv.Value) []ttlv.Value {
	t.Helper()
	out := creationBatchRaw(t, e, ver, items...)
	for i, it := range out {
		if st, _ := it.Child(kmip.TagResultStatus); kmip.ResultStatus(st.Enum()) != kmip.ResultStatusSuccess {
			msg, _ := it.Child(kmip.TagResultMessage)
			t.Fatalf("batch item %d failed: %s", i, msg.Text())
		}
	}
	return out
}

func creationBatchRaw(t *testing.T, e *creationEnv, ver kmip.ProtocolVersion, items ...ttlv.Value) []ttlv.Value {
	t.Helper()
	hdr := ttlv.Struct(kmip.TagRequestHeader, kmip.ProtocolVersionValue(ver), ttlv.Int(kmip.TagBatchCount, int32(len(items))))
	req := ttlv.Marshal(ttlv.Struct(kmip.TagRequestMessage, append([]ttlv.Value{hdr}, items...)...))
	raw := kmip.HandleMessage(t.Context(), e.svc, req, nil)
	resp, err := ttlv.Decode(raw, ttlv.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.All(kmip.TagBatchItem)
}

func creationItemID(t *testing.T, item ttlv.Value) string {
	t.Helper()
	p, _ := item.Child(kmip.TagResponsePayload)
	return creationID(t, p)
}
