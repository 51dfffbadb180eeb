package domain

// RegistrationStatus is where a person's registration for one occurrence stands. The
// database keeps it as text.
type RegistrationStatus string

// The registration statuses.
const (
	RegConfirmed  RegistrationStatus = "confirmed"
	RegHeld       RegistrationStatus = "held" // registered by email: the place is held until the address is confirmed
	RegWaitlisted RegistrationStatus = "waitlisted"
	RegPending    RegistrationStatus = "pending" // awaiting an organiser's approval
	RegDeclined   RegistrationStatus = "declined"
	RegCancelled  RegistrationStatus = "cancelled"
)

// Valid reports whether s is one of the statuses above.
func (s RegistrationStatus) Valid() bool {
	switch s {
	case RegConfirmed, RegHeld, RegWaitlisted, RegPending, RegDeclined, RegCancelled:
		return true
	}
	return false
}

// Active reports whether the registration still holds a place, a place in line or a
// request (not declined or cancelled).
func (s RegistrationStatus) Active() bool { return s != RegDeclined && s != RegCancelled }

// RegistrationAction is what an organiser does to one registration.
type RegistrationAction string

// The organisers' actions on a registration.
const (
	ActionApprove RegistrationAction = "approve" // pending → confirmed (or waitlisted when full)
	ActionDecline RegistrationAction = "decline" // pending or waitlisted → declined
	ActionPromote RegistrationAction = "promote" // waitlisted or pending → confirmed, if there is a free place
	ActionRemove  RegistrationAction = "remove"  // any active → cancelled; the waitlist moves up
	ActionMove    RegistrationAction = "move"    // to another session of the same event
)

// Actions are what an organiser can do to a registration in this status (a move is
// offered apart, for every active registration).
func (s RegistrationStatus) Actions() []RegistrationAction {
	switch s {
	case RegPending:
		return []RegistrationAction{ActionApprove, ActionDecline, ActionRemove}
	case RegWaitlisted:
		return []RegistrationAction{ActionPromote, ActionDecline, ActionRemove}
	case RegConfirmed, RegHeld:
		return []RegistrationAction{ActionRemove}
	}
	return nil
}
