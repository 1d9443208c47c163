package realnode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"gantry.dev/gantry/internal/imageapi"
)

var _ imageapi.Store = (*Node)(nil)

// unpacked matches ctr's "unpacking NAME (sha256:…)...done" lines.
var unpacked = regexp.MustCompile(`(?m)^unpacking (\S+) \((sha256:[0-9a-f]+)\)`)

// LoadImages imports a docker-save or OCI archive into the kubelet's namespace
// of containerd, unpacked for its snapshotter, with Debian's ctr (the same
// release as the daemon; the containerd Go client would add its gRPC, ttrpc
// and OCI trees to gantry's go.mod for two calls). It returns the names.
func (n *Node) LoadImages(ctx context.Context, archive io.Reader) ([]string, error) {
	cmd := exec.CommandContext(ctx, n.opts.Env.Tools["ctr"], "--address", n.l.socket(), "--namespace", "k8s.io",
		"images", "import", "--snapshotter", n.opts.Env.Snapshotter, "-")
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = archive, &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s", lastLine(out.String(), err))
	}
	var names []string
	for _, m := range unpacked.FindAllStringSubmatch(out.String(), -1) {
		names = append(names, m[1])
	}
	return names, nil
}

func lastLine(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return strings.TrimPrefix(l, "ctr: ")
	}
	return err.Error()
}

// ListImages lists the named images (not the digest-only references the CRI
// adds beside each).
func (n *Node) ListImages(ctx context.Context) ([]imageapi.Image, error) {
	out, err := n.ctr(ctx, "images", "ls")
	if err != nil {
		return nil, err
	}
	var images []imageapi.Image
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		// REF TYPE DIGEST SIZE(number unit) PLATFORMS LABELS
		if i == 0 || len(f) < 5 || strings.HasPrefix(f[0], "sha256:") {
			continue
		}
		images = append(images, imageapi.Image{Name: f[0], Digest: f[2], Size: f[3] + " " + f[4]})
	}
	return images, nil
}

// snapshotterLine finds the snapshotter in the node's containerd config.
var snapshotterLine = regexp.MustCompile(`(?m)^\s*snapshotter = "([^"]+)"`)

// LoadImagesLocal imports an archive into the real node that the gantry of
// dataDir runs, from another process on the same machine (as root): what
// `gantry image load` does when that gantry runs the host only, without the
// API that takes uploads.
func LoadImagesLocal(ctx context.Context, dataDir string, archive io.Reader) ([]string, error) {
	l := newLayout(filepath.Join(dataDir, "realnode"))
	cfg, err := os.ReadFile(l.path("containerd", "config.toml"))
	if err != nil {
		return nil, fmt.Errorf("the gantry of %s runs no real node here (%v)", dataDir, err)
	}
	m := snapshotterLine.FindSubmatch(cfg)
	if m == nil {
		return nil, fmt.Errorf("no snapshotter in %s", l.path("containerd", "config.toml"))
	}
	ctr, err := exec.LookPath("ctr")
	if err != nil {
		return nil, fmt.Errorf("ctr, which imports images, is not installed (%v): apt-get install containerd", err)
	}
	n := &Node{l: l, opts: Options{Env: &Environment{Tools: map[string]string{"ctr": ctr}, Snapshotter: string(m[1])}}}
	return n.LoadImages(ctx, archive)
}
