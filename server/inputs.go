package server

import (
	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
)

// actor is who makes the request's change: the signed-in person, if any, and the
// language of their page.
func actor(c echo.Context) app.Actor {
	return app.Actor{Person: personOf(c), Lang: localizerOf(c).Lang()}
}
