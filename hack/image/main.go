// Command image builds gantry's container image without Docker or a registry
// (`make image`): gantry and kube-controlplane, stripped, with the C library
// they are linked against and the CA certificates of this machine, running as
// a non-root user. It writes a docker-save archive, which `docker load`,
// `ctr images import` and `gantry image load` accept.
//
// Build tooling, not part of gantry: it runs on the machine that built bin/.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"gantry.dev/gantry/internal/binimage"
)

func main() {
	out := flag.String("o", "bin/gantry-image.tar", "the archive to write")
	ref := flag.String("ref", "gantry.local/gantry:dev", "the image's name and tag")
	gantry := flag.String("gantry", "bin/gantry", "the gantry binary")
	kcp := flag.String("kube-controlplane", "bin/kube-controlplane", "the kube-controlplane binary")
	cas := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle for HTTPS Git and OIDC")
	version := flag.String("version", "dev", "gantry's version, for the image's labels")
	flag.Parse()
	if err := run(*out, *ref, *gantry, *kcp, *cas, *version); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(out, ref, gantry, kcp, cas, version string) error {
	tmp, err := os.MkdirTemp("", "gantry-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Symbols and DWARF are a third of gantry's binary and no use in a pod.
	var stripped []binimage.File
	for _, b := range []string{gantry, kcp} {
		dst := filepath.Join(tmp, filepath.Base(b))
		if msg, err := exec.Command("strip", "-o", dst, b).CombinedOutput(); err != nil {
			return fmt.Errorf("strip %s: %v: %s (strip comes with binutils, as cgo's gcc does)", b, err, msg)
		}
		stripped = append(stripped, binimage.File{Src: dst, Dst: "/usr/local/bin/" + filepath.Base(b)})
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".gantry-image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	size, err := binimage.Build(f, binimage.Spec{
		Ref:         ref,
		Executables: stripped,
		Files:       []binimage.File{{Src: cas, Dst: "/etc/ssl/certs/ca-certificates.crt"}},
		User:        "65532:65532",
		Username:    "gantry",
		Dirs:        []string{"/var/lib/gantry"},
		Entrypoint:  []string{"/usr/local/bin/gantry"},
		Env: []string{"PATH=/usr/local/bin", "HOME=/home/gantry",
			// kube-controlplane beside gantry (kubebin.EnvDir).
			"GANTRY_KUBE_BIN_DIR=/usr/local/bin"},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "gantry",
			"org.opencontainers.image.version": version,
		},
	})
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s, %.1f MiB (layer %.1f MiB compressed)\n", out, ref, float64(st.Size())/(1<<20), float64(size)/(1<<20))
	return nil
}
