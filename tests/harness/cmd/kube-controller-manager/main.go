// Command kube-controller-manager is the upstream kube-controller-manager, built from the pinned Kubernetes module. It also takes
// --kube-version=vX.Y.Z to report another Kubernetes version (see package kubeversion).
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"

	"acp-cvo.dev/tests/harness/internal/kubeversion"
	"acp-cvo.dev/tests/harness/internal/parentwatch"
)

func main() {
	parentwatch.Start()
	args, err := kubeversion.Apply(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-controller-manager: %v\n", err)
		os.Exit(2)
	}
	command := app.NewControllerManagerCommand()
	command.SetArgs(args)
	os.Exit(cli.Run(command))
}
