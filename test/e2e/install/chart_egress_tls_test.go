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
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// egressValues is what the chart's networkPolicy.egress values say.
type egressValues struct {
	Enabled   bool `json:"enabled"`
	APIServer struct {
		CIDRs []string `json:"cidrs"`
		Ports []int32  `json:"ports"`
	} `json:"apiServer"`
	DNS struct {
		NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector"`
		PodSelector       *metav1.LabelSelector `json:"podSelector"`
	} `json:"dns"`
	Registry struct {
		To    []networkingv1.NetworkPolicyPeer `json:"to"`
		Ports []networkingv1.NetworkPolicyPort `json:"ports"`
	} `json:"registry"`
}

// egressOf reads networkPolicy.egress from the chart's values.yaml,
// overlaid with a values file of charts/sweep/ci (args as valueSets gives
// them), field by field as Helm merges them.
func egressOf(t *testing.T, args []string) egressValues {
	t.Helper()
	var v struct {
		NetworkPolicy struct {
			Egress egressValues `json:"egress"`
		} `json:"networkPolicy"`
	}
	readYAML(t, filepath.Join("charts", "sweep", "values.yaml"), &v)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-f" {
			rel, err := filepath.Rel(root, args[i+1])
			if err != nil {
				t.Fatal(err)
			}
			readYAML(t, rel, &v)
		}
	}
	return v.NetworkPolicy.Egress
}

// egressPolicies returns the rendered NetworkPolicies that govern egress.
func egressPolicies(t *testing.T, objs []*unstructured.Unstructured) []*networkingv1.NetworkPolicy {
	t.Helper()
	var out []*networkingv1.NetworkPolicy
	for _, u := range objs {
		if u.GetKind() != "NetworkPolicy" {
			continue
		}
		np := &networkingv1.NetworkPolicy{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, np); err != nil {
			t.Fatal(err)
		}
		for _, pt := range np.Spec.PolicyTypes {
			if pt == networkingv1.PolicyTypeEgress {
				out = append(out, np)
			}
		}
		if len(np.Spec.Egress) > 0 && !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}) {
			t.Errorf("NetworkPolicy %s has egress rules but policyTypes %v", np.Name, np.Spec.PolicyTypes)
		}
	}
	return out
}

// checkEgressPolicy checks the egress NetworkPolicy against the values it
// was rendered from: absent unless enabled; otherwise for the manager's pods,
// of type Egress only, and with exactly the API server rule (its CIDRs, TCP
// on its ports), the DNS rule (the DNS pods' selectors, UDP and TCP 53) and,
// when peers are listed, the registry rule: nothing else leaves the pods.
func checkEgressPolicy(t *testing.T, objs []*unstructured.Unstructured, deploy *appsv1.Deployment, want egressValues) {
	t.Helper()
	policies := egressPolicies(t, objs)
	if !want.Enabled {
		if len(policies) != 0 {
			t.Errorf("networkPolicy.egress is off, yet %d egress NetworkPolicies are rendered", len(policies))
		}
		return
	}
	if len(policies) != 1 {
		t.Fatalf("networkPolicy.egress is on: %d egress NetworkPolicies rendered, want 1", len(policies))
	}
	np := policies[0]
	if !reflect.DeepEqual(np.Spec.PodSelector.MatchLabels, deploy.Spec.Selector.MatchLabels) || len(np.Spec.PodSelector.MatchExpressions) != 0 {
		t.Errorf("egress policy selects %v, want the manager's pods %v", np.Spec.PodSelector, deploy.Spec.Selector.MatchLabels)
	}
	if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}) {
		t.Errorf("egress policy types %v, want [Egress] only (ingress is metrics.networkPolicy's)", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 0 {
		t.Errorf("egress policy has ingress rules: %v", np.Spec.Ingress)
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p int32, proto *corev1.Protocol) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(p)
		return networkingv1.NetworkPolicyPort{Port: &v, Protocol: proto}
	}

	var apiPeers []networkingv1.NetworkPolicyPeer
	for _, c := range want.APIServer.CIDRs {
		apiPeers = append(apiPeers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	var apiPorts []networkingv1.NetworkPolicyPort
	for _, p := range want.APIServer.Ports {
		apiPorts = append(apiPorts, port(p, &tcp))
	}
	wantRules := []networkingv1.NetworkPolicyEgressRule{
		{To: apiPeers, Ports: apiPorts},
		{
			To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: want.DNS.NamespaceSelector, PodSelector: want.DNS.PodSelector}},
			Ports: []networkingv1.NetworkPolicyPort{port(53, &udp), port(53, &tcp)},
		},
	}
	if len(want.Registry.To) > 0 {
		wantRules = append(wantRules, networkingv1.NetworkPolicyEgressRule{To: want.Registry.To, Ports: want.Registry.Ports})
	}
	if len(np.Spec.Egress) != len(wantRules) {
		t.Errorf("egress policy has %d rules, want %d (API server, DNS%s): %+v", len(np.Spec.Egress), len(wantRules),
			map[bool]string{true: ", registry"}[len(want.Registry.To) > 0], np.Spec.Egress)
	}
	for i, name := range []string{"API server", "DNS", "registry"}[:len(wantRules)] {
		if i >= len(np.Spec.Egress) {
			break
		}
		if !reflect.DeepEqual(normalize(t, np.Spec.Egress[i]), normalize(t, wantRules[i])) {
			t.Errorf("egress rule %d (%s):\n got %+v\nwant %+v", i, name, np.Spec.Egress[i], wantRules[i])
		}
	}
	// Nothing open-ended: every rule names its peers, and the API server's
	// peers are addresses (it is usually not a pod).
	for i, r := range np.Spec.Egress {
		if len(r.To) == 0 {
			t.Errorf("egress rule %d has no peers: it admits every destination", i)
		}
		for _, p := range r.To {
			if p.IPBlock != nil && (p.IPBlock.CIDR == "0.0.0.0/0" || p.IPBlock.CIDR == "::/0") {
				t.Errorf("egress rule %d admits %s", i, p.IPBlock.CIDR)
			}
		}
	}
	if len(np.Spec.Egress) > 0 {
		for _, p := range np.Spec.Egress[0].To {
			if p.IPBlock == nil || p.PodSelector != nil || p.NamespaceSelector != nil {
				t.Errorf("the API server rule's peer %+v is not an address block", p)
			}
		}
	}
}

// TestChartEgressPolicy checks the optional egress NetworkPolicy: absent by
// default, its shape with the values of charts/sweep/ci that turn it on and
// without a registry, and the values it refuses.
func TestChartEgressPolicy(t *testing.T) {
	enabled := 0
	for name, args := range valueSets(t) {
		want := egressOf(t, args)
		if want.Enabled {
			enabled++
		}
		t.Run(name, func(t *testing.T) {
			objs := decode(t, render(t, args...))
			checkEgressPolicy(t, objs, deploymentOf(t, objs), want)
		})
	}
	if enabled == 0 {
		t.Error("no values file in charts/sweep/ci turns networkPolicy.egress on: make helm-lint and TestInstall would never render it")
	}
	t.Run("no-registry", func(t *testing.T) {
		args := []string{"--set", "networkPolicy.egress.enabled=true", "--set", "networkPolicy.egress.apiServer.cidrs={10.96.0.1/32}",
			"--set", "networkPolicy.egress.apiServer.ports={6443}"}
		want := egressOf(t, nil)
		want.Enabled, want.APIServer.CIDRs, want.APIServer.Ports = true, []string{"10.96.0.1/32"}, []int32{6443}
		objs := decode(t, render(t, args...))
		checkEgressPolicy(t, objs, deploymentOf(t, objs), want)
	})
	for name, c := range map[string]struct {
		args []string
		msg  string
	}{
		"no-api-server-cidrs": {[]string{"--set", "networkPolicy.egress.enabled=true"}, "networkPolicy.egress.apiServer.cidrs is required"},
		"registry-ports-without-peers": {[]string{"--set", "networkPolicy.egress.enabled=true", "--set", "networkPolicy.egress.apiServer.cidrs={10.96.0.1/32}",
			"--set", "networkPolicy.egress.registry.ports[0].port=443"}, "registry.ports without registry.to"},
	} {
		t.Run(name, func(t *testing.T) {
			renderFails(t, c.msg, c.args...)
		})
	}
}

// renderFails checks that helm template refuses the values with msg.
func renderFails(t *testing.T, msg string, args ...string) {
	t.Helper()
	out, err := run(t, nil, helmBin, append([]string{"template", "sweep", chartDir, "--namespace", namespace}, args...)...)
	if err == nil {
		t.Fatalf("helm template %s rendered, want it refused with %q:\n%.2000s", strings.Join(args, " "), msg, out)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("helm template %s: %v\nwant the message %q", strings.Join(args, " "), err, msg)
	}
}

// deploymentOf returns the rendered manager Deployment.
func deploymentOf(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == "Deployment" {
			d := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

// TestChartMetricsTLS checks how the ServiceMonitor's scrape is secured in
// each of the chart's modes: verified against cert-manager's CA (one the
// chart makes, or a named issuer's), verified against a CA the user names
// for a Secret the user names, unverified only when insecureSkipVerify is
// set, and refused with neither. The manager serves the certificate the
// ServiceMonitor verifies: the same Secret, mounted where --metrics-cert-path
// points. No values file of charts/sweep/ci scrapes unverified.
func TestChartMetricsTLS(t *testing.T) {
	sm := []string{"--set", "metrics.serviceMonitor.enabled=true"}
	serverName := release + "-metrics." + namespace + ".svc"
	type secretRef struct{ Name, Key string }
	cases := map[string]struct {
		args []string
		// secret is the Secret the manager mounts ("": none, self-signed).
		secret string
		// ca is where the ServiceMonitor's CA comes from ("": insecure).
		ca         map[string]secretRef
		certs      int // cert-manager Certificates
		issuers    int // cert-manager Issuers
		issuerName string
	}{
		"cert-manager": {
			args:   append([]string{"--set", "metrics.certificate.source=certManager"}, sm...),
			secret: "sweep-metrics-cert", ca: map[string]secretRef{"secret": {"sweep-metrics-cert", "ca.crt"}},
			certs: 2, issuers: 2, issuerName: "sweep-metrics-ca",
		},
		"cert-manager-cluster-issuer": {
			args: append([]string{"--set", "metrics.certificate.source=certManager", "--set", "metrics.certificate.certManager.issuerRef.name=city-ca",
				"--set", "metrics.certificate.certManager.issuerRef.kind=ClusterIssuer"}, sm...),
			secret: "sweep-metrics-cert", ca: map[string]secretRef{"secret": {"sweep-metrics-cert", "ca.crt"}},
			certs: 1, issuerName: "city-ca",
		},
		"user-ca": {
			args: append([]string{"--set", "metrics.certificate.source=secret", "--set", "metrics.certificate.secretName=sweep-metrics-tls",
				"--set", "metrics.certificate.ca.secret.name=city-ca", "--set", "metrics.certificate.ca.secret.key=ca.pem"}, sm...),
			secret: "sweep-metrics-tls", ca: map[string]secretRef{"secret": {"city-ca", "ca.pem"}},
		},
		"explicit-insecure": {args: append([]string{"--set", "metrics.serviceMonitor.insecureSkipVerify=true"}, sm...)},
		"certificate-without-service-monitor": {
			args:   []string{"--set", "metrics.certificate.source=certManager"},
			secret: "sweep-metrics-cert", certs: 2, issuers: 2, issuerName: "sweep-metrics-ca",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			objs := decode(t, render(t, c.args...))
			checkMetricsTLS(t, objs, c.secret)
			var monitors []*unstructured.Unstructured
			certs, issuers := 0, 0
			for _, u := range objs {
				switch u.GetKind() {
				case "ServiceMonitor":
					monitors = append(monitors, u)
				case "Certificate":
					certs++
					if isCA, _, _ := unstructured.NestedBool(u.Object, "spec", "isCA"); isCA {
						continue
					}
					if s, _, _ := unstructured.NestedString(u.Object, "spec", "secretName"); s != c.secret {
						t.Errorf("Certificate %s writes Secret %q, the manager mounts %q", u.GetName(), s, c.secret)
					}
					dns, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "dnsNames")
					if !slices.Contains(dns, serverName) {
						t.Errorf("Certificate %s is for %v, not the ServiceMonitor's server name %s", u.GetName(), dns, serverName)
					}
					if n, _, _ := unstructured.NestedString(u.Object, "spec", "issuerRef", "name"); n != c.issuerName {
						t.Errorf("Certificate %s is issued by %q, want %q", u.GetName(), n, c.issuerName)
					}
				case "Issuer", "ClusterIssuer":
					issuers++
				}
			}
			if certs != c.certs || issuers != c.issuers {
				t.Errorf("%d Certificates and %d Issuers rendered, want %d and %d", certs, issuers, c.certs, c.issuers)
			}
			if !slices.Contains(c.args, "metrics.serviceMonitor.enabled=true") {
				if len(monitors) != 0 {
					t.Errorf("%d ServiceMonitors rendered without metrics.serviceMonitor.enabled", len(monitors))
				}
				return
			}
			if len(monitors) != 1 {
				t.Fatalf("%d ServiceMonitors rendered, want 1", len(monitors))
			}
			tlsConfig := monitorTLS(t, monitors[0])
			want := map[string]any{"insecureSkipVerify": true}
			if c.ca != nil {
				ca := map[string]any{}
				for kind, ref := range c.ca {
					ca[kind] = map[string]any{"name": ref.Name, "key": ref.Key}
				}
				want = map[string]any{"ca": ca, "serverName": serverName}
			}
			if !reflect.DeepEqual(normalize(t, tlsConfig), normalize(t, want)) {
				t.Errorf("ServiceMonitor tlsConfig %v, want %v", tlsConfig, want)
			}
		})
	}

	// Refused values.
	for name, c := range map[string]struct {
		args []string
		msg  string
	}{
		// The default: a ServiceMonitor with nothing to verify against.
		"default": {sm, "the ServiceMonitor cannot verify the manager's self-signed certificate"},
		"user-secret-without-ca": {append([]string{"--set", "metrics.certificate.source=secret", "--set", "metrics.certificate.secretName=sweep-metrics-tls"}, sm...),
			"metrics.certificate.ca is required"},
		"secret-without-name": {[]string{"--set", "metrics.certificate.source=secret"}, "metrics.certificate.secretName is required"},
		"certificate-and-insecure": {append([]string{"--set", "metrics.certificate.source=certManager", "--set", "metrics.serviceMonitor.insecureSkipVerify=true"}, sm...),
			"choose one"},
	} {
		t.Run("refused/"+name, func(t *testing.T) {
			renderFails(t, c.msg, c.args...)
		})
	}

	// Every values file of charts/sweep/ci: its ServiceMonitor verifies.
	for name, args := range valueSets(t) {
		t.Run("values/"+name, func(t *testing.T) {
			for _, u := range decode(t, render(t, args...)) {
				if u.GetKind() != "ServiceMonitor" {
					continue
				}
				tlsConfig := monitorTLS(t, u)
				if skip, _ := tlsConfig["insecureSkipVerify"].(bool); skip || tlsConfig["ca"] == nil || tlsConfig["serverName"] == nil {
					t.Errorf("ServiceMonitor %s does not verify the manager's certificate: tlsConfig %v", u.GetName(), tlsConfig)
				}
			}
		})
	}
}

// checkMetricsTLS checks that the manager serves the certificate of Secret
// secret: mounted read-only where --metrics-cert-path points; or, with
// secret "", that it mounts none and makes its own.
func checkMetricsTLS(t *testing.T, objs []*unstructured.Unstructured, secret string) {
	t.Helper()
	pod := deploymentOf(t, objs).Spec.Template.Spec
	c := pod.Containers[0]
	path := ""
	for _, a := range c.Args {
		if p, ok := strings.CutPrefix(a, "--metrics-cert-path="); ok {
			path = p
		}
	}
	if secret == "" {
		if path != "" || len(pod.Volumes) != 0 {
			t.Errorf("no certificate configured, yet --metrics-cert-path=%q and volumes %v", path, pod.Volumes)
		}
		return
	}
	var volume string
	for _, v := range pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret {
			volume = v.Name
		}
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.Name == volume && m.MountPath == path && m.ReadOnly {
			mounted = true
		}
	}
	if volume == "" || path == "" || !mounted {
		t.Errorf("the manager does not serve Secret %s: --metrics-cert-path=%q, volumes %v, mounts %v", secret, path, pod.Volumes, c.VolumeMounts)
	}
}

// monitorTLS returns the tlsConfig of a ServiceMonitor's one endpoint.
func monitorTLS(t *testing.T, u *unstructured.Unstructured) map[string]any {
	t.Helper()
	endpoints, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor %s has %d endpoints, want 1", u.GetName(), len(endpoints))
	}
	tlsConfig, _, _ := unstructured.NestedMap(endpoints[0].(map[string]any), "tlsConfig")
	return tlsConfig
}
