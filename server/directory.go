package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
)

// DirectoryReader is what the directory's pages and API read.
type DirectoryReader interface {
	DirectoryEntry(ctx context.Context, personID int64) (domain.DirectoryEntry, error)
	Directory(ctx context.Context, f domain.DirectoryFilter) ([]domain.DirectoryListing, error)
	DirectoryListing(ctx context.Context, personID int64) (domain.DirectoryListing, error)
	MemberCounts(ctx context.Context) (byCountry, byStage map[string]int, err error)
}

// directoryFilter reads a search of the directory from the query string (page and API).
func directoryFilter(c echo.Context) (domain.DirectoryFilter, error) {
	return domain.DirectoryFilter{Query: c.QueryParam("q"), Country: c.QueryParam("country"),
		CareerStage: domain.CareerStage(c.QueryParam("career_stage")), Topic: c.QueryParam("topic"),
		LookingFor: domain.LookingFor(c.QueryParam("looking_for"))}.Normalize()
}

// checkOption is a checkbox of a form.
type checkOption struct {
	Code, Name string
	Checked    bool
}

// lookingOptions are the "looking for" choices in the reader's language.
func lookingOptions(l interface{ T(string, ...any) string }, checked []domain.LookingFor) []checkOption {
	var opts []checkOption
	for _, v := range domain.LookingFors() {
		opts = append(opts, checkOption{Code: string(v), Name: l.T("directory.looking." + string(v)), Checked: slices.Contains(checked, v)})
	}
	return opts
}

// listingView is one entry as the directory page shows it: only what its person shows.
type listingView struct {
	domain.DirectoryListing
	CountryName string
	StageName   string
	Looking     []string
}

type directoryPage struct {
	Filter       domain.DirectoryFilter
	Entries      []listingView
	Countries    []option
	CareerStages []option
	Looking      []option
	Listed       bool // the reader is listed themselves
}

func (s *Server) listingView(c echo.Context, e domain.DirectoryListing, countries map[string]string) listingView {
	l := localizerOf(c)
	v := listingView{DirectoryListing: e, CountryName: countries[e.Country]}
	if e.CareerStage != "" {
		v.StageName = l.T("career." + string(e.CareerStage))
	}
	for _, lf := range e.LookingFor {
		v.Looking = append(v.Looking, l.T("directory.looking."+string(lf)))
	}
	return v
}

func countryNames(lang string) map[string]string {
	names := map[string]string{}
	for _, o := range countryOptions(lang) {
		names[o.Code] = o.Name
	}
	return names
}

// directory is the member directory: the members who chose to be listed, searchable by
// words and filtered by country, career stage, topic and what they are looking for.
func (s *Server) directory(c echo.Context) error {
	f, err := directoryFilter(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	list, err := s.o.Store.Directory(ctx, f)
	if err != nil {
		return err
	}
	own, err := s.o.Store.DirectoryEntry(ctx, personOf(c).ID)
	if err != nil {
		return err
	}
	l := localizerOf(c)
	dp := directoryPage{Filter: f, Countries: countryOptions(l.Lang()), Listed: own.Listed}
	for _, st := range domain.CareerStages() {
		dp.CareerStages = append(dp.CareerStages, option{Code: string(st), Name: l.T("career." + string(st))})
	}
	for _, lf := range domain.LookingFors() {
		dp.Looking = append(dp.Looking, option{Code: string(lf), Name: l.T("directory.looking." + string(lf))})
	}
	names := countryNames(l.Lang())
	for _, e := range list {
		dp.Entries = append(dp.Entries, s.listingView(c, e, names))
	}
	return s.render(c, http.StatusOK, "directory.html", dp)
}

type contactPage struct {
	Entry   listingView
	Subject string
	Body    string
	Error   string
	Field   string
}

func listedID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.New(domain.CodeNotFound, "err.directory.not_listed")
	}
	return id, nil
}

func (s *Server) renderContact(c echo.Context, status int, id int64, cp contactPage) error {
	e, err := s.o.Store.DirectoryListing(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if !e.Contactable {
		return domain.New(domain.CodeForbidden, "err.directory.no_messages")
	}
	cp.Entry = s.listingView(c, e, countryNames(localizerOf(c).Lang()))
	return s.render(c, status, "directory_contact.html", cp)
}

// contactForm is the form to write to a listed member.
func (s *Server) contactForm(c echo.Context) error {
	id, err := listedID(c)
	if err != nil {
		return err
	}
	return s.renderContact(c, http.StatusOK, id, contactPage{})
}

// contactFromForm relays the message; a refused one (a field, or too many sent lately)
// shows the form again with the reason and what was written.
func (s *Server) contactFromForm(c echo.Context) error {
	id, err := listedID(c)
	if err != nil {
		return err
	}
	m := domain.ContactMessage{Subject: c.FormValue("subject"), Body: c.FormValue("body")}
	err = s.app.Contact(c.Request().Context(), actor(c), id, m)
	if de, ok := domain.AsError(err); ok && (de.Code == domain.CodeInvalid || de.Code == domain.CodeRateLimited) {
		return s.renderContact(c, statusOf[de.Code], id, contactPage{Subject: m.Subject, Body: m.Body,
			Error: s.localize(c, de), Field: de.Field})
	}
	if err != nil {
		return err
	}
	s.flash(c, "directory.contact_sent")
	return c.Redirect(http.StatusSeeOther, "/directory")
}

// directorySettings is the directory part of the profile page.
type directorySettings struct {
	Entry      domain.DirectoryEntry
	TopicsText string
	Fields     []checkOption
	Looking    []checkOption
	Error      string
	ErrorField string // the form field at fault ("orcid", "website", …)
}

func (s *Server) directorySettings(c echo.Context, d domain.DirectoryEntry) directorySettings {
	l := localizerOf(c)
	ds := directorySettings{Entry: d, TopicsText: strings.Join(d.Topics, ", "), Looking: lookingOptions(l, d.LookingFor)}
	for _, f := range domain.DirectoryFields() {
		ds.Fields = append(ds.Fields, checkOption{Code: string(f), Name: l.T("directory.field." + string(f)), Checked: d.Shows(f)})
	}
	return ds
}

// splitTopics reads the topics typed in one box, separated by commas or lines.
func splitTopics(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' || r == '\r' })
}

// saveDirectoryFromForm saves the directory part of the profile page.
func (s *Server) saveDirectoryFromForm(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return domain.Invalid("", "err.http.bad_request")
	}
	listed := form.Get("listed") == "1"
	var visible []domain.DirectoryField
	for _, v := range form["visible"] {
		visible = append(visible, domain.DirectoryField(v))
	}
	var looking []domain.LookingFor
	for _, v := range form["looking_for"] {
		looking = append(looking, domain.LookingFor(v))
	}
	topics := splitTopics(form.Get("topics"))
	bio, orcid, website := form.Get("bio"), form.Get("orcid"), form.Get("website")
	_, err = s.app.UpdateDirectoryEntry(c.Request().Context(), actor(c), app.DirectoryChange{Listed: &listed,
		Visible: &visible, Topics: &topics, LookingFor: &looking, Bio: &bio, ORCID: &orcid, Website: &website})
	if de, ok := domain.AsError(err); ok && de.Code == domain.CodeInvalid {
		pp, perr := s.profilePage(c, personOf(c).Profile)
		if perr != nil {
			return perr
		}
		pp.Directory = s.directorySettings(c, domain.DirectoryEntry{Listed: listed, Visible: visible,
			Topics: topics, LookingFor: looking, Bio: bio, ORCID: orcid, Website: website})
		pp.Directory.Error = s.localize(c, de)
		pp.Directory.ErrorField = strings.TrimPrefix(de.Field, "directory.")
		return s.render(c, http.StatusBadRequest, "profile.html", pp)
	}
	if err != nil {
		return err
	}
	s.flash(c, "directory.saved")
	return c.Redirect(http.StatusSeeOther, "/profile#directory")
}

// directoryJSON is one's own directory entry in the API (GET and PATCH /api/v1/me).
type directoryJSON struct {
	Listed     bool                    `json:"listed"`
	Visible    []domain.DirectoryField `json:"visible"`
	Topics     []string                `json:"topics"`
	LookingFor []domain.LookingFor     `json:"looking_for"`
	Bio        string                  `json:"bio"`
	ORCID      string                  `json:"orcid"`
	Website    string                  `json:"website"`
}

func toDirectoryJSON(d domain.DirectoryEntry) directoryJSON {
	j := directoryJSON{Listed: d.Listed, Visible: d.Visible, Topics: d.Topics, LookingFor: d.LookingFor,
		Bio: d.Bio, ORCID: d.ORCID, Website: d.Website}
	if j.Visible == nil {
		j.Visible = []domain.DirectoryField{}
	}
	if j.Topics == nil {
		j.Topics = []string{}
	}
	if j.LookingFor == nil {
		j.LookingFor = []domain.LookingFor{}
	}
	return j
}

// directoryChangeJSON is a partial change of it: fields left out keep their value.
type directoryChangeJSON struct {
	Listed     *bool                    `json:"listed"`
	Visible    *[]domain.DirectoryField `json:"visible"`
	Topics     *[]string                `json:"topics"`
	LookingFor *[]domain.LookingFor     `json:"looking_for"`
	Bio        *string                  `json:"bio"`
	ORCID      *string                  `json:"orcid"`
	Website    *string                  `json:"website"`
}

func (d *directoryChangeJSON) change() *app.DirectoryChange {
	if d == nil {
		return nil
	}
	return &app.DirectoryChange{Listed: d.Listed, Visible: d.Visible, Topics: d.Topics, LookingFor: d.LookingFor,
		Bio: d.Bio, ORCID: d.ORCID, Website: d.Website}
}

// meJSON is the signed-in person with their directory entry.
type meJSON struct {
	personJSON
	Directory directoryJSON `json:"directory"`
}

// listingJSON is one directory entry in the API: only the fields its person shows, and
// never an address.
type listingJSON struct {
	ID          int64               `json:"id"`
	Name        string              `json:"name,omitempty"`
	Affiliation string              `json:"affiliation,omitempty"`
	Country     string              `json:"country,omitempty"`
	CareerStage string              `json:"career_stage,omitempty"`
	Topics      []string            `json:"topics,omitempty"`
	LookingFor  []domain.LookingFor `json:"looking_for,omitempty"`
	Bio         string              `json:"bio,omitempty"`
	ORCID       string              `json:"orcid,omitempty"`
	Website     string              `json:"website,omitempty"`
	Contactable bool                `json:"contactable"`
}

func (s *Server) apiDirectory(c echo.Context) error {
	f, err := directoryFilter(c)
	if err != nil {
		return err
	}
	list, err := s.o.Store.Directory(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]listingJSON, 0, len(list))
	for _, e := range list {
		out = append(out, listingJSON{ID: e.PersonID, Name: e.Name, Affiliation: e.Affiliation, Country: e.Country,
			CareerStage: string(e.CareerStage), Topics: e.Topics, LookingFor: e.LookingFor, Bio: e.Bio,
			ORCID: e.ORCID, Website: e.Website, Contactable: e.Contactable})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

func (s *Server) apiContact(c echo.Context) error {
	id, err := listedID(c)
	if err != nil {
		return err
	}
	var req struct {
		Subject string `json:"subject"`
		Body    string `json:"body"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.app.Contact(c.Request().Context(), actor(c), id, domain.ContactMessage{Subject: req.Subject, Body: req.Body}); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "sent"})
}
