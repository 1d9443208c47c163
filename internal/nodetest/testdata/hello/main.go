// hello: a tiny HTTP server for tests on a real node. It logs every request
// (so kubectl logs has something to show) and, called as "echo" (the image
// links /echo to it), prints its arguments, so kubectl exec -- echo hi works
// in an image without a shell.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if filepath.Base(os.Args[0]) == "echo" {
		fmt.Println(strings.Join(os.Args[1:], " "))
		return
	}
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("request %s %s", r.Method, r.URL.Path)
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
