package controlplane

import (
	"net"
	"strings"
	"testing"
)

func TestCheckStorage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	up := l.Addr().String()
	if err := checkStorage("postgres://u:secret@" + up + "/db"); err != nil {
		t.Errorf("listening server reported down: %v", err)
	}
	if err := checkStorage("mysql://u:secret@tcp(" + up + ")/db"); err != nil {
		t.Errorf("listening MySQL address reported down: %v", err)
	}
	err = checkStorage("postgres://u:secret@127.0.0.1:1/db")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1 does not answer") || strings.Contains(err.Error(), "secret") {
		t.Errorf("unreachable: %v", err)
	}
	if err := checkStorage("mysql://u:p@localhost/db"); err == nil || !strings.Contains(err.Error(), "tcp(host:port)") {
		t.Errorf("mysql without tcp(): %v", err)
	}
	if err := checkStorage("sqlite:///tmp/x.db"); err != nil {
		t.Errorf("sqlite needs no check: %v", err)
	}
}
