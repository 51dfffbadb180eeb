package domain

import (
	"cmp"
	"slices"
)

// MinGroup is the smallest count a report of members shows: a smaller group could point
// at a person ("the one senior researcher from Bolivia"), so it is merged into "other".
const MinGroup = 5

// GroupCount is one group of a report and how many members it has.
type GroupCount struct {
	Key   string // a country code or career stage ("" for "not given")
	Count int
}

// MemberReport is a count of members by one attribute that shows no count below
// MinGroup: groups are listed from the largest, every smaller group is counted in Other,
// and when Other would itself be below MinGroup the smallest listed groups join it until
// it is not (otherwise it could be worked out from the total). When there are fewer than
// MinGroup members in all, nothing is counted: Few is set and Other and Total are zero.
type MemberReport struct {
	Groups []GroupCount
	Other  int
	Total  int
	Few    bool
}

// NewMemberReport makes the report of counts (group → members).
func NewMemberReport(counts map[string]int) MemberReport {
	var groups []GroupCount
	total := 0
	for k, n := range counts {
		if n > 0 {
			groups = append(groups, GroupCount{Key: k, Count: n})
			total += n
		}
	}
	if total == 0 {
		return MemberReport{}
	}
	if total < MinGroup {
		return MemberReport{Few: true}
	}
	slices.SortFunc(groups, func(a, b GroupCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	other := 0
	for len(groups) > 0 && groups[len(groups)-1].Count < MinGroup {
		other += groups[len(groups)-1].Count
		groups = groups[:len(groups)-1]
	}
	for other > 0 && other < MinGroup && len(groups) > 0 {
		other += groups[len(groups)-1].Count
		groups = groups[:len(groups)-1]
	}
	return MemberReport{Groups: groups, Other: other, Total: total}
}
