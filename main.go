// Command todo is a self-hosted, multi-user todo server.
package main

import (
	"os"

	"github.com/todo-app/todo/app/cli"
)

func main() {
	os.Exit(cli.Execute())
}
