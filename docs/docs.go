// Package docs embeds the documents the running server serves, such as the OpenAPI
// description of the JSON API, so the served copy is always the one in this folder.
package docs

import (
	"bytes"
	_ "embed"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns docs/openapi.yaml.
func OpenAPI() []byte { return bytes.Clone(openAPI) }
