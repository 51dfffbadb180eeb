package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
)

// memberReports counts the members by country and by career stage for the network's
// reports: no names, no addresses, and no group under domain.MinGroup people.
func (s *Server) memberReports(c echo.Context) (byCountry, byStage domain.MemberReport, err error) {
	countries, stages, err := s.o.Store.MemberCounts(c.Request().Context())
	if err != nil {
		return byCountry, byStage, err
	}
	return domain.NewMemberReport(countries), domain.NewMemberReport(stages), nil
}

type reportRow struct {
	Label string
	Count int
}

type reportView struct {
	Rows  []reportRow
	Other int
	Total int
	Few   bool
}

type membersPage struct {
	ByCountry, ByStage reportView
	MinGroup           int
}

// adminMembers is the page of member counts for site admins.
func (s *Server) adminMembers(c echo.Context) error {
	byCountry, byStage, err := s.memberReports(c)
	if err != nil {
		return err
	}
	l := localizerOf(c)
	names := countryNames(l.Lang())
	view := func(r domain.MemberReport, label func(string) string) reportView {
		v := reportView{Other: r.Other, Total: r.Total, Few: r.Few}
		for _, g := range r.Groups {
			name := l.T("admin.members.not_given")
			if g.Key != "" {
				name = label(g.Key)
			}
			v.Rows = append(v.Rows, reportRow{Label: name, Count: g.Count})
		}
		return v
	}
	return s.render(c, http.StatusOK, "admin_members.html", membersPage{MinGroup: domain.MinGroup,
		ByCountry: view(byCountry, func(k string) string {
			if n, ok := names[k]; ok {
				return n
			}
			return k
		}),
		ByStage: view(byStage, func(k string) string { return l.T("career." + k) })})
}

// reportJSON is a report in the API: "other" counts the members of the groups under
// "fewer_than"; with fewer than that many members in all, "other" and "total" are null.
type reportJSON struct {
	Groups    []groupJSON `json:"groups"`
	Other     *int        `json:"other"`
	Total     *int        `json:"total"`
	FewerThan int         `json:"fewer_than"`
}

type groupJSON struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

func toReportJSON(r domain.MemberReport) reportJSON {
	j := reportJSON{Groups: []groupJSON{}, FewerThan: domain.MinGroup}
	for _, g := range r.Groups {
		j.Groups = append(j.Groups, groupJSON{Key: g.Key, Count: g.Count})
	}
	if !r.Few {
		j.Other, j.Total = &r.Other, &r.Total
	}
	return j
}

func (s *Server) apiMemberCounts(c echo.Context) error {
	byCountry, byStage, err := s.memberReports(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]reportJSON{"by_country": toReportJSON(byCountry),
		"by_career_stage": toReportJSON(byStage)})
}
