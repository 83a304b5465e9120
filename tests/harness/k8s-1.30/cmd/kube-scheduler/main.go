// Command kube-scheduler is the upstream kube-scheduler of Kubernetes 1.30, for clusters that must report 1.30 (code from
// 1.31 on can emulate older minors only back to 1.31). It takes --kube-version=v1.30.Z like the main build.
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	"acp-cvo.dev/tests/harness/k8s130/internal/kubeversion"
)

func main() {
	kubeversion.WatchParent()
	args, err := kubeversion.Apply(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-scheduler: %v\n", err)
		os.Exit(2)
	}
	command := app.NewSchedulerCommand()
	command.SetArgs(args)
	os.Exit(cli.Run(command))
}
