// Command puente runs the Puente platform: `puente` (or `puente serve`) starts the web
// server, `puente migrate` manages the database schema, `puente admin` manages people and
// API tokens (package cli has the commands).
package main

import (
	"os"

	"github.com/puente-org/puente/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
