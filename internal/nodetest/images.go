package nodetest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// HelloImage is built from testdata/hello: a small HTTP server that logs each
// request, with /echo, /get, /kubeget and /kill beside it.
const HelloImage = "example.local/hello:v1"

// HelloArchive builds HelloImage into dir and returns its docker-save
// archive, for a node this package did not start (gantry image load).
func HelloArchive(t testing.TB, dir string) string {
	t.Helper()
	return buildImage(t, dir, "hello", HelloImage, helloLinks...)
}

// helloLinks are the other names of the hello program in its image (see
// testdata/hello).
var helloLinks = []string{"echo", "get", "kubeget", "kill"}

// buildImage compiles the program in testdata/<program> statically and packs
// it as a one-layer image ref, entrypoint /<program>, with links (other names
// of the same binary, such as /echo), written as a docker-save tarball into
// dir. It returns the tarball's path.
func buildImage(t testing.TB, dir, program, ref string, links ...string) string {
	t.Helper()
	bin := filepath.Join(dir, program)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./testdata/"+program)
	build.Dir = sourceDir()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", program, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	must(t, tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}))
	must(t, tw.WriteHeader(&tar.Header{Name: program, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}))
	_, err = tw.Write(data)
	must(t, err)
	for _, l := range links {
		must(t, tw.WriteHeader(&tar.Header{Name: l, Linkname: program, Typeflag: tar.TypeSymlink, Mode: 0o777}))
	}
	must(t, tw.Close())
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerBytes)), nil })
	must(t, err)
	img, err := mutate.AppendLayers(empty.Image, layer)
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config = v1.Config{Entrypoint: []string{"/" + program}, Env: []string{"PATH=/"}}
	img, err = mutate.ConfigFile(img, cf)
	must(t, err)
	tag, err := name.NewTag(ref)
	must(t, err)
	out := filepath.Join(dir, program+".tar")
	must(t, tarball.WriteToFile(out, tag, img))
	return out
}

// sourceDir is this package's directory, where testdata is.
func sourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
