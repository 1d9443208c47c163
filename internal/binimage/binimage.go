// Package binimage packs one static binary into a one-layer container image and
// writes it as a `docker save` archive, the format `ctr images import` and
// `gantry image load` take. Gantry's real node imports its sandbox (pause) image
// this way, and tests build their HTTP server images so, without any registry.
package binimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Write packs the binary at bin as /<entry> (the image's entrypoint; default the
// binary's base name) into an image tagged ref, and writes its docker-save
// archive to w. The image holds only the binary and a world-writable /tmp.
func Write(w io.Writer, bin, ref, entry string, args ...string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	if entry == "" {
		entry = path.Base(bin)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: entry, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err = writeImage(w, tag, buf.Bytes(), v1.Config{Entrypoint: []string{"/" + entry}, Cmd: args, Env: []string{"PATH=/"}})
	return err
}

// writeImage writes the image of one layer (a tar archive, uncompressed) and
// config as a docker-save archive to w, and returns the layer's compressed
// size. The layer is compressed once, here, with the fastest gzip: a layer
// opened uncompressed is compressed again for its digest, its size and its
// write, and gantry's own is a few hundred MB of Go binaries built for every
// test run; the default level saves a few percent for twice the time.
func writeImage(w io.Writer, tag name.Tag, layerTar []byte, config v1.Config) (int64, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	if _, err := zw.Write(layerTar); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz.Bytes())), nil
	})
	if err != nil {
		return 0, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return 0, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return 0, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config = config
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return 0, err
	}
	size, err := layer.Size()
	if err != nil {
		return 0, err
	}
	return size, tarball.Write(tag, img, w)
}
