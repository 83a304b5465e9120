// Package kubeversion lets one build of the control-plane binaries report the Kubernetes version chosen when
// a cluster starts (--kube-version=v1.31.9), so tests can play clusters of several versions.
//
// Kubernetes reads its own version from unexported variables that release builds set with -X linker flags.
// Setting them here, before the command is built, has the same effect at run time. A version whose minor is
// older than the code's is only accepted together with --emulated-version=<that minor>: the binary then
// serves that minor's API set and feature defaults, which is how the code itself supports running as an older
// release. Emulation reaches three minors back (1.34 code plays 1.31 to 1.34).
package kubeversion

import (
	"fmt"
	"os"
	"strings"
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

// Flag is the command-line flag (also read from the environment variable Env) that chooses the version.
const (
	Flag = "--kube-version"
	Env  = "ACP_KUBE_VERSION"
)

// Apply removes --kube-version from args, makes the process report that version, and returns the arguments
// to hand to the Kubernetes command, with --emulated-version added when the chosen minor is older than the
// code's and the caller did not pass one. Without --kube-version (and without ACP_KUBE_VERSION) it changes
// nothing.
func Apply(args []string) ([]string, error) {
	chosen := os.Getenv(Env)
	rest := make([]string, 0, len(args))
	hasEmulated := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == Flag:
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value such as v1.31.9", Flag)
			}
			chosen = args[i+1]
			i++
		case strings.HasPrefix(a, Flag+"="):
			chosen = strings.TrimPrefix(a, Flag+"=")
		default:
			if a == "--emulated-version" || strings.HasPrefix(a, "--emulated-version=") {
				hasEmulated = true
			}
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
		return nil, fmt.Errorf("%s=%q is not a semantic version such as v1.31.9: %w", Flag, chosen, err)
	}
	code := utilversion.MustParse(baseversion.DefaultKubeBinaryVersion)
	if want.Major() != code.Major() || want.Minor() > code.Minor() || want.Minor()+3 < code.Minor() {
		return nil, fmt.Errorf("%s=%s is outside what this build (Kubernetes %s) can play: %d.%d to %s; use a build of another Kubernetes release",
			Flag, chosen, code, code.Major(), code.Minor()-3, code)
	}
	major := fmt.Sprint(want.Major())
	minor := fmt.Sprint(want.Minor())
	baseGitVersion, baseGitMajor, baseGitMinor = chosen, major, minor
	clientGitVersion, clientGitMajor, clientGitMinor = chosen, major, minor
	if err := baseversion.SetDynamicVersion(chosen); err != nil {
		return nil, fmt.Errorf("set version %s: %w", chosen, err)
	}
	if want.Minor() < code.Minor() && !hasEmulated {
		rest = append(rest, fmt.Sprintf("--emulated-version=%d.%d", want.Major(), want.Minor()))
	}
	return rest, nil
}
