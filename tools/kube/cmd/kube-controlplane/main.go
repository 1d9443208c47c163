// Command kube-controlplane runs kube-apiserver, kube-controller-manager and,
// optionally, kube-scheduler in one process, as k3s does. Three processes each
// carry a Go runtime, a copy of the same client and API machinery code in memory and
// the same global tables built at init; one process carries them once. On this
// machine that is the difference between an idle host near 565 MiB and one under
// gantry's 450 MiB target, and between a virtual cluster above and under 256 MiB.
//
// Usage, one section per component, separated by "---":
//
//	kube-controlplane kube-apiserver FLAGS... --- kube-controller-manager FLAGS... [--- kube-scheduler FLAGS...]
//
// The controller-manager and the scheduler start once the API server answers
// /readyz through the controller-manager's kubeconfig. The process exits when any
// component returns, so that gantry's supervisor restarts the control plane as a
// whole; SIGTERM stops the API server gracefully (its own signal handler) and
// with it the process.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/cli/globalflag"
	"k8s.io/component-base/compatibility"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	scheduleroptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	// Work queues without a metrics ticker each (see the package's doc).
	_ "gantry.dev/gantry/tools/kube/cmd/kube-controlplane/quietqueues"
)

const separator = "---"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		// What each upstream binary prints; gantry checks it (kubebin.ReadVersion).
		fmt.Printf("Kubernetes %s\n", version.Get().GitVersion)
		return
	}
	sections, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-controlplane: %v\n", err)
		os.Exit(2)
	}
	// Each component applies its logging flags; they are the same, so the second
	// and third applications are accepted rather than refused.
	logsapi.ReapplyHandling = logsapi.ReapplyHandlingIgnoreUnchanged

	heapProfileOnSignal()
	go idleProcs()
	errc := make(chan error, len(sections))
	// The API server's command installs the process's one SIGTERM/SIGINT handler
	// (k8s.io/apiserver allows only one); the others run until the process exits.
	api := apiserver.NewAPIServerCommand()
	api.SetArgs(sections[0].args)
	go func() { errc <- component("kube-apiserver", api.Execute()) }()

	if len(sections) > 1 {
		kubeconfig, err := flagValue(sections[1].args, "kubeconfig")
		if err != nil {
			fmt.Fprintf(os.Stderr, "kube-controlplane: kube-controller-manager: %v\n", err)
			os.Exit(2)
		}
		go func() {
			if err := waitReady(kubeconfig); err != nil {
				errc <- err
				return
			}
			go settle()
			for _, s := range sections[1:] {
				var cmd *cobra.Command
				switch s.name {
				case "kube-controller-manager":
					cmd = kcm.NewControllerManagerCommand()
				case "kube-scheduler":
					cmd = schedulerCommand()
				}
				cmd.SetArgs(s.args)
				go func() { errc <- component(s.name, cmd.Execute()) }()
			}
		}()
	}
	err = <-errc
	klog.Flush()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-controlplane: %v\n", err)
		os.Exit(1)
	}
}

// settle returns the start-up's garbage to the system once the components have
// built their caches: the API server's start (OpenAPI, discovery, the bootstrap
// objects) leaves the heap at about twice its idle size, and the Go runtime's
// background scavenger gives that back only slowly.
func settle() {
	for _, after := range []time.Duration{10 * time.Second, 20 * time.Second} {
		time.Sleep(after)
		debug.FreeOSMemory()
	}
	if err := pageOutExecutable(); err != nil {
		klog.Background().Info("paging out start-up code failed; RSS stays higher", "err", err)
	}
}

// pageOutExecutable unmaps the pages of this binary that start-up read: init
// functions touch code all over the file, and a binary the linker just wrote
// may be cached, and mapped, 2 MiB at a time. What the components run again
// faults back in, page by page, from the page cache.
//
// MADV_DONTNEED, not MADV_PAGEOUT as gantry's internal/pageout uses: every
// virtual cluster maps this same file, and PAGEOUT leaves alone the pages
// another process maps, which here are nearly all of them. DONTNEED only
// removes them from this process's page tables; the page cache keeps them for
// the next control plane's start. It would discard private copies of written
// pages, so it is used only on read-only mappings that smaps shows without
// any (Anonymous: 0 kB); the others get PAGEOUT as before.
func pageOutExecutable() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return err
	}
	type mapping struct {
		lo, hi uint64
		anon   string
	}
	var maps []mapping
	mine := false
	for _, line := range strings.Split(string(smaps), "\n") {
		fields := strings.Fields(line)
		// A header: start-end perms offset dev inode [path].
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			mine = len(fields) >= 6 && fields[5] == exe && !strings.Contains(fields[1], "w")
			if !mine {
				continue
			}
			start, end, _ := strings.Cut(fields[0], "-")
			lo, err1 := strconv.ParseUint(start, 16, 64)
			hi, err2 := strconv.ParseUint(end, 16, 64)
			if err1 != nil || err2 != nil || hi <= lo {
				mine = false
				continue
			}
			maps = append(maps, mapping{lo: lo, hi: hi})
			continue
		}
		if mine && len(fields) >= 2 && fields[0] == "Anonymous:" {
			maps[len(maps)-1].anon = fields[1]
		}
	}
	for _, m := range maps {
		advice := unix.MADV_PAGEOUT
		if m.anon == "0" {
			advice = unix.MADV_DONTNEED
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.lo), uintptr(m.hi-m.lo), uintptr(advice)); errno != 0 {
			return fmt.Errorf("madvise %x-%x: %w", m.lo, m.hi, errno)
		}
	}
	return nil
}

// heapProfileOnSignal is for gantry's benchmark (test/bench): with
// GANTRY_HEAP_PROFILE_DIR set, SIGUSR1 writes the heap profile to
// kube-controlplane-<pid>.pprof there. The API server and the
// controller-manager share this process and its heap; the profile's stacks
// tell their parts apart. Without the variable, SIGUSR1 keeps Go's default
// (the process exits), as for the upstream binaries.
func heapProfileOnSignal() {
	dir := os.Getenv("GANTRY_HEAP_PROFILE_DIR")
	if dir == "" {
		return
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, unix.SIGUSR1)
	go func() {
		for range c {
			path := filepath.Join(dir, fmt.Sprintf("kube-controlplane-%d.pprof", os.Getpid()))
			if err := writeHeapProfile(path); err != nil {
				klog.Background().Error(err, "writing the heap profile")
			}
		}
	}()
	// SIGUSR2: the CPU of the next minute, as gantry does (internal/up): where
	// one phase's CPU goes (a benchmark's idle minute, a sync), without
	// turning on the API server's /debug/pprof for everyone with access.
	cpu := make(chan os.Signal, 1)
	signal.Notify(cpu, unix.SIGUSR2)
	go func() {
		for range cpu {
			path := filepath.Join(dir, fmt.Sprintf("kube-controlplane-cpu-%d.pprof", os.Getpid()))
			if err := writeCPUProfile(path, time.Minute); err != nil {
				klog.Background().Error(err, "writing the CPU profile")
			}
		}
	}()
}

// writeCPUProfile records the CPU for d into path (renamed into place).
func writeCPUProfile(path string, d time.Duration) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".cpu-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	time.Sleep(d)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeHeapProfile writes the profile after a GC (the profile shows the heap
// as of the last one) and renames it into place, so a reader never sees half.
func writeHeapProfile(path string) error {
	runtime.GC()
	f, err := os.CreateTemp(filepath.Dir(path), ".heap-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

type section struct {
	name string
	args []string
}

func parse(argv []string) ([]section, error) {
	const usage = "usage: kube-controlplane kube-apiserver FLAGS... --- kube-controller-manager FLAGS... [--- kube-scheduler FLAGS...]"
	var out []section
	start := 0
	for i := 0; i <= len(argv); i++ {
		if i < len(argv) && argv[i] != separator {
			continue
		}
		part := argv[start:i]
		start = i + 1
		if len(part) == 0 {
			return nil, errors.New(usage)
		}
		out = append(out, section{name: part[0], args: part[1:]})
	}
	want := []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}
	if len(out) == 0 || len(out) > len(want) {
		return nil, errors.New(usage)
	}
	for i, s := range out {
		if s.name != want[i] {
			return nil, fmt.Errorf("section %d is %q, want %q\n%s", i+1, s.name, want[i], usage)
		}
	}
	return out, nil
}

// flagValue finds --name=value or --name value.
func flagValue(args []string, name string) (string, error) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, nil
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], nil
		}
	}
	return "", fmt.Errorf("--%s is required", name)
}

func component(name string, err error) error {
	if err == nil {
		return fmt.Errorf("%s stopped", name)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// waitReady polls the API server's /readyz with the controller-manager's
// credentials: started earlier, the controller-manager gives up after ten seconds
// and would take the whole process down with it.
func waitReady(kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kube-controller-manager: kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.Timeout = 2 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for {
		res := client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(context.Background())
		var code int
		res.StatusCode(&code)
		if res.Error() == nil && code == 200 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// schedulerCommand is kube-scheduler's command without its own signal handler
// (NewSchedulerCommand installs one, and a second one panics): flags, feature gates
// and logging as upstream, then Setup and Run.
func schedulerCommand() *cobra.Command {
	opts := scheduleroptions.NewOptions()
	cmd := &cobra.Command{
		Use:          "kube-scheduler",
		SilenceUsage: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return opts.ComponentGlobalsRegistry.Set()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			fg := opts.ComponentGlobalsRegistry.FeatureGateFor(compatibility.DefaultKubeComponent)
			if err := logsapi.ValidateAndApply(opts.Logs, fg); err != nil {
				return err
			}
			cliflag.PrintFlags(cmd.Flags())
			ctx := context.Background()
			cc, sched, err := scheduler.Setup(ctx, opts)
			if err != nil {
				return err
			}
			return scheduler.Run(ctx, cc, sched)
		},
	}
	nfs := opts.Flags
	globalflag.AddGlobalFlags(nfs.FlagSet("global"), cmd.Name(), logs.SkipLoggingConfigurationFlags())
	for _, f := range nfs.FlagSets {
		cmd.Flags().AddFlagSet(f)
	}
	return cmd
}
