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
	"net"
	"testing"
)

// FreeAddress is a loopback address with a port nobody listened on a
// moment ago, for a server the test starts in another process (which cannot
// take ":0"). Another process may take the port meanwhile; that is rare
// enough for tests.
func FreeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// FreeAddr is FreeAddress for a test: it fails tb when none is to be had.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	addr, err := FreeAddress()
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}
