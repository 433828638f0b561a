// Command strictfields decodes rendered Kubernetes manifests into the Go API types with
// unknown-field and duplicate-field checking, the way an API server with strict field validation
// would. The kubernetes-models schemas used by manifests.test.ts accept fields they do not know,
// so a misspelt key (readOnlyRootFileSystem, initialDelaySecond, …) would otherwise slip through
// and be dropped silently at install time.
//
//	go run . FILE.yaml…    (scripts/helm.sh strict DIR runs it on every rendered file)
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "batch/v1/Job":
		return &batchv1.Job{}, true
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, true
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}, true
	}
	return nil, false
}

func checkFile(path string) (int, []string) {
	var problems []string
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, []string{err.Error()}
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	count := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return count, append(problems, fmt.Sprintf("%s: %v", path, err))
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta typeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
			continue
		}
		if meta.Kind == "" {
			continue // a document holding only comments
		}
		count++
		obj, ok := newObject(meta.APIVersion, meta.Kind)
		where := fmt.Sprintf("%s: %s %s %s", path, meta.APIVersion, meta.Kind, meta.Metadata.Name)
		if !ok {
			problems = append(problems, where+": no Go type to check it against")
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, err))
		}
	}
	return count, problems
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: strictfields FILE.yaml…")
		os.Exit(2)
	}
	var problems []string
	total := 0
	for _, path := range os.Args[1:] {
		n, p := checkFile(path)
		total += n
		problems = append(problems, p...)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("strictfields: %d objects in %d files decode strictly\n", total, len(os.Args)-1)
}
