package app_test

import (
	"testing"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
)

// The one rule for who may watch a recording, for every kind of person and setting.
func TestMayWatchRecording(t *testing.T) {
	event := domain.Event{ID: 1, Organisers: []int64{10}}
	person := func(id int64, admin bool) app.Actor {
		return app.Actor{Person: &domain.Person{ID: id, IsAdmin: admin, IsOrganiser: id == 20}}
	}
	people := []struct {
		name       string
		who        app.Actor
		registered bool
	}{
		{"anonymous", app.Actor{}, false},
		{"anonymous claiming a registration", app.Actor{}, true}, // cannot be: no person
		{"attendee not registered", person(30, false), false},
		{"registrant", person(31, false), true},
		{"organiser of the event", person(10, false), false},
		{"organiser of other events", person(20, false), false},
		{"organiser of other events, registered", person(20, false), true},
		{"site admin", person(40, true), false},
	}
	want := map[domain.RecordingAccess][]bool{
		domain.RecordingPublic:      {true, true, true, true, true, true, true, true},
		domain.RecordingRegistrants: {false, false, false, true, true, false, true, true},
		domain.RecordingOrganisers:  {false, false, false, false, true, false, false, true},
		"nonsense":                  {false, false, false, false, true, false, false, true},
	}
	for access, ws := range want {
		for i, p := range people {
			if got := app.MayWatchRecording(p.who, event, access, p.registered); got != ws[i] {
				t.Errorf("%s, %s: %v, want %v", access, p.name, got, ws[i])
			}
		}
	}
}
