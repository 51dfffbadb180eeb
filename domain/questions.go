package domain

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Question kinds an organiser can ask at registration.
const (
	QuestionText     = "text"     // a short free answer
	QuestionSingle   = "single"   // one of the options
	QuestionMultiple = "multiple" // any of the options
)

// Question is one of an event's own registration questions.
type Question struct {
	ID       string   `json:"id"` // stable key of the answers ("q1", "q2", …)
	Label    string   `json:"label"`
	Kind     string   `json:"kind"`
	Options  []string `json:"options,omitempty"`
	Required bool     `json:"required"`
}

// Answers maps question ids to a string (text, single) or a list of strings (multiple).
type Answers map[string]any

// NormalizeQuestions checks an event's questions and gives them ids.
func NormalizeQuestions(qs []Question) ([]Question, error) {
	if len(qs) > 10 {
		return nil, Invalid("questions", "err.questions.too_many")
	}
	out := make([]Question, 0, len(qs))
	for i, q := range qs {
		q.Label = strings.TrimSpace(q.Label)
		if err := CheckStorable("questions", q.Label, q.Kind); err != nil {
			return nil, err
		}
		if err := CheckStorable("questions", q.Options...); err != nil {
			return nil, err
		}
		if q.Label == "" || utf8.RuneCountInString(q.Label) > 200 {
			return nil, Invalid("questions", "err.questions.label", "N", i+1)
		}
		switch q.Kind {
		case QuestionText:
			q.Options = nil
		case QuestionSingle, QuestionMultiple:
			var opts []string
			for _, o := range q.Options {
				if o = strings.TrimSpace(o); o != "" && !slices.Contains(opts, o) {
					if utf8.RuneCountInString(o) > 100 {
						return nil, Invalid("questions", "err.questions.option_too_long", "N", i+1)
					}
					opts = append(opts, o)
				}
			}
			if len(opts) < 2 || len(opts) > 20 {
				return nil, Invalid("questions", "err.questions.option_count", "N", i+1, "Label", Clip(q.Label))
			}
			q.Options = opts
		default:
			return nil, Invalid("questions", "err.questions.kind", "N", i+1)
		}
		q.ID = fmt.Sprintf("q%d", i+1)
		out = append(out, q)
	}
	return out, nil
}

// CheckAnswers validates answers against the questions and returns them cleaned: required
// ones present, choices among the options, text at most 1000 characters, nothing extra.
func CheckAnswers(qs []Question, given Answers) (Answers, error) {
	out := Answers{}
	for _, q := range qs {
		field := "answers." + q.ID
		v, ok := given[q.ID]
		switch q.Kind {
		case QuestionText, QuestionSingle:
			s, isString := v.(string)
			if ok && !isString {
				return nil, Invalid(field, "err.answers.one", "Label", Clip(q.Label))
			}
			s = strings.TrimSpace(s)
			if err := CheckStorable(field, s); err != nil {
				return nil, err
			}
			if s == "" {
				if q.Required {
					return nil, Invalid(field, "err.answers.required", "Label", Clip(q.Label))
				}
				continue
			}
			if q.Kind == QuestionSingle && !slices.Contains(q.Options, s) {
				return nil, Invalid(field, "err.answers.choose_one", "Label", Clip(q.Label), "Options", strings.Join(q.Options, ", "))
			}
			if utf8.RuneCountInString(s) > 1000 {
				return nil, Invalid(field, "err.answers.too_long", "Label", Clip(q.Label))
			}
			out[q.ID] = s
		case QuestionMultiple:
			var picks []string
			switch x := v.(type) {
			case nil:
			case []string:
				picks = x
			case []any:
				for _, p := range x {
					s, ok := p.(string)
					if !ok {
						return nil, Invalid(field, "err.answers.list", "Label", Clip(q.Label))
					}
					picks = append(picks, s)
				}
			default:
				return nil, Invalid(field, "err.answers.list", "Label", Clip(q.Label))
			}
			var clean []string
			for _, p := range picks {
				if !slices.Contains(q.Options, p) {
					return nil, Invalid(field, "err.answers.choose_among", "Label", Clip(q.Label), "Options", strings.Join(q.Options, ", "))
				}
				if !slices.Contains(clean, p) {
					clean = append(clean, p)
				}
			}
			if len(clean) == 0 {
				if q.Required {
					return nil, Invalid(field, "err.answers.required", "Label", Clip(q.Label))
				}
				continue
			}
			out[q.ID] = clean
		}
	}
	for id := range given {
		if !slices.ContainsFunc(qs, func(q Question) bool { return q.ID == id }) {
			return nil, Invalid("answers."+Clip(id), "err.answers.unknown", "ID", Clip(id))
		}
	}
	return out, nil
}
