package server

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
)

// The use cases' input types, which the API decodes and the forms fill (package app).
type (
	eventInput        = app.EventInput
	venueJSON         = app.VenueInput
	occurrenceInput   = app.OccurrenceInput
	speakerJSON       = app.SpeakerInput
	registrationInput = app.RegistrationForm
	messageInput      = app.Message
)

func parseDate(field, v string) (time.Time, error) { return app.ParseDate(field, v) }

// actor is who makes the request's change: the signed-in person, if any, and the
// language of their page.
func actor(c echo.Context) app.Actor {
	return app.Actor{Person: personOf(c), Lang: localizerOf(c).Lang()}
}
