package server

import (
	"context"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/docs"
)

// The OpenAPI file is valid, and it and the router describe the same API: every route
// under /api/v1 is documented and every documented operation has a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI())
	if err != nil {
		t.Fatalf("load docs/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid OpenAPI: %v", err)
	}
	base, _ := url.Parse("http://127.0.0.1")
	uc, err := app.New(app.Options{Store: nilAppStore{}, LinkKey: []byte("test")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Store: nilStore{}, App: uc, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	routes := map[string]bool{}
	for _, r := range s.e.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Path == "/api/v1/*" || strings.HasPrefix(r.Method, "echo_route_") {
			continue
		}
		routes[r.Method+" "+param.ReplaceAllString(strings.TrimPrefix(r.Path, "/api/v1"), "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routes[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes not in docs/openapi.yaml: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("documented but not routed: %v", extra)
	}
	if len(routes) < 20 {
		t.Fatalf("too few API routes found (%d); is the router walked?", len(routes))
	}
}

// nilStore and nilAppStore satisfy Store and app.Store for tests that only build the router.
type (
	nilStore    struct{ Store }
	nilAppStore struct{ app.Store }
)
