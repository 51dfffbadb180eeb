package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/notices"
)

// occurrencesName is what an event's occurrences are called in URLs: a series has
// occurrences, a conference sessions.
func occurrencesName(kind domain.EventKind) string {
	if kind == domain.KindConference {
		return "sessions"
	}
	return "occurrences"
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	if s.o.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}

	// Static files skip what is only for pages and the API: they carry no cookies (no
	// session lookup, no language or CSRF cookie) and vary only by encoding.
	e.Use(s.requestID, s.logRequests, s.metrics.middleware, s.recoverPanics, securityHeaders,
		notForStatic(s.limitBody), notForStatic(s.authenticate), notForStatic(s.chooseLanguage), notForStatic(s.csrf))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{})), s.metricsAccess)
	e.Any(staticPrefix+"*", s.staticFile)
	favicon, err := s.assets.Path("favicon.svg")
	if err != nil {
		panic(err) // the file is embedded: only a build without it gets here
	}
	e.GET("/favicon.ico", func(c echo.Context) error { return c.Redirect(http.StatusFound, favicon) })

	e.GET("/", s.home)
	e.GET("/lang/:code", s.switchLanguage)
	e.GET("/sign-in", s.signInForm)
	e.POST("/sign-in", s.requestSignIn)
	e.GET("/sign-in/link", s.signInLink)
	e.POST("/sign-in/link", s.useSignInLink)
	e.POST("/sign-out", s.signOut)

	e.GET("/programme", s.programme)
	e.GET("/series/:slug", s.seriesPage)
	e.GET("/series/:slug/past", s.seriesPastPage)
	e.GET("/conferences/:slug", s.conferencePage)
	e.GET("/series/:slug/announcements", s.announcementsPage(domain.KindSeries))
	e.GET("/series/:slug/announcements/:id", s.announcementPage(domain.KindSeries))
	e.GET("/conferences/:slug/announcements", s.announcementsPage(domain.KindConference))
	e.GET("/conferences/:slug/announcements/:id", s.announcementPage(domain.KindConference))
	e.GET("/occurrences/:id", s.occurrencePage)
	e.GET("/speaker-photos/:key", s.speakerPhoto)
	e.GET("/feeds/series/:file", s.eventFeed(domain.KindSeries))
	e.GET("/feeds/conferences/:file", s.eventFeed(domain.KindConference))
	e.GET("/feeds/programme.ics", s.programmeFeed)
	e.GET("/feeds/personal/:file", s.personalFeed)
	e.GET("/occurrences/:id/calendar.ics", s.occurrenceDownload)
	e.GET("/occurrences/:id/recording", s.recordingPage)
	e.GET("/recordings/:id/file", s.recordingFile(false))
	e.GET("/recordings/:id/download", s.recordingFile(true))
	e.GET("/join/:token", s.join)
	e.GET("/live/ws", s.liveSocket)
	e.GET("/occurrences/:id/room", s.room, s.requireSignIn)
	e.GET("/registrations/cancel/:token", s.cancelLink)
	e.POST("/registrations/cancel/:token", s.cancelByLink)
	e.GET("/registrations/confirm/:token", s.confirmLink)
	e.POST("/registrations/confirm/:token", s.confirmByLink)
	e.POST("/events/:id/register", s.registerForEventFromPage, s.requireSignIn)
	e.POST("/events/:id/unregister", s.cancelEventRegistrationFromPage, s.requireSignIn)
	e.POST("/events/:id/follow", s.follow(true))
	e.POST("/events/:id/unfollow", s.follow(false))
	e.GET("/topics/:tag", s.topicPage)
	e.POST("/topics/:tag/follow", s.followTopic(true))
	e.POST("/topics/:tag/unfollow", s.followTopic(false))
	e.POST("/occurrences/:id/register", s.registerFromPage, s.requireSignIn)
	e.POST("/occurrences/:id/register-by-email", s.registerByEmail)
	e.POST("/occurrences/:id/unregister", s.unregisterFromPage, s.requireSignIn)
	e.POST("/occurrences/:id/new-links", s.newLinksFromPage, s.requireSignIn)
	org := e.Group("/organise", s.requireSignIn)
	org.GET("/occurrences/:id/registrations", s.registrationsPage)
	org.POST("/registrations/:id/:action", s.actFromPage)
	org.POST("/occurrences/:id/message", s.messageFromPage)
	org.GET("/occurrences/:id/registrations.csv", s.occurrenceRegistrationsCSV)
	org.GET("/occurrences/:id/chat.csv", s.chatCSV)
	org.GET("/occurrences/:id/questions.csv", s.questionsCSV)
	org.GET("/events/:id/registrations.csv", s.eventRegistrationsCSV)
	org.GET("/events/:id/registrations", s.eventRegistrationsPage)
	org.GET("/events/:id/announcements", s.organiseAnnouncements)
	org.POST("/events/:id/announcements", s.announceFromPage)
	org.GET("/announcements/:id", s.editAnnouncementPage)
	org.POST("/announcements/:id", s.editAnnouncementFromPage)
	org.GET("", s.organiseDashboard)
	org.GET("/new", s.newEventPage)
	org.POST("/new", s.createEventFromForm)
	org.GET("/events/:id", s.manageEventPage)
	org.POST("/events/:id", s.updateEventFromForm)
	org.POST("/events/:id/delete", s.deleteEventFromForm)
	org.GET("/events/:id/occurrences/new", s.newOccurrencePage)
	org.POST("/events/:id/occurrences", s.addOccurrenceFromForm)
	org.POST("/events/:id/tracks", s.addTrackFromForm)
	org.POST("/tracks/:id/delete", s.deleteTrackFromForm)
	org.GET("/occurrences/:id", s.editOccurrencePage)
	org.POST("/occurrences/:id", s.saveOccurrenceFromForm)
	org.POST("/occurrences/:id/speakers/:n/photo", s.uploadSpeakerPhoto)
	org.POST("/occurrences/:id/speakers/:n/photo/delete", s.removeSpeakerPhoto)
	org.POST("/recordings/:id/access", s.setRecordingAccessFromForm)
	org.POST("/recordings/:id/replace", s.replaceRecordingFromForm)
	org.POST("/recordings/:id/delete", s.deleteRecordingFromForm)
	org.POST("/events/:id/recording-settings", s.recordingSettingsFromForm)

	mine := e.Group(notices.MySeminarsPath, s.requireSignIn)
	mine.GET("", s.mySeminars)
	mine.POST("/occurrences/:id/cancel", s.myCancelRegistration)
	mine.POST("/events/:id/cancel", s.myCancelEventRegistration)
	mine.POST("/events/:id/unfollow", s.myUnfollow)
	mine.POST("/topics/:tag/unfollow", s.myUnfollowTopic)

	me := e.Group("/profile", s.requireSignIn)
	me.GET("", s.profile)
	me.POST("", s.saveProfile)
	me.POST("/tokens", s.createToken)
	me.POST("/tokens/:id/revoke", s.revokeToken)
	me.POST("/feed/regenerate", s.regenerateFeed)
	me.GET("/export", s.exportAccount)
	me.GET("/delete", s.accountDeleteConfirm)
	me.POST("/delete", s.deleteAccountFromForm)
	me.POST("/directory", s.saveDirectoryFromForm)

	dir := e.Group("/directory", s.requireSignIn)
	dir.GET("", s.directory)
	dir.GET("/:id/contact", s.contactForm)
	dir.POST("/:id/contact", s.contactFromForm)

	e.GET(notices.UnsubscribePath+":token", s.unsubscribePage)
	e.POST(notices.UnsubscribePath+":token", s.unsubscribe)
	e.GET(notices.PreferencesPath, s.preferences, s.requireSignIn)
	e.POST(notices.PreferencesPath, s.savePreferences, s.requireSignIn)

	admin := e.Group("/admin", s.requireSignIn, s.requireAdmin)
	admin.GET("/people", s.adminPeople)
	admin.POST("/people/:id/roles", s.adminSetRoles)
	admin.GET("/members", s.adminMembers)

	if s.o.DevMail {
		dev := e.Group("/dev/mail", s.requireDevMailAccess)
		dev.GET("", s.devMailbox)
		dev.GET("/:id", s.devMailMessage)
	}

	api := e.Group("/api/v1")
	api.POST("/sign-in", s.apiRequestSignIn)
	apiMe := api.Group("/me", s.requireSignIn)
	apiMe.GET("", s.apiMe)
	apiMe.PATCH("", s.apiUpdateMe)
	apiMe.DELETE("", s.apiDeleteAccount)
	apiMe.GET("/export", s.exportAccount)
	apiMe.GET("/tokens", s.apiTokens)
	apiMe.POST("/tokens", s.apiCreateToken)
	apiMe.DELETE("/tokens/:id", s.apiRevokeToken)
	apiPeople := api.Group("/people", s.requireSignIn, s.requireAdmin)
	apiPeople.GET("", s.apiPeople)
	apiPeople.PUT("/:id/roles", s.apiSetRoles)
	api.GET("/members/counts", s.apiMemberCounts, s.requireSignIn, s.requireAdmin)
	api.GET("/directory", s.apiDirectory, s.requireSignIn)
	api.POST("/directory/:id/messages", s.apiContact, s.requireSignIn)
	for _, kind := range []domain.EventKind{domain.KindSeries, domain.KindConference} {
		g := api.Group("/" + apiCollection(kind))
		g.GET("", s.apiListEvents(kind))
		g.POST("", s.apiCreateEvent(kind))
		g.GET("/:id", s.apiGetEvent(kind))
		g.PATCH("/:id", s.apiUpdateEvent(kind))
		g.DELETE("/:id", s.apiDeleteEvent(kind))
		g.GET("/:id/"+occurrencesName(kind), s.apiEventOccurrences(kind))
		g.POST("/:id/"+occurrencesName(kind), s.apiAddOccurrence(kind))
		g.GET("/:id/registrations", s.apiEventRegistrations(kind))
		g.POST("/:id/registrations", s.apiRegisterForEvent(kind), s.requireSignIn)
		g.DELETE("/:id/registrations/me", s.apiCancelEventRegistration(kind), s.requireSignIn)
		g.POST("/:id/follow", s.apiFollowEvent(kind, true), s.requireSignIn)
		g.DELETE("/:id/follow", s.apiFollowEvent(kind, false), s.requireSignIn)
		g.GET("/:id/announcements", s.apiAnnouncements(kind))
		g.POST("/:id/announcements", s.apiPostAnnouncement(kind))
		g.POST("/:id/announcements/preview", s.apiPreviewAnnouncement(kind))
		g.POST("/:id/announcements/test", s.apiTestAnnouncement(kind))
	}
	api.POST("/occurrences/:id/registrations", s.apiRegister, s.requireSignIn)
	api.POST("/occurrences/:id/admission", s.apiAdmission, s.requireSignIn)
	api.POST("/join/:token/admission", s.linkAdmission)
	api.DELETE("/occurrences/:id/registrations/me", s.apiCancelMyRegistration, s.requireSignIn)
	api.GET("/occurrences/:id/registrations", s.apiOccurrenceRegistrations)
	api.POST("/occurrences/:id/messages", s.apiMessageRegistrants)
	api.POST("/registrations/:id/new-link", s.apiNewRegistrationLinks, s.requireSignIn)
	api.POST("/registrations/:id/:action", s.apiActOnRegistration)
	apiMe.GET("/registrations", s.apiMyRegistrations)
	api.POST("/conferences/:id/tracks", s.apiAddTrack)
	api.PATCH("/tracks/:id", s.apiUpdateTrack)
	api.DELETE("/tracks/:id", s.apiDeleteTrack)
	api.GET("/occurrences/:id", s.apiGetOccurrence)
	api.PATCH("/occurrences/:id", s.apiUpdateOccurrence)
	api.DELETE("/occurrences/:id", s.apiDeleteOccurrence)
	api.GET("/announcements/:id", s.apiGetAnnouncement)
	api.PATCH("/announcements/:id", s.apiEditAnnouncement)
	api.DELETE("/announcements/:id", s.apiCancelAnnouncement)
	api.GET("/recurrence/preview", s.apiRecurrencePreview)
	api.POST("/topics/:tag/follow", s.apiFollowTopic(true), s.requireSignIn)
	api.DELETE("/topics/:tag/follow", s.apiFollowTopic(false), s.requireSignIn)
	api.GET("/openapi.yaml", s.apiOpenAPI)
	api.Any("/*", func(c echo.Context) error { return echo.ErrNotFound })
	return e
}

// staticPrefix is the URL path the static files are served under.
const staticPrefix = "/static/"

// staticFile serves a static file; anything else under staticPrefix gets the error page,
// in the reader's language (the language middleware skips these paths so that the files
// themselves do not vary by it).
func (s *Server) staticFile(c echo.Context) error {
	r := c.Request()
	if s.assets.Serve(c.Response(), r) {
		return nil
	}
	err := echo.ErrNotFound
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.Response().Header().Set("Allow", "GET, HEAD")
		err = echo.ErrMethodNotAllowed
	}
	return s.chooseLanguage(func(echo.Context) error { return err })(c)
}

// notForStatic runs mw for every request but those for static files.
func notForStatic(mw echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := mw(next)
		return func(c echo.Context) error {
			if p := c.Request().URL.Path; strings.HasPrefix(p, staticPrefix) || p == "/favicon.ico" {
				return next(c)
			}
			return h(c)
		}
	}
}
