// A tiny HTTP server for the real node's tests: packed alone into an image
// (package binimage), it answers on :8080 and logs each request to stdout.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	host, _ := os.Hostname()
	fmt.Println("hello: listening on :8080")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("hello: %s %s\n", r.Method, r.URL.Path)
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
