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

package install

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/masstesting/sweep/internal/testharness"
)

// metricsServerName is the name the ServiceMonitor verifies the manager's
// certificate against: the chart's metrics Service in its namespace.
const metricsServerName = release + "-metrics." + namespace + ".svc"

// TestMetricsCertificate runs the manager with a named metrics certificate
// (--metrics-cert-path, -name, -key), as the chart mounts one from
// cert-manager or a user's Secret, and scrapes it as the ServiceMonitor's
// verified tlsConfig does: against the CA and with the Service's DNS name.
// The CA that signed it is accepted, another CA and another name are
// refused, a renewed certificate is served without a restart, and a
// certificate that cannot be read stops the manager at start-up instead of
// falling back to a self-signed one.
func TestMetricsCertificate(t *testing.T) {
	env := &envtest.Environment{
		BinaryAssetsDirectory: k8sBin(),
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	sweepBin := filepath.Join(dir, "sweep")
	must(t, nil, "go", "build", "-o", sweepBin, filepath.Join(root, "cmd", "sweep"))

	// A scraper's token, allowed to GET /metrics, as the chart's
	// metrics-reader ClusterRole allows Prometheus.
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "default", Name: "prometheus"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "prometheus", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tr.Status.Token

	// Two CAs; the manager's certificate is signed by the first, in files
	// named otherwise than the chart's tls.crt and tls.key so that the
	// name flags count.
	caA, caB := newCA(t, "sweep test CA A"), newCA(t, "sweep test CA B")
	certDir := filepath.Join(dir, "metrics-certs")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		t.Fatal(err)
	}
	caA.issue(t, certDir, "serving.pem", "serving-key.pem", metricsServerName)

	addr := testharness.FreeAddr(t)
	log, stop := startManager(t, sweepBin, kubeconfig, "--leader-elect=false", "--metrics-bind-address="+addr,
		"--metrics-cert-path="+certDir, "--metrics-cert-name=serving.pem", "--metrics-cert-key=serving-key.pem")
	defer stop()
	url := "https://" + addr + "/metrics"
	var code int
	var body string
	var scrapeErr error
	waitFor(t, time.Minute, "the metrics endpoint to answer a scrape verified against CA A", func() bool {
		code, body, scrapeErr = verifiedScrape(url, token, caA.pool(), metricsServerName)
		return scrapeErr == nil
	})
	// The metrics of controller-runtime's certificate watcher: the manager
	// serves the certificate through it.
	if code != http.StatusOK || !strings.Contains(body, "certwatcher_read_certificate_total") {
		t.Errorf("verified scrape: %d %.200s", code, body)
	}
	if _, _, err := verifiedScrape(url, token, caB.pool(), metricsServerName); err == nil || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
		t.Errorf("scrape verified against another CA: %v; want refused (unknown authority)", err)
	}
	if _, _, err := verifiedScrape(url, token, caA.pool(), "sweep-metrics.elsewhere.svc"); err == nil || !strings.Contains(err.Error(), "x509: certificate is valid for "+metricsServerName) {
		t.Errorf("scrape verified for another server name: %v; want refused (not valid for that name)", err)
	}

	// A renewal (cert-manager rewrites the mounted Secret's files): the
	// manager serves the new certificate, here from CA B, without a restart.
	caB.issue(t, certDir, "serving.pem", "serving-key.pem", metricsServerName)
	waitFor(t, time.Minute, "the renewed certificate (CA B) to be served", func() bool {
		_, _, err := verifiedScrape(url, token, caB.pool(), metricsServerName)
		return err == nil
	})
	if _, _, err := verifiedScrape(url, token, caA.pool(), metricsServerName); err == nil {
		t.Error("after the renewal the certificate still verifies against CA A")
	}
	stop()
	if t.Failed() {
		return
	}

	// No certificate where one is named: the manager refuses to start
	// rather than serve a self-signed one nobody can verify.
	cmd := exec.Command(sweepBin, "manager", "--metrics-cert-path="+filepath.Join(dir, "missing"), "--kubeconfig="+kubeconfig)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "loading the metrics certificate") {
		t.Errorf("manager with a missing certificate: %v\n%s", err, out)
	}
	if t.Failed() {
		t.Logf("manager log:\n%s", log.String())
	}
}

// verifiedScrape GETs url as Prometheus does with the ServiceMonitor's
// verified tlsConfig: the CA and the server name, and a bearer token. An
// error means no HTTP answer (the TLS handshake failed, or nothing listens).
func verifiedScrape(url, token string, roots *x509.CertPool, serverName string) (code int, body string, err error) {
	code, b, err := testharness.FetchMetrics(url, testharness.ScrapeOptions{Token: token,
		TLS: &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}})
	return code, string(b), err
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue writes a serving certificate for dnsName signed by ca, and its key,
// into dir under the given names. Each file is replaced by a rename, as
// the kubelet updates a Secret volume, so a reader never sees half a file.
func (ca *testCA) issue(t *testing.T, dir, certName, keyName, dnsName string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, block *pem.Block) {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The key first: the watcher reloads on either file's change, and a
	// new key with the old certificate fails to load and is retried.
	write(keyName, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	write(certName, &pem.Block{Type: "CERTIFICATE", Bytes: der})
}
