package up

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
)

// setUpLogging sends gantry's log to logs/gantry.log, the Kubernetes client
// libraries' log there too, and kine's to logs/kine.log. These loggers are
// process-wide by their libraries' design; this is the one place that sets
// them, so that everything else can run many control planes in one process.
// also, when not nil, gets gantry's log too: in a pod, its output, which is
// where `kubectl logs` and a cluster's log collection look.
func setUpLogging(dir string, also io.Writer) (*slog.Logger, func(), error) {
	gantryLog, err := openLog(dir, "gantry")
	if err != nil {
		return nil, nil, fmt.Errorf("opening the log directory %s: %w", dir, err)
	}
	kineLog, err := openLog(dir, "kine")
	if err != nil {
		gantryLog.Close()
		return nil, nil, err
	}
	var w io.Writer = gantryLog
	if also != nil {
		w = io.MultiWriter(gantryLog, also)
	}
	fileHandler := slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	log := slog.New(fileHandler)
	klog.SetLogger(logr.FromSlogHandler(fileHandler))
	ctrl.SetLogger(logr.FromSlogHandler(fileHandler))
	logrus.SetOutput(kineLog)
	logrus.SetLevel(logrus.WarnLevel)
	return log, func() { gantryLog.Close(); kineLog.Close() }, nil
}

// openLog opens (appends to) the log file of name in dir.
func openLog(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}
