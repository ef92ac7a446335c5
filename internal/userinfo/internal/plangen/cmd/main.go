// Command plangen writes the generated numbering-plan data of package
// userinfo: go generate ./internal/userinfo runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/iam-userinfo/userinfo/internal/userinfo/internal/plangen"
)

func main() {
	out := flag.String("o", "plans.go", "file to write")
	flag.Parse()
	src, err := plangen.Render()
	if err == nil {
		err = os.WriteFile(*out, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "plangen:", err)
		os.Exit(1)
	}
}
