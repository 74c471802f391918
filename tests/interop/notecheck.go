// notecheck — checks a marlsim checkpoint with the reference implementation
// of C2SP signed notes, golang.org/x/mod/sumdb/note (Debian package
// golang-golang-x-mod-dev), so that "standard note verifiers accept it" is
// shown, not assumed.
//
// usage: notecheck VERIFIER-KEY CHECKPOINT-FILE
// Prints the verified text and exits 0, or prints why and exits 1.
package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: notecheck VERIFIER-KEY CHECKPOINT-FILE")
		os.Exit(2)
	}
	v, err := note.NewVerifier(strings.TrimSpace(os.Args[1]))
	if err != nil {
		fmt.Println("verifier key refused:", err)
		os.Exit(1)
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fmt.Println("note refused:", err)
		os.Exit(1)
	}
	fmt.Printf("verified by %s: %q\n", n.Sigs[0].Name, n.Text)
}
