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

package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// restartingManager is `sweep manager` run as a Deployment's pod is: when
// the process exits it is started again, after the kubelet's first
// restart back-off, until the test ends or the test kills it (kill). A
// manager exits by design when it loses its leader lease (a renewal that
// missed the renew deadline on a loaded machine, an API server outage), so
// every test with leader election runs its managers this way.
type restartingManager struct {
	id string
	mu sync.Mutex
	m  *manager
	n  int
	// killed is closed by kill: the supervisor starts no process after it.
	killed chan struct{}
	logs   []string
}

// restarts is how many times the process exited and was started again.
func (rm *restartingManager) restarts() int {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.n
}

// current is the process running now (or the last one, once stopped).
func (rm *restartingManager) current() *manager {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.m
}

// kill ends the current process with SIGKILL, as the OOM killer or a lost
// node would, and starts no other: the test watches what the others do.
func (rm *restartingManager) kill(t *testing.T) {
	t.Helper()
	close(rm.killed)
	m := rm.current()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	<-m.exited
}

func (cl *cluster) startRestartingManager(t *testing.T, id string, extra ...string) *restartingManager {
	t.Helper()
	const backoff = 10 * time.Second
	rm := &restartingManager{id: id, killed: make(chan struct{})}
	stop, done := make(chan struct{}), make(chan struct{})
	first, err := cl.launchManager(id+"-0", extra...)
	if err != nil {
		t.Fatal(err)
	}
	rm.m, rm.logs = first, []string{first.log}
	go func() {
		defer close(done)
		for m := first; ; {
			select {
			case <-stop:
				m.stop()
				return
			case <-rm.killed:
				<-m.exited
				return
			case <-m.exited:
			}
			select {
			case <-rm.killed:
				return
			default:
			}
			rm.mu.Lock()
			rm.n++
			n := rm.n
			rm.mu.Unlock()
			select {
			case <-stop:
				return
			case <-rm.killed:
				return
			case <-time.After(backoff):
			}
			if m, err = cl.launchManager(fmt.Sprintf("%s-%d", id, n), extra...); err != nil {
				t.Errorf("restarting the manager: %v", err)
				return
			}
			rm.mu.Lock()
			rm.m, rm.logs = m, append(rm.logs, m.log)
			rm.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		if t.Failed() {
			rm.mu.Lock()
			defer rm.mu.Unlock()
			for _, l := range rm.logs {
				tail, _ := exec.Command("tail", "-n", "40", l).Output()
				t.Logf("last lines of %s:\n%s", filepath.Base(l), tail)
			}
		}
	})
	return rm
}
