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

package testharness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Cluster is one local cluster run by hack/cluster.sh: a real control
// plane from bin/k8s and kwok's fake nodes. Its methods run the script's
// verbs.
type Cluster struct {
	// Root is the repository, where hack/cluster.sh is; RepoRoot when "".
	Root string
	// K8sBin holds the control plane's binaries; the script's default
	// (bin/k8s) when "".
	K8sBin string
	// Name names the cluster for kwokctl; Dir holds its files and its
	// kubeconfig.
	Name, Dir string
	// Nodes is how many fake nodes Up makes; the script's default (4)
	// when 0.
	Nodes int
}

// NewCluster is a cluster named prefix and a random suffix (so parallel
// tests and runs do not collide), its files in dir.
func NewCluster(prefix, dir string) *Cluster {
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	return &Cluster{Name: prefix + hex.EncodeToString(suffix), Dir: dir}
}

// Kubeconfig is the cluster's admin kubeconfig, written by Up.
func (c *Cluster) Kubeconfig() string { return filepath.Join(c.Dir, "kubeconfig") }

// Up starts the cluster and returns once its nodes are Ready.
func (c *Cluster) Up() error {
	args := []string{}
	if c.Nodes > 0 {
		args = append(args, strconv.Itoa(c.Nodes))
	}
	return c.script("up", args...)
}

// Down stops every process of the cluster and deletes its state.
func (c *Cluster) Down() error { return c.script("down") }

// StopControlPlane kills kube-apiserver and etcd (SIGKILL): an outage.
func (c *Cluster) StopControlPlane() error { return c.script("stop-control-plane") }

// StartControlPlane starts them again, and any other component that
// exited meanwhile.
func (c *Cluster) StartControlPlane() error { return c.script("start-control-plane") }

func (c *Cluster) script(verb string, args ...string) error {
	root := c.Root
	if root == "" {
		var err error
		if root, err = RepoRoot(); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(root, "hack", "cluster.sh"), append([]string{verb, c.Name, c.Dir}, args...)...)
	cmd.Env = os.Environ()
	if c.K8sBin != "" {
		cmd.Env = append(cmd.Env, "K8S_BIN_DIR="+c.K8sBin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hack/cluster.sh %s %s: %w\n%s", verb, c.Name, err, out)
	}
	return nil
}

// StartCluster brings c up for a test and down when the test ends (also
// when up failed half-way).
func StartCluster(tb testing.TB, c *Cluster) {
	tb.Helper()
	tb.Cleanup(func() {
		if err := c.Down(); err != nil {
			tb.Errorf("tearing down the cluster: %v", err)
		}
	})
	if err := c.Up(); err != nil {
		tb.Fatal(err)
	}
}

// RepoRoot is the nearest directory at or above the working directory
// that holds hack/cluster.sh: the repository, from any package's tests or
// from a program run at the top.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "cluster.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no hack/cluster.sh at or above the working directory")
		}
		dir = parent
	}
}

// CRDEstablished says whether the CustomResourceDefinition name (for
// example testingrounds.sweep.masstesting.io) is established: until it is,
// the API server refuses its objects.
func CRDEstablished(ctx context.Context, c client.Client, name string) (bool, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := c.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
		return false, err
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, cond := range conds {
		if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true, nil
		}
	}
	return false, nil
}
