package cli

import (
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
)

// logFlags are --log-format and --log-level of the long-running commands.
type logFlags struct {
	format, level string
}

func (l *logFlags) register(f *pflag.FlagSet, defLevel string) {
	f.StringVar(&l.format, "log-format", env("log-format", "text"), "log format: text or json [SUPERSTEP_LOG_FORMAT]")
	f.StringVar(&l.level, "log-level", env("log-level", defLevel), "least severe log level shown: debug, info, warn or error [SUPERSTEP_LOG_LEVEL]")
}

// logger is the slog logger the flags ask for, writing to w. Jobs, stages,
// tasks and workers are attributes of the records (job=, stage=, ...).
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToLower(l.level))); err != nil {
		return nil, usagef("--log-level must be debug, info, warn or error, got %q", l.level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(l.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format must be text or json, got %q", l.format)
}
