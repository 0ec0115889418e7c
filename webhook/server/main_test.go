package server

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

func TestMain(m *testing.M) {
	// controller-runtime logs through a global logger and complains when none
	// is set; the command sets it to slog, tests do not need its lines.
	crlog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}
