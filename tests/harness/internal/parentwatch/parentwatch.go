// Package parentwatch ends the process when the process that started it goes away, so a test run that is
// killed (and so cannot tear its clusters down) leaves no control-plane processes behind.
package parentwatch

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Env names the variable holding the pid of the parent to watch. The test kit sets it.
const Env = "ACP_HARNESS_PARENT_PID"

// Start watches the parent named by ACP_HARNESS_PARENT_PID, if set, and exits once it is gone (the process
// is then re-parented, so its parent pid changes).
func Start() {
	raw := os.Getenv(Env)
	if raw == "" {
		return
	}
	want, err := strconv.Atoi(raw)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ignoring %s=%q: not a pid\n", Env, raw)
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
