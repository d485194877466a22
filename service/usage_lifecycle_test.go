package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// TestLifecycleRequireUsable: the gate of the cryptographic operations,
// KMIP 1.4 §3.19, §3.22, §3.25, §3.26, with the reasons of 1.4 §11.30-35
// and 2.0 Table 438 as the vectors use them.
func TestLifecycleRequireUsable(t *testing.T) {
	const (
		enc = kmip.CryptographicUsageMaskEncrypt
		dec = kmip.CryptographicUsageMaskDecrypt
		sig = kmip.CryptographicUsageMaskSign
		ver = kmip.CryptographicUsageMaskVerify
		mac = kmip.CryptographicUsageMaskMACGenerate

		PD  = kmip.ResultReasonPermissionDenied
		WK  = kmip.ResultReasonWrongKeyLifecycleState
		ICU = kmip.ResultReasonIncompatibleCryptographicUsageMask
		ARC = kmip.ResultReasonObjectArchived
	)
	past, future := lifecycleDT(lifecycleT0.Add(-time.Hour)), lifecycleDT(lifecycleT0.Add(time.Hour))
	tests := []struct {
		name   string
		state  kmip.State
		opts   []func(*objects.Object)
		usage  kmip.CryptographicUsageMask
		r1, r2 kmip.ResultReason // 1.x, 2.x; 0: usable
	}{
		{"active encrypt", kmip.StateActive, nil, enc, 0, 0},
		{"active decrypt", kmip.StateActive, nil, dec, 0, 0},
		{"active encrypt+decrypt", kmip.StateActive, nil, enc | dec, 0, 0},
		{"pre-active encrypt", kmip.StatePreActive, nil, enc, PD, WK},
		{"pre-active decrypt", kmip.StatePreActive, nil, dec, PD, WK},
		{"deactivated encrypt", kmip.StateDeactivated, nil, enc, PD, WK},
		{"deactivated decrypt", kmip.StateDeactivated, nil, dec, 0, 0},
		{"compromised encrypt", kmip.StateCompromised, nil, enc, PD, WK},
		{"compromised decrypt", kmip.StateCompromised, nil, dec, 0, 0},
		{"compromised verify", kmip.StateCompromised, []func(*objects.Object){lifecycleWithMask(sig | ver)}, ver, 0, 0},
		{"compromised sign", kmip.StateCompromised, []func(*objects.Object){lifecycleWithMask(sig | ver)}, sig, PD, WK},
		{"compromised decrypt+encrypt", kmip.StateCompromised, nil, dec | enc, PD, WK},
		{"destroyed decrypt", kmip.StateDestroyed, nil, dec, PD, WK},
		{"destroyed compromised decrypt", kmip.StateDestroyedCompromised, nil, dec, PD, WK},
		{"zero usage needs active", kmip.StateDeactivated, nil, 0, PD, WK},
		{"zero usage active", kmip.StateActive, nil, 0, 0, 0},
		// §3.19: the mask.
		{"mask lacks sign", kmip.StateActive, nil, sig, PD, ICU},
		{"mask lacks mac", kmip.StateActive, nil, enc | mac, PD, ICU},
		{"no mask allows nothing", kmip.StateActive, []func(*objects.Object){func(o *objects.Object) {
			o.DeleteAttr(attrCryptoUsageMask, 0)
		}}, enc, PD, ICU},
		{"unrestricted", kmip.StateActive, []func(*objects.Object){lifecycleWithMask(kmip.CryptographicUsageMaskUnrestricted)}, sig | mac, 0, 0},
		// §3.25, §3.26: Permission Denied in 1.4 and 2.0 (CS-BC-M-14,
		// CS-AC-M-8).
		{"protect stop passed, encrypt", kmip.StateActive, []func(*objects.Object){lifecycleWithAttr(attrProtectStopDate, past)}, enc, PD, PD},
		{"protect stop now, encrypt", kmip.StateActive, []func(*objects.Object){lifecycleWithAttr(attrProtectStopDate, lifecycleDT(lifecycleT0))}, enc, PD, PD},
		{"protect stop passed, decrypt", kmip.StateActive, []func(*objects.Object){lifecycleWithAttr(attrProtectStopDate, past)}, dec, 0, 0},
		{"protect stop ahead, encrypt", kmip.StateActive, []func(*objects.Object){lifecycleWithAttr(attrProtectStopDate, future)}, enc, 0, 0},
		{"process start ahead, decrypt", kmip.StateActive, []func(*objects.Object){lifecycleWithAttr(attrProcessStartDate, future)}, dec, PD, PD},
		{"process start ahead, encrypt", kmip.StateActive, []func(*objects.Object){lifecycleWithAttr(attrProcessStartDate, future)}, enc, 0, 0},
		{"process start reached, decrypt", kmip.StateActive, []func(*objects.Object){lifecycleWithAttr(attrProcessStartDate, lifecycleDT(lifecycleT0))}, dec, 0, 0},
		{"process start ahead, verify on deactivated", kmip.StateDeactivated, []func(*objects.Object){
			lifecycleWithMask(ver), lifecycleWithAttr(attrProcessStartDate, future)}, ver, PD, PD},
		// A date-driven transition is judged even on an object not loaded
		// through Service.object.
		{"activation date reached", kmip.StatePreActive, []func(*objects.Object){lifecycleWithAttr(attrActivationDate, past)}, enc, 0, 0},
		{"deactivation date reached", kmip.StateActive, []func(*objects.Object){lifecycleWithAttr(attrDeactivationDate, past)}, enc, PD, WK},
		// Archived first: the client must recover before anything else.
		{"archived", kmip.StatePreActive, []func(*objects.Object){lifecycleArchived}, enc, ARC, ARC},
	}
	e := newLifecycleEnv(t)
	for _, tc := range tests {
		o := &objects.Object{ID: "k", ObjectType: kmip.ObjectTypeSymmetricKey}
		o.SetAttr(attr(attrCryptoUsageMask, ttlv.Int(0, int32(enc|dec))))
		setState(o, tc.state)
		for _, opt := range tc.opts {
			opt(o)
		}
		for _, v := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, v), func(t *testing.T) {
				want := tc.r1
				if v.Is2x() {
					want = tc.r2
				}
				err := e.svc.requireUsable(context.Background(), lifecycleRequest(v, kmip.OperationEncrypt), o, tc.usage)
				if got := lifecycleReasonOf(err); got != want {
					t.Errorf("requireUsable: %v (%v), want %v", got, err, want)
				}
			})
		}
	}
}

// TestLifecycleConsumeUsage replays vector CS-BC-M-7 (1.4 and 2.0): a key
// with Usage Limits of 16 bytes encrypts 16 bytes once, then is refused
// with Permission Denied; decryption is never limited (§3.21).
func TestLifecycleConsumeUsage(t *testing.T) {
	e := newLifecycleEnv(t)
	ctx := context.Background()
	const enc, dec = kmip.CryptographicUsageMaskEncrypt, kmip.CryptographicUsageMaskDecrypt
	for _, v := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		t.Run(v.String(), func(t *testing.T) {
			req := lifecycleRequest(v, kmip.OperationEncrypt)
			bytesKey := e.putKey(t, kmip.StateActive, lifecycleWithLimits(16, 16, kmip.UsageLimitsUnitByte))
			steps := []struct {
				usage kmip.CryptographicUsageMask
				n     int
				want  kmip.ResultReason
				left  int64
			}{
				{enc, 16, 0, 0},
				{enc, 16, kmip.ResultReasonPermissionDenied, 0},
				{dec, 16, 0, 0},
			}
			for i, st := range steps {
				err := e.svc.consumeUsage(ctx, req, bytesKey, st.usage, st.n)
				if got := lifecycleReasonOf(err); got != st.want {
					t.Errorf("step %d: %v (%v), want %v", i, got, err, st.want)
				}
				if l, _ := usageLimitsOf(e.get(t, bytesKey)); l.count != st.left || l.total != 16 {
					t.Errorf("step %d: limits %+v, want count %d of 16", i, l, st.left)
				}
			}
			objectKey := e.putKey(t, kmip.StateActive, lifecycleWithLimits(2, 2, kmip.UsageLimitsUnitObject))
			for i, want := range []kmip.ResultReason{0, 0, kmip.ResultReasonPermissionDenied} {
				if err := e.svc.consumeUsage(ctx, req, objectKey, enc, 4096); lifecycleReasonOf(err) != want {
					t.Errorf("object unit, use %d: %v, want %v", i, err, want)
				}
			}
			// Without Usage Limits nothing is counted or written.
			free := e.putKey(t, kmip.StateActive)
			if err := e.svc.consumeUsage(ctx, req, free, enc, 1<<20); err != nil {
				t.Errorf("unlimited key: %v", err)
			}
			if o := e.get(t, free); o.Revision != 1 {
				t.Errorf("unlimited key written (revision %d)", o.Revision)
			}
		})
	}
}

func TestLifecycleCheck(t *testing.T) {
	const (
		PD  = kmip.ResultReasonPermissionDenied
		ICU = kmip.ResultReasonIncompatibleCryptographicUsageMask
		ULE = kmip.ResultReasonUsageLimitExceeded
	)
	mask := func(m kmip.CryptographicUsageMask) ttlv.Value {
		return ttlv.Int(kmip.TagCryptographicUsageMask, int32(m))
	}
	count := func(n int64) ttlv.Value { return ttlv.Long(kmip.TagUsageLimitsCount, n) }
	lease := func(s uint32) ttlv.Value { return ttlv.Interval(kmip.TagLeaseTime, s) }
	limited := []func(*objects.Object){
		lifecycleWithLimits(100, 10, kmip.UsageLimitsUnitByte),
		lifecycleWithAttr(attrLeaseTime, ttlv.Interval(0, 600)),
	}
	tests := []struct {
		name   string
		state  kmip.State
		opts   []func(*objects.Object)
		fields []ttlv.Value
		r1, r2 kmip.ResultReason
	}{
		{"nothing asked", kmip.StatePreActive, nil, nil, 0, 0},
		{"encrypt", kmip.StateActive, nil, []ttlv.Value{mask(kmip.CryptographicUsageMaskEncrypt)}, 0, 0},
		{"sign not in mask", kmip.StateActive, nil, []ttlv.Value{mask(kmip.CryptographicUsageMaskSign)}, PD, ICU},
		{"encrypt while deactivated", kmip.StateDeactivated, nil, []ttlv.Value{mask(kmip.CryptographicUsageMaskEncrypt)}, PD, PD},
		{"count within limits", kmip.StateActive, limited, []ttlv.Value{count(10)}, 0, 0},
		{"count beyond limits", kmip.StateActive, limited, []ttlv.Value{count(11)}, PD, ULE},
		{"count without limits", kmip.StateActive, nil, []ttlv.Value{count(1 << 40)}, 0, 0},
		{"lease within", kmip.StateActive, limited, []ttlv.Value{lease(600)}, 0, 0},
		{"lease beyond", kmip.StateActive, limited, []ttlv.Value{lease(601)}, PD, PD},
		{"lease without lease time", kmip.StateActive, nil, []ttlv.Value{lease(1 << 30)}, 0, 0},
		// The first refused field names the reason; all are listed.
		{"count and mask refused", kmip.StateActive, limited, []ttlv.Value{count(11), mask(kmip.CryptographicUsageMaskSign)}, PD, ICU},
		{"negative count", kmip.StateActive, nil, []ttlv.Value{count(-1)}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField},
		{"mask of wrong type", kmip.StateActive, nil, []ttlv.Value{ttlv.Enum(kmip.TagCryptographicUsageMask, 4)}, kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage},
		{"opaque object", kmip.StateActive, []func(*objects.Object){func(o *objects.Object) { o.ObjectType = kmip.ObjectTypeOpaqueObject }},
			[]ttlv.Value{mask(kmip.CryptographicUsageMaskEncrypt)}, kmip.ResultReasonIllegalOperation, kmip.ResultReasonIllegalObjectType},
		{"archived", kmip.StateActive, []func(*objects.Object){lifecycleArchived}, nil, kmip.ResultReasonObjectArchived, kmip.ResultReasonObjectArchived},
	}
	e := newLifecycleEnv(t)
	for _, tc := range tests {
		for _, v := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, v), func(t *testing.T) {
				id := e.putKey(t, tc.state, tc.opts...)
				payload, err := e.serve(v, kmip.OperationCheck, append([]ttlv.Value{lifecycleUID(id)}, tc.fields...)...)
				want := tc.r1
				if v.Is2x() {
					want = tc.r2
				}
				if got := lifecycleReasonOf(err); got != want {
					t.Fatalf("check: %v (%v), want %v", got, err, want)
				}
				if err == nil && !ttlv.Equal(payload, uidPayload(id)) {
					t.Errorf("payload %v, want the unique identifier only", payload)
				}
				if o := e.get(t, id); o.Revision != 1 {
					t.Errorf("check wrote the object (revision %d)", o.Revision)
				}
			})
		}
	}
}

func TestLifecycleGetUsageAllocation(t *testing.T) {
	const PD = kmip.ResultReasonPermissionDenied
	count := func(n int64) ttlv.Value { return ttlv.Long(kmip.TagUsageLimitsCount, n) }
	limits := lifecycleWithLimits(100, 10, kmip.UsageLimitsUnitByte)
	tests := []struct {
		name      string
		state     kmip.State
		opts      []func(*objects.Object)
		fields    []ttlv.Value
		r1, r2    kmip.ResultReason
		wantCount int64 // after the operation
	}{
		{"allocate", kmip.StateActive, []func(*objects.Object){limits}, []ttlv.Value{count(4)}, 0, 0, 6},
		{"allocate all", kmip.StateActive, []func(*objects.Object){limits}, []ttlv.Value{count(10)}, 0, 0, 0},
		// 1.4 §11.19 / 2.0 §6.1.22.1.
		{"beyond count", kmip.StateActive, []func(*objects.Object){limits}, []ttlv.Value{count(11)}, PD, kmip.ResultReasonUsageLimitExceeded, 10},
		{"no count", kmip.StateActive, []func(*objects.Object){limits}, nil, kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage, 10},
		{"zero count", kmip.StateActive, []func(*objects.Object){limits}, []ttlv.Value{count(0)}, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidField, 10},
		{"count of wrong type", kmip.StateActive, []func(*objects.Object){limits}, []ttlv.Value{ttlv.Int(kmip.TagUsageLimitsCount, 1)}, kmip.ResultReasonInvalidMessage, kmip.ResultReasonInvalidMessage, 10},
		{"no usage limits", kmip.StateActive, nil, []ttlv.Value{count(1)}, kmip.ResultReasonIllegalOperation, kmip.ResultReasonAttributeNotFound, -1},
		{"cannot protect", kmip.StateActive, []func(*objects.Object){limits, lifecycleWithMask(kmip.CryptographicUsageMaskDecrypt)}, []ttlv.Value{count(1)},
			kmip.ResultReasonIllegalOperation, kmip.ResultReasonInvalidObjectType, 10},
		// "after the Activation Date and before the Protect Stop Date".
		{"pre-active", kmip.StatePreActive, []func(*objects.Object){limits}, []ttlv.Value{count(1)}, PD, PD, 10},
		{"protect stopped", kmip.StateActive, []func(*objects.Object){limits, lifecycleWithAttr(attrProtectStopDate, lifecycleDT(lifecycleT0))}, []ttlv.Value{count(1)}, PD, PD, 10},
		{"archived", kmip.StateActive, []func(*objects.Object){limits, lifecycleArchived}, []ttlv.Value{count(1)}, kmip.ResultReasonObjectArchived, kmip.ResultReasonObjectArchived, 10},
	}
	e := newLifecycleEnv(t)
	for _, tc := range tests {
		for _, v := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
			t.Run(fmt.Sprintf("%s/%v", tc.name, v), func(t *testing.T) {
				id := e.putKey(t, tc.state, tc.opts...)
				payload, err := e.serve(v, kmip.OperationGetUsageAllocation, append([]ttlv.Value{lifecycleUID(id)}, tc.fields...)...)
				want := tc.r1
				if v.Is2x() {
					want = tc.r2
				}
				if got := lifecycleReasonOf(err); got != want {
					t.Fatalf("get usage allocation: %v (%v), want %v", got, err, want)
				}
				if err == nil && !ttlv.Equal(payload, uidPayload(id)) {
					t.Errorf("payload %v, want the unique identifier only", payload)
				}
				o := e.get(t, id)
				if l, ok := usageLimitsOf(o); ok != (tc.wantCount >= 0) || (ok && (l.count != tc.wantCount || l.total != 100 || l.unit != kmip.UsageLimitsUnitByte)) {
					t.Errorf("usage limits %+v (present %v), want count %d of 100 bytes", l, ok, tc.wantCount)
				}
				if err == nil {
					if at, _ := lifecycleDate(o, attrLastChangeDate); !at.Equal(lifecycleT0) {
						t.Errorf("Last Change Date %v, want %v", at, lifecycleT0)
					}
				}
			})
		}
	}
}
