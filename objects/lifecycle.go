package objects

import (
	"fmt"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// transitions is every state change KMIP 1.4 §3.22 (2.0 §4.50) permits,
// keyed by (from, to), with the spec's transition number as the value.
// "Only the transitions described above are permitted": anything missing
// here is refused. The zero State stands for "does not exist yet".
var transitions = map[[2]kmip.State]int{
	{0, kmip.StatePreActive}: 1, // Create, Register, ...

	{kmip.StatePreActive, kmip.StateDestroyed}:   2, // Destroy
	{kmip.StatePreActive, kmip.StateCompromised}: 3, // Revoke, reason Compromised
	{kmip.StatePreActive, kmip.StateActive}:      4, // Activation Date reached, Activate

	{kmip.StateActive, kmip.StateCompromised}: 5, // Revoke, reason Compromised
	{kmip.StateActive, kmip.StateDeactivated}: 6, // Deactivation Date reached, Revoke

	{kmip.StateDeactivated, kmip.StateDestroyed}:   7, // Destroy
	{kmip.StateDeactivated, kmip.StateCompromised}: 8, // Revoke, reason Compromised

	{kmip.StateCompromised, kmip.StateDestroyedCompromised}: 9,  // Destroy
	{kmip.StateDestroyed, kmip.StateDestroyedCompromised}:   10, // Revoke, reason Compromised
}

// Transition reports whether KMIP 1.4 §3.22 lets an object go from one
// state to the other, and wraps ErrInvalidTransition when it does not.
// Staying in the same state is not a transition and is refused too: an
// Activate of an Active object is a Wrong Key Lifecycle State error.
func Transition(from, to kmip.State) error {
	if _, ok := transitions[[2]kmip.State{from, to}]; ok {
		return nil
	}
	return fmt.Errorf("state %v to %v: %w", from, to, ErrInvalidTransition)
}

// EffectiveState is the state o is in at now once the date-driven
// transitions of KMIP 1.4 §3.22 are applied:
//
//   - 4: Pre-Active becomes Active when the Activation Date is reached;
//   - 6: Active becomes Deactivated when the Deactivation Date is reached.
//
// Both may apply in turn. A Pre-Active object whose Deactivation Date has
// passed but whose Activation Date has not stays Pre-Active, since §3.22
// has no Pre-Active to Deactivated transition. The compromise dates never
// move an object: the Compromise Date records when the server entered the
// Compromised state on a Revoke (§3.30) and the Compromise Occurrence Date
// when the compromise is believed to have happened (§3.29), so neither is
// a trigger. Compromised and Destroyed objects are left as they are.
func EffectiveState(o *Object, now time.Time) kmip.State {
	s := o.State
	n := microsOf(now)
	if s == kmip.StatePreActive {
		if at, ok := o.dateAttr(attrActivationDate); ok && at <= n {
			s = kmip.StateActive
		}
	}
	if s == kmip.StateActive {
		if at, ok := o.dateAttr(attrDeactivationDate); ok && at <= n {
			s = kmip.StateDeactivated
		}
	}
	return s
}

// ApplyDates moves o to EffectiveState(o, now) and reports whether the
// state changed, so the caller knows to persist it. A "State" attribute in
// o.Attributes, if present, is updated too, keeping its tag.
func ApplyDates(o *Object, now time.Time) bool {
	s := EffectiveState(o, now)
	if s == o.State {
		return false
	}
	o.State = s
	for i := range o.Attributes {
		if o.Attributes[i].Name == attrState {
			o.Attributes[i].Value = ttlv.Enum(o.Attributes[i].Value.Tag, uint32(s))
		}
	}
	return true
}

// isDestroyed reports whether the object's key material is gone (KMIP 2.0
// §12.3 "Destroyed storage").
func isDestroyed(s kmip.State) bool {
	return s == kmip.StateDestroyed || s == kmip.StateDestroyedCompromised
}

// dateAttr returns the lowest-index instance of a Date-Time attribute in
// microseconds since the epoch.
func (o *Object) dateAttr(name string) (int64, bool) {
	a, ok := o.Attr(name)
	if !ok {
		return 0, false
	}
	return dateMicros(a.Value)
}
