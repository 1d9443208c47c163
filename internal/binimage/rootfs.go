package binimage

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// File is one file of an image: the host file Src at the image path Dst.
type File struct {
	Src, Dst string
	Mode     int64 // default 0o755 for executables, else 0o644
}

// Spec describes a small image built from files of this machine: what
// distroless images are (a C library, CA certificates, a passwd file and the
// programs), without a base image, since no registry is reachable here to
// pull one from.
type Spec struct {
	Ref string
	// Executables are packed with the shared libraries they load (their ELF
	// interpreter and DT_NEEDED entries, found where this machine's dynamic
	// loader finds them), so a binary linked against this machine's glibc
	// runs in the image as it runs here.
	Executables []File
	// Files are packed as they are (CA certificates, say).
	Files []File
	// User is the numeric uid:gid the image runs as; a passwd and group
	// entry named Username is written for it.
	User     string
	Username string
	// Dirs are empty directories owned by User (data and scratch space).
	Dirs       []string
	Entrypoint []string
	Cmd        []string
	Env        []string
	Labels     map[string]string
}

// libDirs are where Debian's dynamic loader looks, in its order.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"}

// sharedLibraries returns the interpreter and the libraries exe needs, and
// theirs, as absolute paths; none for a static binary.
func sharedLibraries(exe string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(file string, top bool) error
	visit = func(file string, top bool) error {
		f, err := elf.Open(file)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		defer f.Close()
		if top {
			for _, p := range f.Progs {
				if p.Type != elf.PT_INTERP {
					continue
				}
				data, err := io.ReadAll(p.Open())
				if err != nil {
					return err
				}
				interp := strings.TrimRight(string(data), "\x00")
				if !seen[interp] {
					seen[interp] = true
					out = append(out, interp)
				}
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, lib := range libs {
			found := ""
			for _, d := range libDirs {
				if p := filepath.Join(d, lib); fileExists(p) {
					found = p
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, which is in none of %s", file, lib, strings.Join(libDirs, ", "))
			}
			if seen[found] {
				continue
			}
			seen[found] = true
			out = append(out, found)
			if err := visit(found, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(exe, true); err != nil {
		return nil, err
	}
	return out, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Build writes the image of spec as a docker-save archive to w (the format
// `docker load`, `ctr images import` and `gantry image load` take), and
// returns the size of its one layer, compressed.
func Build(w io.Writer, spec Spec) (int64, error) {
	tag, err := name.NewTag(spec.Ref)
	if err != nil {
		return 0, fmt.Errorf("image reference %q: %w", spec.Ref, err)
	}
	uid, gid, ok := strings.Cut(spec.User, ":")
	if !ok || uid == "" || gid == "" || spec.Username == "" {
		return 0, fmt.Errorf("image user %q: give a numeric uid:gid and a user name", spec.User)
	}
	var uidN, gidN int
	if _, err := fmt.Sscanf(uid+" "+gid, "%d %d", &uidN, &gidN); err != nil || uidN == 0 {
		return 0, fmt.Errorf("image user %q: give a numeric uid:gid other than root's", spec.User)
	}

	files := map[string]File{} // by Dst
	add := func(f File, mode int64) error {
		if !path.IsAbs(f.Dst) {
			return fmt.Errorf("image path %q is not absolute", f.Dst)
		}
		if f.Mode == 0 {
			f.Mode = mode
		}
		if old, ok := files[f.Dst]; ok && old.Src != f.Src {
			return fmt.Errorf("image path %s is both %s and %s", f.Dst, old.Src, f.Src)
		}
		files[f.Dst] = f
		return nil
	}
	for _, e := range spec.Executables {
		if err := add(e, 0o755); err != nil {
			return 0, err
		}
		libs, err := sharedLibraries(e.Src)
		if err != nil {
			return 0, err
		}
		for _, l := range libs {
			// The library's own file (symlinks followed) at the path the
			// loader asks for.
			real, err := filepath.EvalSymlinks(l)
			if err != nil {
				return 0, err
			}
			if err := add(File{Src: real, Dst: l}, 0o755); err != nil {
				return 0, err
			}
		}
	}
	for _, f := range spec.Files {
		if err := add(f, 0o644); err != nil {
			return 0, err
		}
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var mkdirs func(d string) error
	mkdirs = func(d string) error {
		if d == "/" || d == "." || dirs[d] {
			return nil
		}
		if err := mkdirs(path.Dir(d)); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	}
	// Deterministic order: the same inputs give the same layer digest.
	dsts := make([]string, 0, len(files))
	for d := range files {
		dsts = append(dsts, d)
	}
	slices.Sort(dsts)
	for _, d := range dsts {
		f := files[d]
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return 0, err
		}
		if err := mkdirs(path.Dir(d)); err != nil {
			return 0, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(d, "/"), Mode: f.Mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return 0, err
		}
		if _, err := tw.Write(data); err != nil {
			return 0, err
		}
	}
	etc := map[string]string{
		"/etc/passwd": fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%s:%s:%s:/home/%s:/sbin/nologin\n", spec.Username, uid, gid, spec.Username, spec.Username),
		"/etc/group":  fmt.Sprintf("root:x:0:\n%s:x:%s:\n", spec.Username, gid),
		// The C library's resolver reads this; without it glibc tries NIS-era defaults.
		"/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	}
	for _, p := range []string{"/etc/group", "/etc/nsswitch.conf", "/etc/passwd"} {
		if _, clash := files[p]; clash {
			return 0, errors.New("image: " + p + " is written by Build, not given as a file")
		}
		if err := mkdirs(path.Dir(p)); err != nil {
			return 0, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: 0o644, Size: int64(len(etc[p])), Typeflag: tar.TypeReg}); err != nil {
			return 0, err
		}
		if _, err := io.WriteString(tw, etc[p]); err != nil {
			return 0, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
		return 0, err
	}
	for _, d := range append([]string{"/home/" + spec.Username}, spec.Dirs...) {
		if err := mkdirs(path.Dir(d)); err != nil {
			return 0, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: uidN, Gid: gidN}); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return writeImage(w, tag, buf.Bytes(), v1.Config{Entrypoint: spec.Entrypoint, Cmd: spec.Cmd, Env: spec.Env, User: spec.User,
		Labels: spec.Labels, WorkingDir: "/home/" + spec.Username})
}
