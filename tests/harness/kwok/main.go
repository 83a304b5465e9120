// Command kwok is the upstream kwok fake-node controller (sigs.k8s.io/kwok/cmd/kwok), built in its own module
// because its dependency versions differ from Kubernetes 1.34's. It adds one thing: it exits when the process
// named by ACP_HARNESS_PARENT_PID goes away, so a killed test run leaves nothing behind.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"sigs.k8s.io/kwok/pkg/config"
	"sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

func main() {
	watchParent()

	flagset := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flagset.ParseErrorsWhitelist.UnknownFlags = true
	flagset.Usage = func() {}

	ctx := signals.SetupSignalContext()
	ctx, logger := log.InitFlags(ctx, flagset)

	ctx, err := config.InitFlags(ctx, flagset)
	if err != nil {
		_, _ = os.Stderr.Write([]byte(flagset.FlagUsages()))
		logger.Error("Init config flags", err)
		os.Exit(1)
	}

	command := cmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flagset)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("Execute exit", err)
		os.Exit(1)
	}
}

// watchParent mirrors package parentwatch of the main harness module (a separate module cannot import it).
func watchParent() {
	raw := os.Getenv("ACP_HARNESS_PARENT_PID")
	if raw == "" {
		return
	}
	want, err := strconv.Atoi(raw)
	if err != nil {
		return
	}
	go func() {
		for {
			if os.Getppid() != want {
				fmt.Fprintf(os.Stderr, "parent process %d is gone; exiting\n", want)
				os.Exit(2)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
}
