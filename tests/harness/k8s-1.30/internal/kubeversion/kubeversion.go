// Package kubeversion is the Kubernetes 1.30 counterpart of the main harness module's kubeversion and
// parentwatch packages (a separate module cannot import them): --kube-version may choose another 1.30 patch
// release, and the process exits when the test process that started it is gone.
package kubeversion

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	_ "unsafe" // for go:linkname

	utilversion "k8s.io/apimachinery/pkg/util/version"
	baseversion "k8s.io/component-base/version"
)

//go:linkname baseGitVersion k8s.io/component-base/version.gitVersion
var baseGitVersion string

//go:linkname baseGitMajor k8s.io/component-base/version.gitMajor
var baseGitMajor string

//go:linkname baseGitMinor k8s.io/component-base/version.gitMinor
var baseGitMinor string

//go:linkname clientGitVersion k8s.io/client-go/pkg/version.gitVersion
var clientGitVersion string

//go:linkname clientGitMajor k8s.io/client-go/pkg/version.gitMajor
var clientGitMajor string

//go:linkname clientGitMinor k8s.io/client-go/pkg/version.gitMinor
var clientGitMinor string

const flag = "--kube-version"

// Apply removes --kube-version=v1.30.Z from args and makes the process report that version.
func Apply(args []string) ([]string, error) {
	chosen := os.Getenv("ACP_KUBE_VERSION")
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == flag:
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value such as v1.30.14", flag)
			}
			chosen = args[i+1]
			i++
		case strings.HasPrefix(a, flag+"="):
			chosen = strings.TrimPrefix(a, flag+"=")
		default:
			rest = append(rest, a)
		}
	}
	if chosen == "" {
		return rest, nil
	}
	if !strings.HasPrefix(chosen, "v") {
		chosen = "v" + chosen
	}
	want, err := utilversion.ParseSemantic(chosen)
	if err != nil {
		return nil, fmt.Errorf("%s=%q is not a semantic version such as v1.30.14: %w", flag, chosen, err)
	}
	if want.Major() != 1 || want.Minor() != 30 {
		return nil, fmt.Errorf("%s=%s: this build is Kubernetes 1.30 and plays 1.30 only; use the main build for 1.31 to 1.34", flag, chosen)
	}
	baseGitVersion, baseGitMajor, baseGitMinor = chosen, "1", "30"
	clientGitVersion, clientGitMajor, clientGitMinor = chosen, "1", "30"
	if err := baseversion.SetDynamicVersion(chosen); err != nil {
		return nil, fmt.Errorf("set version %s: %w", chosen, err)
	}
	return rest, nil
}

// WatchParent exits the process once the process named by ACP_HARNESS_PARENT_PID is gone.
func WatchParent() {
	want, err := strconv.Atoi(os.Getenv("ACP_HARNESS_PARENT_PID"))
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
