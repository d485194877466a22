package service

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// lifecycleOutcome is what an operation does to an object in one state:
// success moving it to state to (0: unchanged), or failure with reason r1
// in 1.x and r2 in 2.x.
type lifecycleOutcome struct {
	to     kmip.State
	r1, r2 kmip.ResultReason
}

func lifecycleOK(to kmip.State) lifecycleOutcome { return lifecycleOutcome{to: to} }

func lifecycleFail(r1, r2 kmip.ResultReason) lifecycleOutcome {
	return lifecycleOutcome{r1: r1, r2: r2}
}

// TestLifecycleOperationsByState runs every lifecycle operation on an
// object in every state, on-line and archived, in 1.4 and 2.0. The
// expectations restate KMIP 1.4 §3.22 (transitions 1-10), §4.10-§4.23 and
// the Result Reasons of 1.4 §11 / 2.0 §6.1.x and the OASIS vectors,
// independently of the code.
func TestLifecycleOperationsByState(t *testing.T) {
	const (
		PA = kmip.StatePreActive
		A  = kmip.StateActive
		D  = kmip.StateDeactivated
		C  = kmip.StateCompromised
		X  = kmip.StateDestroyed
		XC = kmip.StateDestroyedCompromised

		PD  = kmip.ResultReasonPermissionDenied
		WK  = kmip.ResultReasonWrongKeyLifecycleState
		OD  = kmip.ResultReasonObjectDestroyed
		ARC = kmip.ResultReasonObjectArchived
	)
	states := []kmip.State{PA, A, D, C, X, XC}
	wrong := lifecycleFail(PD, WK) // a state refusal: 1.x Permission Denied
	denied := lifecycleFail(PD, PD)
	same := lifecycleOK(0)
	ops := []struct {
		name   string
		op     kmip.Operation
		fields []ttlv.Value
		want   map[kmip.State]lifecycleOutcome
	}{
		{"Activate", kmip.OperationActivate, nil,
			map[kmip.State]lifecycleOutcome{PA: lifecycleOK(A), A: wrong, D: wrong, C: wrong, X: wrong, XC: wrong}},
		{"Revoke/Unspecified", kmip.OperationRevoke, []ttlv.Value{lifecycleRevocation(kmip.RevocationReasonCodeUnspecified)},
			map[kmip.State]lifecycleOutcome{PA: wrong, A: lifecycleOK(D), D: wrong, C: wrong, X: wrong, XC: wrong}},
		{"Revoke/KeyCompromise", kmip.OperationRevoke, []ttlv.Value{lifecycleRevocation(kmip.RevocationReasonCodeKeyCompromise)},
			map[kmip.State]lifecycleOutcome{PA: lifecycleOK(C), A: lifecycleOK(C), D: lifecycleOK(C), C: wrong, X: lifecycleOK(XC), XC: wrong}},
		{"Revoke/CACompromise", kmip.OperationRevoke, []ttlv.Value{lifecycleRevocation(kmip.RevocationReasonCodeCACompromise)},
			map[kmip.State]lifecycleOutcome{PA: lifecycleOK(C), A: lifecycleOK(C), D: lifecycleOK(C), C: wrong, X: lifecycleOK(XC), XC: wrong}},
		// Active: Permission Denied in 1.4 and 2.0 alike (SKLC-M-2, AKLC-M-2).
		{"Destroy", kmip.OperationDestroy, nil,
			map[kmip.State]lifecycleOutcome{PA: lifecycleOK(X), A: denied, D: lifecycleOK(X), C: lifecycleOK(XC), X: lifecycleFail(PD, OD), XC: lifecycleFail(PD, OD)}},
		{"Archive", kmip.OperationArchive, nil,
			map[kmip.State]lifecycleOutcome{PA: same, A: same, D: same, C: same, X: same, XC: same}},
		{"Recover", kmip.OperationRecover, nil,
			map[kmip.State]lifecycleOutcome{PA: same, A: same, D: same, C: same, X: same, XC: same}},
		{"Check/Encrypt", kmip.OperationCheck, []ttlv.Value{ttlv.Int(kmip.TagCryptographicUsageMask, int32(kmip.CryptographicUsageMaskEncrypt))},
			map[kmip.State]lifecycleOutcome{PA: denied, A: same, D: denied, C: denied, X: denied, XC: denied}},
		{"Check/Decrypt", kmip.OperationCheck, []ttlv.Value{ttlv.Int(kmip.TagCryptographicUsageMask, int32(kmip.CryptographicUsageMaskDecrypt))},
			map[kmip.State]lifecycleOutcome{PA: denied, A: same, D: same, C: same, X: denied, XC: denied}},
		{"ObtainLease", kmip.OperationObtainLease, nil,
			map[kmip.State]lifecycleOutcome{PA: denied, A: same, D: same, C: same, X: denied, XC: denied}},
		{"GetUsageAllocation", kmip.OperationGetUsageAllocation, []ttlv.Value{ttlv.Long(kmip.TagUsageLimitsCount, 1)},
			map[kmip.State]lifecycleOutcome{PA: denied, A: same, D: denied, C: denied, X: denied, XC: denied}},
	}
	e := newLifecycleEnv(t)
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		for _, archived := range []bool{false, true} {
			for _, tc := range ops {
				for _, st := range states {
					name := fmt.Sprintf("%v/%s/%v", ver, tc.name, st)
					if archived {
						name += "/archived"
					}
					t.Run(name, func(t *testing.T) {
						t.Parallel() // shares the store's group commit
						want := tc.want[st]
						wantArchived := archived
						switch {
						case archived && tc.op == kmip.OperationRecover:
							wantArchived = false
						case archived:
							want = lifecycleFail(ARC, ARC) // 1.4 §11.20-§11.23, 2.0 Table 438
						case tc.op == kmip.OperationArchive:
							wantArchived = true
						}
						opts := []func(*objects.Object){lifecycleWithLimits(10, 10, kmip.UsageLimitsUnitObject)}
						if archived {
							opts = append(opts, lifecycleArchived)
						}
						id := e.putKey(t, st, opts...)
						payload, err := e.serve(ver, tc.op, append([]ttlv.Value{lifecycleUID(id)}, tc.fields...)...)
						wantReason := want.r1
						if ver.Is2x() {
							wantReason = want.r2
						}
						if got := lifecycleReasonOf(err); got != wantReason {
							t.Fatalf("result reason %v (%v), want %v", got, err, wantReason)
						}
						o := e.get(t, id)
						if err != nil {
							if o.State != st || o.Archived != archived || o.Revision != 1 {
								t.Errorf("refused operation changed the object: state %v archived %v revision %d", o.State, o.Archived, o.Revision)
							}
							return
						}
						if uid, _ := payload.Child(kmip.TagUniqueIdentifier); uid.Text() != id {
							t.Errorf("response unique identifier %q, want %q", uid.Text(), id)
						}
						wantState := want.to
						if wantState == 0 {
							wantState = st
						}
						if o.State != wantState || o.Archived != wantArchived {
							t.Errorf("object is %v archived=%v, want %v archived=%v", o.State, o.Archived, wantState, wantArchived)
						}
						if a, _ := o.Attr(attrState); kmip.State(a.Value.Enum()) != o.State {
							t.Errorf("State attribute %v, object state %v", kmip.State(a.Value.Enum()), o.State)
						}
						if (o.State == X || o.State == XC) && o.Wrapped != nil {
							t.Error("destroyed object keeps its wrapped material")
						}
					})
				}
			}
		}
	}
}

func TestLifecycleActivate(t *testing.T) {
	e := newLifecycleEnv(t)
	later := lifecycleT0.Add(48 * time.Hour)
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_0, kmip.V1_4, kmip.V2_0, kmip.V2_1} {
		t.Run(ver.String(), func(t *testing.T) {
			// A future Activation Date is replaced by the time of the
			// Activate (KMIP 1.4 §3.22 transition 4).
			id := e.putKey(t, kmip.StatePreActive, lifecycleWithAttr(attrActivationDate, lifecycleDT(later)))
			if _, err := e.serve(ver, kmip.OperationActivate, lifecycleUID(id)); err != nil {
				t.Fatalf("activate: %v", err)
			}
			o := e.get(t, id)
			if at, _ := lifecycleDate(o, attrActivationDate); !at.Equal(lifecycleT0) {
				t.Errorf("Activation Date %v, want %v", at, lifecycleT0)
			}
			if at, _ := lifecycleDate(o, attrLastChangeDate); !at.Equal(lifecycleT0) {
				t.Errorf("Last Change Date %v, want %v", at, lifecycleT0)
			}
			if st, ok := e.getAttributesState(t, ver, id); ok && st != kmip.StateActive {
				t.Errorf("Get Attributes State %v, want Active", st)
			}
		})
	}
}

func TestLifecycleRevoke(t *testing.T) {
	e := newLifecycleEnv(t)
	occurred := time.Unix(6, 0).UTC() // as in SKLC-M-2
	created := lifecycleT0.Add(-time.Hour)
	tests := []struct {
		name   string
		ver    kmip.ProtocolVersion
		fields []ttlv.Value
		// want: attribute → value, zero Value for "absent"
		want map[string]ttlv.Value
	}{
		{
			name: "compromise with occurrence date",
			ver:  kmip.V1_4,
			fields: []ttlv.Value{
				ttlv.Struct(kmip.TagRevocationReason,
					ttlv.Enum(kmip.TagRevocationReasonCode, uint32(kmip.RevocationReasonCodeKeyCompromise)),
					ttlv.Text(kmip.TagRevocationMessage, "laptop stolen")),
				ttlv.DateTime(kmip.TagCompromiseOccurrenceDate, occurred),
			},
			want: map[string]ttlv.Value{
				attrState: ttlv.Enum(kmip.TagState, uint32(kmip.StateCompromised)),
				attrRevocationReason: ttlv.Struct(kmip.TagRevocationReason,
					ttlv.Enum(kmip.TagRevocationReasonCode, uint32(kmip.RevocationReasonCodeKeyCompromise)),
					ttlv.Text(kmip.TagRevocationMessage, "laptop stolen")),
				attrCompromiseDate:       ttlv.DateTime(kmip.TagCompromiseDate, lifecycleT0),
				attrCompromiseOccurrence: ttlv.DateTime(kmip.TagCompromiseOccurrenceDate, occurred),
				attrDeactivationDate:     {},
			},
		},
		{
			// KMIP 1.4 §4.20: without a date, the Initial Date.
			name:   "compromise without occurrence date",
			ver:    kmip.V2_0,
			fields: []ttlv.Value{lifecycleRevocation(kmip.RevocationReasonCodeCACompromise)},
			want: map[string]ttlv.Value{
				attrState:                ttlv.Enum(kmip.TagState, uint32(kmip.StateCompromised)),
				attrCompromiseDate:       ttlv.DateTime(kmip.TagCompromiseDate, lifecycleT0),
				attrCompromiseOccurrence: ttlv.DateTime(kmip.TagCompromiseOccurrenceDate, created),
			},
		},
		{
			// A 2.x Date-Time Extended is accepted and kept in seconds.
			name: "compromise with extended occurrence date",
			ver:  kmip.V2_1,
			fields: []ttlv.Value{
				lifecycleRevocation(kmip.RevocationReasonCodeKeyCompromise),
				ttlv.DateTimeExtended(kmip.TagCompromiseOccurrenceDate, occurred.Add(500*time.Millisecond)),
			},
			want: map[string]ttlv.Value{
				attrCompromiseOccurrence: ttlv.DateTime(kmip.TagCompromiseOccurrenceDate, occurred),
			},
		},
		{
			name: "cessation of operation",
			ver:  kmip.V1_4,
			fields: []ttlv.Value{
				lifecycleRevocation(kmip.RevocationReasonCodeCessationOfOperation),
				// SHALL NOT be sent with this reason: ignored.
				ttlv.DateTime(kmip.TagCompromiseOccurrenceDate, occurred),
			},
			want: map[string]ttlv.Value{
				attrState: ttlv.Enum(kmip.TagState, uint32(kmip.StateDeactivated)),
				attrRevocationReason: ttlv.Struct(kmip.TagRevocationReason,
					ttlv.Enum(kmip.TagRevocationReasonCode, uint32(kmip.RevocationReasonCodeCessationOfOperation))),
				attrDeactivationDate:     ttlv.DateTime(kmip.TagDeactivationDate, lifecycleT0),
				attrCompromiseDate:       {},
				attrCompromiseOccurrence: {},
				attrLastChangeDate:       ttlv.DateTime(kmip.TagLastChangeDate, lifecycleT0),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Set(created)
			id := e.putKey(t, kmip.StateActive)
			e.clock.Set(lifecycleT0)
			if _, err := e.serve(tc.ver, kmip.OperationRevoke, append([]ttlv.Value{lifecycleUID(id)}, tc.fields...)...); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			o := e.get(t, id)
			for name, want := range tc.want {
				got, ok := o.Attr(name)
				switch {
				case want.IsZero() && ok:
					t.Errorf("%s = %v, want absent", name, got.Value)
				case !want.IsZero() && (!ok || !ttlv.Equal(got.Value, want)):
					t.Errorf("%s = %v (present %v), want %v", name, got.Value, ok, want)
				}
			}
		})
	}
}

func TestLifecycleRevokeBadRequests(t *testing.T) {
	e := newLifecycleEnv(t)
	id := e.putKey(t, kmip.StateActive)
	tests := []struct {
		name   string
		ver    kmip.ProtocolVersion
		fields []ttlv.Value
		want   kmip.ResultReason
	}{
		{"no revocation reason", kmip.V1_4, []ttlv.Value{lifecycleUID(id)}, kmip.ResultReasonInvalidMessage},
		{"reason not a structure", kmip.V2_0, []ttlv.Value{lifecycleUID(id), ttlv.Enum(kmip.TagRevocationReason, 1)}, kmip.ResultReasonInvalidMessage},
		{"no reason code", kmip.V1_4, []ttlv.Value{lifecycleUID(id), ttlv.Struct(kmip.TagRevocationReason)}, kmip.ResultReasonInvalidMessage},
		// KMIP 1.4 §11.21: "Revocation Reason is not recognized".
		{"unknown reason code", kmip.V1_4, []ttlv.Value{lifecycleUID(id), lifecycleRevocation(99)}, kmip.ResultReasonInvalidField},
		{"extension reason code", kmip.V2_0, []ttlv.Value{lifecycleUID(id), lifecycleRevocation(0x80000001)}, kmip.ResultReasonInvalidField},
		{"message too long", kmip.V1_4, []ttlv.Value{lifecycleUID(id), ttlv.Struct(kmip.TagRevocationReason,
			ttlv.Enum(kmip.TagRevocationReasonCode, uint32(kmip.RevocationReasonCodeUnspecified)),
			ttlv.Text(kmip.TagRevocationMessage, string(make([]byte, maxRevocationMessage+1))))}, kmip.ResultReasonInvalidField},
		{"occurrence date not a date", kmip.V1_4, []ttlv.Value{lifecycleUID(id),
			lifecycleRevocation(kmip.RevocationReasonCodeKeyCompromise), ttlv.Text(kmip.TagCompromiseOccurrenceDate, "yesterday")}, kmip.ResultReasonInvalidMessage},
		{"unknown object", kmip.V1_4, []ttlv.Value{lifecycleUID("no-such-object"), lifecycleRevocation(kmip.RevocationReasonCodeUnspecified)}, kmip.ResultReasonItemNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.serve(tc.ver, kmip.OperationRevoke, tc.fields...)
			if got := lifecycleReasonOf(err); got != tc.want {
				t.Errorf("reason %v (%v), want %v", got, err, tc.want)
			}
		})
	}
	if o := e.get(t, id); o.State != kmip.StateActive || o.Revision != 1 {
		t.Errorf("refused revokes changed the object: %v, revision %d", o.State, o.Revision)
	}
}

// TestLifecycleDestroyKeepsMetadata: KMIP 1.4 §4.21, 2.0 §6.1.15: the
// material goes, the metadata stays and can still be read.
func TestLifecycleDestroyKeepsMetadata(t *testing.T) {
	e := newLifecycleEnv(t)
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		t.Run(ver.String(), func(t *testing.T) {
			id := e.putKey(t, kmip.StateCompromised, func(o *objects.Object) { o.Public = []byte{0x30, 0x00} })
			before := e.get(t, id)
			e.clock.Set(lifecycleT0.Add(time.Minute))
			defer e.clock.Set(lifecycleT0)
			if _, err := e.serve(ver, kmip.OperationDestroy, lifecycleUID(id)); err != nil {
				t.Fatalf("destroy: %v", err)
			}
			o := e.get(t, id)
			if o.Wrapped != nil || o.Public != nil {
				t.Errorf("material kept: wrapped %v, public %d bytes", o.Wrapped, len(o.Public))
			}
			if o.State != kmip.StateDestroyedCompromised {
				t.Errorf("state %v, want DestroyedCompromised", o.State)
			}
			if at, ok := lifecycleDate(o, attrDestroyDate); !ok || !at.Equal(lifecycleT0.Add(time.Minute)) {
				t.Errorf("Destroy Date %v (present %v), want %v", at, ok, lifecycleT0.Add(time.Minute))
			}
			for _, name := range []string{attrUniqueIdentifier, attrObjectType, attrCryptoAlgorithm, attrCryptoLength, attrCryptoUsageMask, attrInitialDate} {
				want, _ := before.Attr(name)
				if got, ok := o.Attr(name); !ok || !ttlv.Equal(got.Value, want.Value) {
					t.Errorf("%s lost or changed by destroy: %v", name, got.Value)
				}
			}
			// Percona polls State: a destroyed object must still answer.
			if st, ok := e.getAttributesState(t, ver, id); ok && st != kmip.StateDestroyedCompromised {
				t.Errorf("Get Attributes State %v, want DestroyedCompromised", st)
			}
		})
	}
}

// TestLifecycleDateDrivenTransitions: the Activation and Deactivation
// Dates move the object when reached (KMIP 1.4 §3.22 transitions 4 and 6),
// whatever operation loads it next, and the change is stored.
func TestLifecycleDateDrivenTransitions(t *testing.T) {
	e := newLifecycleEnv(t)
	activation, deactivation := lifecycleT0.Add(time.Hour), lifecycleT0.Add(2*time.Hour)
	id := e.putKey(t, kmip.StatePreActive,
		lifecycleWithAttr(attrActivationDate, lifecycleDT(activation)),
		lifecycleWithAttr(attrDeactivationDate, lifecycleDT(deactivation)))
	encrypt := ttlv.Int(kmip.TagCryptographicUsageMask, int32(kmip.CryptographicUsageMaskEncrypt))
	steps := []struct {
		at        time.Time
		ver       kmip.ProtocolVersion
		wantState kmip.State
		wantCheck kmip.ResultReason // Check with Encrypt
	}{
		{lifecycleT0, kmip.V1_4, kmip.StatePreActive, kmip.ResultReasonPermissionDenied},
		{activation.Add(-time.Second), kmip.V2_0, kmip.StatePreActive, kmip.ResultReasonPermissionDenied},
		{activation, kmip.V2_0, kmip.StateActive, 0},
		{deactivation.Add(-time.Second), kmip.V1_4, kmip.StateActive, 0},
		{deactivation, kmip.V1_4, kmip.StateDeactivated, kmip.ResultReasonPermissionDenied},
	}
	for _, st := range steps {
		t.Run(st.at.Format(time.TimeOnly), func(t *testing.T) {
			e.clock.Set(st.at)
			if gas, ok := e.getAttributesState(t, st.ver, id); ok && gas != st.wantState {
				t.Errorf("Get Attributes State %v, want %v", gas, st.wantState)
			}
			_, err := e.serve(st.ver, kmip.OperationCheck, lifecycleUID(id), encrypt)
			if got := lifecycleReasonOf(err); got != st.wantCheck {
				t.Errorf("check: %v (%v), want %v", got, err, st.wantCheck)
			}
			// While the dates make it Active, the key cannot be destroyed.
			if st.wantState == kmip.StateActive {
				if _, err := e.serve(st.ver, kmip.OperationDestroy, lifecycleUID(id)); lifecycleReasonOf(err) != kmip.ResultReasonPermissionDenied {
					t.Errorf("destroy: %v, want Permission Denied", err)
				}
			}
			if o := e.get(t, id); o.State != st.wantState {
				t.Errorf("stored state %v, want %v", o.State, st.wantState)
			} else if a, _ := o.Attr(attrState); kmip.State(a.Value.Enum()) != st.wantState {
				t.Errorf("stored State attribute %v, want %v", kmip.State(a.Value.Enum()), st.wantState)
			}
		})
	}
	e.clock.Set(deactivation.Add(time.Minute))
	if _, err := e.serve(kmip.V1_4, kmip.OperationDestroy, lifecycleUID(id)); err != nil {
		t.Errorf("destroy after deactivation: %v", err)
	}
}

func TestLifecycleArchiveRecover(t *testing.T) {
	e := newLifecycleEnv(t)
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		t.Run(ver.String(), func(t *testing.T) {
			id := e.putKey(t, kmip.StateActive)
			if _, err := e.serve(ver, kmip.OperationArchive, lifecycleUID(id)); err != nil {
				t.Fatalf("archive: %v", err)
			}
			o := e.get(t, id)
			if at, ok := lifecycleDate(o, lifecycleArchiveDate); !o.Archived || !ok || !at.Equal(lifecycleT0) {
				t.Fatalf("archived %v, Archive Date %v (%v)", o.Archived, at, ok)
			}
			// Locate's on-line search no longer finds it.
			if ids, err := e.store.Locate(context.Background(), objects.Query{Filters: []objects.Filter{objects.Equals(attrUniqueIdentifier, ttlv.Text(0, id))}}); err != nil || len(ids) != 0 {
				t.Errorf("on-line locate found the archived object: %v %v", ids, err)
			}
			// The object cannot be used until recovered.
			usable := o
			if err := e.svc.requireUsable(context.Background(), lifecycleRequest(ver, kmip.OperationEncrypt), usable, kmip.CryptographicUsageMaskEncrypt); lifecycleReasonOf(err) != kmip.ResultReasonObjectArchived {
				t.Errorf("requireUsable on archived: %v", err)
			}
			if _, err := e.serve(ver, kmip.OperationRecover, lifecycleUID(id)); err != nil {
				t.Fatalf("recover: %v", err)
			}
			o = e.get(t, id)
			if _, ok := o.Attr(lifecycleArchiveDate); o.Archived || ok {
				t.Errorf("after recover: archived %v, Archive Date present %v", o.Archived, ok)
			}
			if err := e.svc.requireUsable(context.Background(), lifecycleRequest(ver, kmip.OperationEncrypt), o, kmip.CryptographicUsageMaskEncrypt); err != nil {
				t.Errorf("requireUsable after recover: %v", err)
			}
			// Recovering an on-line object succeeds and writes nothing.
			rev := o.Revision
			if _, err := e.serve(ver, kmip.OperationRecover, lifecycleUID(id)); err != nil {
				t.Fatalf("second recover: %v", err)
			}
			if o := e.get(t, id); o.Revision != rev {
				t.Errorf("recover of an on-line object wrote it (revision %d → %d)", rev, o.Revision)
			}
		})
	}
}

func TestLifecycleObtainLease(t *testing.T) {
	e := newLifecycleEnv(t)
	changed := lifecycleT0.Add(-time.Hour)
	tests := []struct {
		name      string
		ver       kmip.ProtocolVersion
		opts      []func(*objects.Object)
		wantLease uint32
		wantDate  time.Time
	}{
		// KMIP 1.4 §4.17: zero, "no lease interval is effective".
		{"no lease time", kmip.V1_4, nil, 0, lifecycleT0},
		{"lease time", kmip.V2_0, []func(*objects.Object){
			lifecycleWithAttr(attrLeaseTime, ttlv.Interval(0, 3600)),
			lifecycleWithAttr(attrLastChangeDate, lifecycleDT(changed)),
		}, 3600, changed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := e.putKey(t, kmip.StateActive, tc.opts...)
			payload, err := e.serve(tc.ver, kmip.OperationObtainLease, lifecycleUID(id))
			if err != nil {
				t.Fatalf("obtain lease: %v", err)
			}
			// KMIP 1.4 Table 207: Unique Identifier, Lease Time, Last
			// Change Date, in that order.
			want := kmip.Payload(lifecycleUID(id), ttlv.Interval(kmip.TagLeaseTime, tc.wantLease), ttlv.DateTime(kmip.TagLastChangeDate, tc.wantDate))
			if !ttlv.Equal(payload, want) {
				t.Errorf("payload %v, want %v", payload, want)
			}
			if o := e.get(t, id); o.Revision != 1 {
				t.Errorf("obtain lease wrote the object (revision %d)", o.Revision)
			}
		})
	}
}

// TestLifecycleTargets: the identifier comes from the payload or the ID
// Placeholder, and objects of other tenants are not found.
func TestLifecycleTargets(t *testing.T) {
	e := newLifecycleEnv(t)
	mine := e.putKey(t, kmip.StatePreActive)
	theirs := e.putKey(t, kmip.StatePreActive, func(o *objects.Object) { o.Tenant = "other" })
	ops := []kmip.Operation{kmip.OperationActivate, kmip.OperationRevoke, kmip.OperationDestroy, kmip.OperationArchive,
		kmip.OperationRecover, kmip.OperationCheck, kmip.OperationObtainLease, kmip.OperationGetUsageAllocation}
	for _, op := range ops {
		for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
			t.Run(fmt.Sprintf("%v/%v", op, ver), func(t *testing.T) {
				extra := []ttlv.Value{}
				switch op {
				case kmip.OperationRevoke:
					extra = append(extra, lifecycleRevocation(kmip.RevocationReasonCodeKeyCompromise))
				case kmip.OperationGetUsageAllocation:
					extra = append(extra, ttlv.Long(kmip.TagUsageLimitsCount, 1))
				default:
					// The other operations need only the identifier.
				}
				for _, tc := range []struct {
					name string
					req  *kmip.Request
				}{
					{"no identifier", lifecycleRequest(ver, op, extra...)},
					{"unknown", lifecycleRequest(ver, op, append([]ttlv.Value{lifecycleUID("nope")}, extra...)...)},
					{"other tenant", lifecycleRequest(ver, op, append([]ttlv.Value{lifecycleUID(theirs)}, extra...)...)},
				} {
					if _, err := e.svc.ServeKMIP(context.Background(), tc.req); lifecycleReasonOf(err) != kmip.ResultReasonItemNotFound {
						t.Errorf("%s: %v, want Item Not Found", tc.name, err)
					}
				}
			})
		}
	}
	if o := e.get(t, theirs); o.Revision != 1 {
		t.Errorf("another tenant's object was changed (revision %d)", o.Revision)
	}
	// The ID Placeholder stands in for an omitted identifier.
	req := lifecycleRequest(kmip.V1_4, kmip.OperationActivate)
	req.IDPlaceholder = mine
	if _, err := e.svc.ServeKMIP(context.Background(), req); err != nil {
		t.Fatalf("activate by placeholder: %v", err)
	}
	if o := e.get(t, mine); o.State != kmip.StateActive {
		t.Errorf("state %v after activate by placeholder", o.State)
	}
}

// TestLifecycleConcurrentDestroy: the state is judged inside the store
// transaction, so of racing Destroys exactly one succeeds.
func TestLifecycleConcurrentDestroy(t *testing.T) {
	e := newLifecycleEnv(t)
	id := e.putKey(t, kmip.StateDeactivated)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.serve(kmip.V2_0, kmip.OperationDestroy, lifecycleUID(id))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch lifecycleReasonOf(err) {
		case 0:
			ok++
		case kmip.ResultReasonObjectDestroyed:
		default:
			t.Errorf("destroy: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d destroys succeeded, want 1", ok)
	}
}
