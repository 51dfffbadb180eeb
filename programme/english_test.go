package programme

import (
	"strings"
	"sync"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/i18n"
)

var english = sync.OnceValue(func() *i18n.Localizer {
	c, err := i18n.Load(frontend.Locales(), "en")
	if err != nil {
		panic(err)
	}
	return c.Localizer("en")
})

// message is de's text in English, as a reader sees it (dates as long dates).
func message(de *domain.Error) string {
	args := append([]any(nil), de.Args...)
	for i := 1; i < len(args); i += 2 {
		if t, ok := args[i].(time.Time); ok {
			args[i] = t.Format("Monday 2 January 2006")
		}
	}
	// the catalogue quotes with “ ”; the tests were written with plain quotes
	return strings.NewReplacer("“", `"`, "”", `"`).Replace(english().T(de.ID, args...))
}
