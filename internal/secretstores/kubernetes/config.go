package kubernetes

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// restConfig finds the cluster to talk to: the kubeconfig file when the
// component names one, else the pod's own service account (in-cluster).
// An explicit kubeconfigPath wins so that a store declared for another
// cluster reaches that cluster even from inside a pod.
func restConfig(kubeconfigPath string, inCluster func() (*rest.Config, error)) (*rest.Config, error) {
	if kubeconfigPath != "" {
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfigPath}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfigPath %s: %w", kubeconfigPath, err)
		}
		return cfg, nil
	}
	cfg, err := inCluster()
	if errors.Is(err, rest.ErrNotInCluster) {
		return nil, errors.New("no Kubernetes cluster to read secrets from: the sidecar is not running in a pod " +
			"(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset); " +
			"set the component's kubeconfigPath metadata to a kubeconfig file")
	}
	if err != nil {
		return nil, fmt.Errorf("in-cluster Kubernetes config (set kubeconfigPath to use a kubeconfig file instead): %w", err)
	}
	return cfg, nil
}
