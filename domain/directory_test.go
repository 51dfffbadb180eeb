package domain_test

import (
	"reflect"
	"testing"

	"github.com/puente-org/puente/domain"
)

func TestNormalizeORCID(t *testing.T) {
	for in, want := range map[string]string{
		"0000-0002-1825-0097":                   "0000-0002-1825-0097",
		"https://orcid.org/0000-0002-1825-0097": "0000-0002-1825-0097",
		"000000021825 0097":                     "", // a space is not a hyphen
		"0000000218250097":                      "0000-0002-1825-0097",
		"0000-0002-1694-233X":                   "0000-0002-1694-233X", // check digit X (10)
		"0000-0002-1694-233x":                   "0000-0002-1694-233X",
		"0000-0002-1825-0098":                   "", // wrong check digit
		"0000-0002-1694-2330":                   "", // X expected
		"0000-0002-1825-009":                    "",
		"0000-0002-18250-097":                   "",
		"000A-0002-1825-0097":                   "",
		"":                                      "",
	} {
		got, err := domain.NormalizeORCID(in)
		if want == "" && in != "" {
			de, ok := domain.AsError(err)
			if !ok || de.Field != "directory.orcid" || de.ID != "err.directory.orcid" {
				t.Errorf("NormalizeORCID(%q) = %q, %v; want refused naming directory.orcid", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeORCID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestDirectoryEntryNormalize(t *testing.T) {
	d, err := domain.DirectoryEntry{Listed: true,
		Visible:    []domain.DirectoryField{"name", "topics", "name"},
		Topics:     []string{"  Direct  lithium extraction ", "direct lithium EXTRACTION", "", "Recycling"},
		LookingFor: []domain.LookingFor{"collaboration", "collaboration"},
		Website:    "https://example.org/~ana"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Visible, []domain.DirectoryField{"name", "topics"}) ||
		!reflect.DeepEqual(d.Topics, []string{"Direct lithium extraction", "Recycling"}) ||
		!reflect.DeepEqual(d.LookingFor, []domain.LookingFor{"collaboration"}) {
		t.Errorf("normalised: %+v", d)
	}
	for field, bad := range map[string]domain.DirectoryEntry{
		"directory.visible":     {Visible: []domain.DirectoryField{"email"}},
		"directory.looking_for": {LookingFor: []domain.LookingFor{"a job"}},
		"directory.website":     {Website: "javascript:alert(1)"},
		"directory.orcid":       {ORCID: "1234"},
		"directory.topics":      {Topics: make([]string, 0)},
	} {
		if field == "directory.topics" {
			for i := 0; i <= domain.MaxTopics; i++ {
				bad.Topics = append(bad.Topics, string(rune('a'+i)))
			}
		}
		_, err := bad.Normalize()
		if de, ok := domain.AsError(err); !ok || de.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func TestMemberReportHidesSmallGroups(t *testing.T) {
	cases := []struct {
		name   string
		counts map[string]int
		want   domain.MemberReport
	}{
		{"none", map[string]int{}, domain.MemberReport{}},
		{"too few in all", map[string]int{"GB": 3, "CL": 1}, domain.MemberReport{Few: true}},
		{"small groups merged", map[string]int{"GB": 12, "CL": 7, "BO": 2, "AR": 4, "BR": 1},
			domain.MemberReport{Groups: []domain.GroupCount{{"GB", 12}, {"CL", 7}}, Other: 7, Total: 26}},
		{"other too small takes the smallest group", map[string]int{"GB": 12, "CL": 6, "BO": 2},
			domain.MemberReport{Groups: []domain.GroupCount{{"GB", 12}}, Other: 8, Total: 20}},
		{"all large", map[string]int{"GB": 5, "CL": 5},
			domain.MemberReport{Groups: []domain.GroupCount{{"CL", 5}, {"GB", 5}}, Total: 10}},
		{"one small group among large ones", map[string]int{"GB": 5, "CL": 5, "AR": 1},
			domain.MemberReport{Groups: []domain.GroupCount{{"CL", 5}}, Other: 6, Total: 11}},
	}
	for _, c := range cases {
		got := domain.NewMemberReport(c.counts)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
		for _, g := range got.Groups {
			if g.Count < domain.MinGroup {
				t.Errorf("%s: shows %v", c.name, g)
			}
		}
		if got.Other != 0 && got.Other < domain.MinGroup {
			t.Errorf("%s: other %d", c.name, got.Other)
		}
	}
}
