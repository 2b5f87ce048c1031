{{/* The release's full name, capped at 63 characters (a DNS label). */}}
{{- define "sweep.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sweep.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "sweep.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sweep.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels that select the manager pods; never change them in an upgrade
(a Deployment's selector is immutable). */}}
{{- define "sweep.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sweep.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller-manager
{{- end -}}

{{- define "sweep.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sweep.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sweep.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The metrics Service's name in the cluster, which the metrics
certificate is valid for and the ServiceMonitor verifies. */}}
{{- define "sweep.metricsServerName" -}}
{{- printf "%s-metrics.%s.svc" (include "sweep.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* The Secret holding the metrics certificate (tls.crt, tls.key), or ""
when the manager makes a self-signed one. */}}
{{- define "sweep.metricsCertSecret" -}}
{{- $c := .Values.metrics.certificate -}}
{{- if eq $c.source "certManager" -}}
{{- printf "%s-metrics-cert" (include "sweep.fullname" .) -}}
{{- else if eq $c.source "secret" -}}
{{- required "metrics.certificate.secretName is required with metrics.certificate.source=secret: the kubernetes.io/tls Secret of the metrics certificate" $c.secretName -}}
{{- end -}}
{{- end -}}
