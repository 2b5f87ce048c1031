/*
Copyright 2026 The Sweep Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package kubelet is test code: the stand-in kubelets of Sweep's tests.
//
// Kubelet, used by the end-to-end tests and test/bench, plays the kubelet
// for Sweep's visit pods on the local kwok cluster (hack/cluster.sh): kwok
// schedules visit pods onto fake nodes and marks them Running, but no
// container runs. For each running visit pod it runs the real `sweep
// collect` binary with the pod's environment and a token of the pod's own
// ServiceAccount bound to the pod, as the kubelet's projected token is (so
// the collector reports through the API server exactly as in a pod, under
// config/admission's policies), then writes the exit code into the pod's
// annotation e2e.sweep.masstesting.io/exit-code (test/bench runs the
// collector's code in its own process instead: Kubelet.InProcess); a kwok Stage
// (hack/kwok/pod-finish-when-marked.yaml) then finishes the pod, and the
// real Job controller finishes the Job.
//
// The controllers' envtest kubelet (controllers/kubelet_test.go), which
// has no pods, only visit Jobs, shares what both do with a pod spec:
// ContainerEnv (the environment, Secret keys read, ConfigMap volumes
// mounted) and a Runner that runs the collector with it, InProcess there
// and Binary here.
//
// It is a package of its own, not part of testharness, because it needs
// client-go's informers and the clients' types, which the unit tests that
// use testharness have no use for.
package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"

	"github.com/masstesting/sweep/internal/collector"
)

// ExitCodeAnnotation is read by the kwok stages that finish a pod.
const ExitCodeAnnotation = "e2e.sweep.masstesting.io/exit-code"

// TerminationMessageAnnotation carries the collector's last output line,
// its error, to the kwok stage that fails a pod, which makes it the
// container's termination message: what `sweep collect` writes to
// /dev/termination-log on a real node.
const TerminationMessageAnnotation = "e2e.sweep.masstesting.io/termination-message"

// visitLabel marks visit pods (controllers.LabelVisit; not imported, so
// that the harness depends only on what is visible on the pod).
const visitLabel = "sweep.masstesting.io/visit"

// Action is what the harness does with one running visit pod.
type Action int

const (
	// Run runs the collector and finishes the pod with its exit code.
	Run Action = iota
	// Crash fails the pod without running the collector.
	Crash
	// Hold leaves the pod running: a visit that takes longer than the test.
	Hold
)

// Kubelet runs the collector for visit pods.
type Kubelet struct {
	Client kubernetes.Interface
	Binary string // the sweep binary
	// Kubeconfig is the cluster's; collectors use only its server and CA,
	// with a token of their own pod (PodToken), never its credentials.
	Kubeconfig string
	// Decide picks the action for a pod; nil runs every pod.
	Decide func(*corev1.Pod) Action
	// Workers is how many collectors run at once (default 8).
	Workers int
	// InProcess runs the collector's code in this process instead of the
	// binary, with the same pod-bound token and so the same identity,
	// admission checks and writes. test/bench sets it: a process per visit
	// cost it more CPU than the visits it measures. The end-to-end tests
	// leave it unset, so the binary itself stays tested.
	InProcess bool

	mu     sync.Mutex
	runs   map[string]int       // pod name -> times the collector ran for it
	exited map[string]time.Time // Job name -> when its collector exited
	errs   []error
}

// Start watches visit pods until ctx ends.
func (k *Kubelet) Start(ctx context.Context) {
	k.runs = map[string]int{}
	k.exited = map[string]time.Time{}
	factory := informers.NewSharedInformerFactoryWithOptions(k.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = visitLabel }))
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]())
	pods := factory.Core().V1().Pods()
	enqueue := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok && ready(p) {
			queue.Add(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
		}
	}
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	factory.Start(ctx.Done())
	go func() { <-ctx.Done(); queue.ShutDown() }()
	workers := k.Workers
	if workers <= 0 {
		workers = 8
	}
	for range workers {
		go func() {
			for {
				key, quit := queue.Get()
				if quit {
					return
				}
				if err := k.handle(ctx, pods.Lister().Pods(key.Namespace), key); err != nil && ctx.Err() == nil {
					queue.AddRateLimited(key)
				} else {
					queue.Forget(key)
				}
				queue.Done(key)
			}
		}()
	}
}

// ready is a visit pod the kubelet would be running: scheduled, Running,
// and not yet given an exit code.
func ready(p *corev1.Pod) bool {
	_, marked := p.Annotations[ExitCodeAnnotation]
	return p.Status.Phase == corev1.PodRunning && !marked && p.DeletionTimestamp == nil
}

func (k *Kubelet) handle(ctx context.Context, lister corelisters.PodNamespaceLister, key types.NamespacedName) error {
	p, err := lister.Get(key.Name)
	if err != nil || !ready(p) {
		return nil // gone or already finished
	}
	k.mu.Lock()
	already := k.runs[key.String()] > 0
	k.mu.Unlock()
	action := Run
	if k.Decide != nil {
		action = k.Decide(p)
	}
	code, message := "0", ""
	switch {
	case action == Hold:
		return nil
	case action == Crash:
		code = "1"
	case already:
		// The collector ran; only the annotation write failed. A kubelet
		// does not start a finished container again.
	default:
		k.mu.Lock()
		k.runs[key.String()]++
		k.mu.Unlock()
		err := k.collect(ctx, p)
		k.mu.Lock()
		k.exited[p.Labels["job-name"]] = time.Now()
		k.mu.Unlock()
		if err != nil {
			code = "1"
			k.record(fmt.Errorf("collector for pod %s: %w", key, err))
			lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
			message = lines[len(lines)-1]
		}
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		ExitCodeAnnotation: code, TerminationMessageAnnotation: message}}})
	_, err = k.Client.CoreV1().Pods(key.Namespace).Patch(ctx, key.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// collect runs `sweep collect` with the environment of the pod's first
// container and a token bound to the pod, as the kubelet and the container
// runtime would.
func (k *Kubelet) collect(ctx context.Context, p *corev1.Pod) error {
	token, err := PodToken(ctx, k.Client, p)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "sweep-pod-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := TokenKubeconfig(k.Kubeconfig, token, kubeconfig); err != nil {
		return err
	}
	env, err := ContainerEnv(ctx, Clientset(k.Client), p.Namespace, &p.Spec, filepath.Join(dir, "root"))
	if err != nil {
		return err
	}
	env["KUBECONFIG"] = kubeconfig
	if !k.InProcess {
		return Binary(k.Binary)(ctx, env)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	c, err := collector.NewClient(cfg)
	if err != nil {
		return err
	}
	return InProcess(collector.StatusReporter{Client: c})(ctx, env)
}

// PodToken is a token of the pod's ServiceAccount bound to the pod, what
// the kubelet mounts into a pod: the API server signs the pod's name and UID
// into it (the claims the admission policies check) and stops accepting it
// once the pod is gone.
func PodToken(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) (string, error) {
	tr, err := cs.CoreV1().ServiceAccounts(p.Namespace).CreateToken(ctx, p.Spec.ServiceAccountName, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: ptr.To[int64](3600),
			BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return tr.Status.Token, nil
}

// TokenKubeconfig writes a kubeconfig to path with the server and CA of the
// kubeconfig base and the bearer token, and nothing else of base's.
func TokenKubeconfig(base, token, path string) error {
	cfg, err := clientcmd.LoadFromFile(base)
	if err != nil {
		return err
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok || cfg.Clusters[ctx.Cluster] == nil {
		return fmt.Errorf("%s: no cluster for the current context %q", base, cfg.CurrentContext)
	}
	cluster := cfg.Clusters[ctx.Cluster].DeepCopy()
	if cluster.CertificateAuthority != "" && len(cluster.CertificateAuthorityData) == 0 {
		if cluster.CertificateAuthorityData, err = os.ReadFile(cluster.CertificateAuthority); err != nil {
			return err
		}
		cluster.CertificateAuthority = ""
	}
	out := clientcmdapi.NewConfig()
	out.Clusters["cluster"] = cluster
	out.AuthInfos["token"] = &clientcmdapi.AuthInfo{Token: token}
	out.Contexts["token"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "token"}
	out.CurrentContext = "token"
	return clientcmd.WriteToFile(*out, path)
}

func (k *Kubelet) record(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.errs = append(k.errs, err)
}

// Runs returns how many times the collector ran for each pod.
func (k *Kubelet) Runs() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]int, len(k.runs))
	for p, n := range k.runs {
		out[p] = n
	}
	return out
}

// Exited is when the collector of a visit Job's pod exited: after its
// final report was stored, before the pod and the Job finish.
func (k *Kubelet) Exited(job string) (time.Time, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.exited[job]
	return at, ok
}

// Errors returns the collectors' failures so far, sorted.
func (k *Kubelet) Errors() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.errs))
	for _, e := range k.errs {
		out = append(out, e.Error())
	}
	slices.Sort(out)
	return out
}
