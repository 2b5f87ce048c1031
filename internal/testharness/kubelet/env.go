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

package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/masstesting/sweep/internal/collector"
)

// Getter reads the Secrets and ConfigMaps a container's environment and
// volumes name. A controller-runtime client is one; Clientset makes one of
// a client-go clientset.
type Getter interface {
	Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error
}

// Clientset is a Getter reading Secrets and ConfigMaps through cs.
func Clientset(cs kubernetes.Interface) Getter { return clientsetGetter{cs} }

type clientsetGetter struct{ cs kubernetes.Interface }

func (g clientsetGetter) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	switch o := obj.(type) {
	case *corev1.Secret:
		s, err := g.cs.CoreV1().Secrets(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
		if err == nil {
			*o = *s
		}
		return err
	case *corev1.ConfigMap:
		cm, err := g.cs.CoreV1().ConfigMaps(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
		if err == nil {
			*o = *cm
		}
		return err
	}
	return fmt.Errorf("kubelet: cannot read a %T", obj)
}

// ContainerEnv is the environment the kubelet gives the first container
// of a pod in namespace ns: each variable's value, or the Secret key it
// names (the registry's token). The ConfigMap volumes the container mounts
// (the csv source's export) are written under dir, a mount path p at
// dir+p, and a value naming a file under a mount path is moved there, so
// the collector finds the files where its environment says.
func ContainerEnv(ctx context.Context, g Getter, ns string, spec *corev1.PodSpec, dir string) (map[string]string, error) {
	if len(spec.Containers) == 0 {
		return nil, errors.New("pod has no container")
	}
	c := spec.Containers[0]
	var mounts []string
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			var cm corev1.ConfigMap
			if err := g.Get(ctx, client.ObjectKey{Namespace: ns, Name: v.ConfigMap.Name}, &cm); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			at := filepath.Join(dir, m.MountPath)
			if err := os.MkdirAll(at, 0o755); err != nil {
				return nil, err
			}
			for key, data := range cm.Data {
				if err := os.WriteFile(filepath.Join(at, key), []byte(data), 0o644); err != nil {
					return nil, err
				}
			}
			mounts = append(mounts, m.MountPath)
		}
	}
	env := make(map[string]string, len(c.Env))
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			var sec corev1.Secret
			if err := g.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &sec); err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			v = string(sec.Data[ref.Key])
		}
		for _, path := range mounts {
			if strings.HasPrefix(v, path+"/") {
				v = filepath.Join(dir, v)
			}
		}
		env[e.Name] = v
	}
	return env, nil
}

// Runner runs the collector with a container's environment, as the
// container would, and returns its error.
type Runner func(ctx context.Context, env map[string]string) error

// InProcess runs the collector's code in this process, reporting through
// rep: for envtest, which has no node to run a binary's pod on.
func InProcess(rep collector.Reporter) Runner {
	return func(ctx context.Context, env map[string]string) error {
		a, err := collector.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			return err
		}
		src, err := collector.SourceFor(a)
		if err != nil {
			return err
		}
		return collector.Run(ctx, a, src, rep)
	}
}

// Binary runs `sweep collect` of the sweep binary at path with env and
// this process's PATH and HOME (env's own win); its error ends with what
// the collector printed.
func Binary(path string) Runner {
	return func(ctx context.Context, env map[string]string) error {
		cmd := exec.CommandContext(ctx, path, "collect")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out.Bytes()))
		}
		return nil
	}
}
