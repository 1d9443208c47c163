package binimage

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestWritePacksTheBinaryAsTheEntrypoint(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, bin, "example.local/server:v1", "", "--port=8080"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tag, _ := name.NewTag("example.local/server:v1")
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatalf("the archive is not a docker-save image tagged example.local/server:v1: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/server"}) || !slices.Equal(cf.Config.Cmd, []string{"--port=8080"}) {
		t.Errorf("entrypoint %v cmd %v", cf.Config.Entrypoint, cf.Config.Cmd)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "server" {
			data, _ := io.ReadAll(tr)
			found = string(data) == "#!binary" && h.Mode&0o111 != 0
		}
	}
	if !found {
		t.Error("the layer lacks the executable binary")
	}
	if err := Write(io.Discard, bin, "Not A Reference!", ""); err == nil {
		t.Error("a bad reference was accepted")
	}
}
