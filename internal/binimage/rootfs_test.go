package binimage

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// An image of a dynamically linked program of this machine carries the C
// library it loads, runs as the user it names, and (as root, where chroot
// works) the program runs from the unpacked image alone.
func TestBuildPacksProgramsWithTheirLibraries(t *testing.T) {
	prog, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls on this machine to pack")
	}
	libs, err := sharedLibraries(prog)
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) == 0 {
		t.Skipf("%s is static here; nothing to check", prog)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "image.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.crt")
	os.WriteFile(ca, []byte("certs"), 0o644)
	_, err = Build(f, Spec{Ref: "example.local/ls:v1", Executables: []File{{Src: prog, Dst: "/usr/local/bin/ls"}},
		Files: []File{{Src: ca, Dst: "/etc/ssl/certs/ca-certificates.crt"}}, User: "65532:65532", Username: "app",
		Dirs: []string{"/var/lib/app"}, Entrypoint: []string{"/usr/local/bin/ls"}})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.local/ls:v1")
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q", cf.Config.User)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	got := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got["/"+strings.TrimSuffix(h.Name, "/")] = h
		p := filepath.Join(root, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, os.FileMode(h.Mode))
			os.Chown(p, h.Uid, h.Gid)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		data, _ := io.ReadAll(tr)
		os.WriteFile(p, data, os.FileMode(h.Mode))
	}
	rc.Close()
	for _, want := range append([]string{"/usr/local/bin/ls", "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd", "/tmp"}, libs...) {
		if got[want] == nil {
			t.Errorf("the image lacks %s", want)
		}
	}
	if h := got["/var/lib/app"]; h == nil || h.Uid != 65532 {
		t.Errorf("/var/lib/app is not the image user's: %+v", h)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); !strings.Contains(string(data), "app:x:65532:65532:") {
		t.Errorf("passwd:\n%s", data)
	}
	if os.Geteuid() == 0 {
		cmd := exec.Command("/usr/local/bin/ls", "/var/lib")
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "app" {
			t.Errorf("the program did not run from the image alone: %v: %s", err, out)
		}
	}

	// What cannot work is refused before anything is written.
	for _, bad := range []Spec{
		{Ref: "example.local/x:v1", User: "0:0", Username: "root"},
		{Ref: "example.local/x:v1", User: "app", Username: "app"},
		{Ref: "example.local/x:v1", User: "1:1", Username: "a", Files: []File{{Src: ca, Dst: "/etc/passwd"}}},
		{Ref: "example.local/x:v1", User: "1:1", Username: "a", Files: []File{{Src: ca, Dst: "relative"}}},
		{Ref: "Bad Ref", User: "1:1", Username: "a"},
	} {
		if _, err := Build(io.Discard, bad); err == nil {
			t.Errorf("Build(%+v) accepted", bad)
		}
	}
}
