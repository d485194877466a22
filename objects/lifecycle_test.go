package objects

import (
	"errors"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func TestTransitionEveryPair(t *testing.T) {
	const none kmip.State = 0
	states := []kmip.State{none, kmip.StatePreActive, kmip.StateActive, kmip.StateDeactivated,
		kmip.StateCompromised, kmip.StateDestroyed, kmip.StateDestroyedCompromised}
	// KMIP 1.4 §3.22, transitions 1 to 10, restated independently of the
	// table under test.
	allowed := map[[2]kmip.State]bool{
		{none, kmip.StatePreActive}:                             true, // 1
		{kmip.StatePreActive, kmip.StateDestroyed}:              true, // 2
		{kmip.StatePreActive, kmip.StateCompromised}:            true, // 3
		{kmip.StatePreActive, kmip.StateActive}:                 true, // 4
		{kmip.StateActive, kmip.StateCompromised}:               true, // 5
		{kmip.StateActive, kmip.StateDeactivated}:               true, // 6
		{kmip.StateDeactivated, kmip.StateDestroyed}:            true, // 7
		{kmip.StateDeactivated, kmip.StateCompromised}:          true, // 8
		{kmip.StateCompromised, kmip.StateDestroyedCompromised}: true, // 9
		{kmip.StateDestroyed, kmip.StateDestroyedCompromised}:   true, // 10
	}
	for _, from := range states {
		for _, to := range states {
			err := Transition(from, to)
			if allowed[[2]kmip.State{from, to}] {
				if err != nil {
					t.Errorf("Transition(%d, %d) = %v, want allowed", from, to, err)
				}
			} else if !errors.Is(err, ErrInvalidTransition) {
				t.Errorf("Transition(%d, %d) = %v, want ErrInvalidTransition", from, to, err)
			}
		}
	}
}

func TestEffectiveState(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	act := func(at time.Time) kmip.Attribute {
		return dateAttr(attrActivationDate, kmip.TagActivationDate, at)
	}
	deact := func(at time.Time) kmip.Attribute {
		return dateAttr(attrDeactivationDate, kmip.TagDeactivationDate, at)
	}
	tests := []struct {
		name  string
		state kmip.State
		attrs []kmip.Attribute
		want  kmip.State
	}{
		{"pre-active without dates", kmip.StatePreActive, nil, kmip.StatePreActive},
		{"activation in the future", kmip.StatePreActive, []kmip.Attribute{act(future)}, kmip.StatePreActive},
		{"activation reached", kmip.StatePreActive, []kmip.Attribute{act(past)}, kmip.StateActive},
		{"activation exactly now", kmip.StatePreActive, []kmip.Attribute{act(now)}, kmip.StateActive},
		{"activation and deactivation reached", kmip.StatePreActive, []kmip.Attribute{act(past), deact(past)}, kmip.StateDeactivated},
		{"deactivation reached, activation not", kmip.StatePreActive, []kmip.Attribute{act(future), deact(past)}, kmip.StatePreActive},
		{"active, deactivation in the future", kmip.StateActive, []kmip.Attribute{act(past), deact(future)}, kmip.StateActive},
		{"active, deactivation reached", kmip.StateActive, []kmip.Attribute{deact(past)}, kmip.StateDeactivated},
		{"compromised ignores dates", kmip.StateCompromised, []kmip.Attribute{act(past), deact(past)}, kmip.StateCompromised},
		{"destroyed ignores dates", kmip.StateDestroyed, []kmip.Attribute{deact(past)}, kmip.StateDestroyed},
		{"compromise date is no trigger", kmip.StateActive,
			[]kmip.Attribute{dateAttr("Compromise Date", 0x420020, past), dateAttr("Compromise Occurrence Date", 0x420021, past)},
			kmip.StateActive},
		{"date-time extended activation", kmip.StatePreActive,
			[]kmip.Attribute{{Name: attrActivationDate, Value: ttlv.DateTimeExtended(kmip.TagActivationDate, past)}}, kmip.StateActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Object{ID: "k", State: tt.state, Attributes: tt.attrs}
			if got := EffectiveState(o, now); got != tt.want {
				t.Errorf("EffectiveState = %d, want %d", got, tt.want)
			}
			if o.State != tt.state {
				t.Errorf("EffectiveState changed the object")
			}
			// Every date-driven change must itself be allowed.
			if tt.want != tt.state {
				s := tt.state
				if s == kmip.StatePreActive && tt.want == kmip.StateDeactivated {
					if err := Transition(s, kmip.StateActive); err != nil {
						t.Error(err)
					}
					s = kmip.StateActive
				}
				if err := Transition(s, tt.want); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestApplyDates(t *testing.T) {
	now := time.Now()
	o := &Object{ID: "k", State: kmip.StatePreActive, Attributes: []kmip.Attribute{
		dateAttr(attrActivationDate, kmip.TagActivationDate, now.Add(-time.Minute)),
		{Name: attrState, Value: ttlv.Enum(kmip.TagState, uint32(kmip.StatePreActive))},
	}}
	if !ApplyDates(o, now) {
		t.Fatal("ApplyDates reported no change")
	}
	if o.State != kmip.StateActive {
		t.Errorf("State = %d, want Active", o.State)
	}
	a, _ := o.Attr(attrState)
	if a.Value.Tag != kmip.TagState || kmip.State(a.Value.Enum()) != kmip.StateActive {
		t.Errorf("State attribute = %+v, want Active with TagState", a.Value)
	}
	if ApplyDates(o, now) {
		t.Error("second ApplyDates reported a change")
	}
}
