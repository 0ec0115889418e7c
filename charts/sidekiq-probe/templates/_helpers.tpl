{{/*
Names. With the release named like the chart (the documented install), they
equal the webhook's own flag defaults: Service sidekiq-probe-webhook, Secret
sidekiq-probe-webhook-certs, MutatingWebhookConfiguration sidekiq-probe.
*/}}

{{/* The release's base name, at most 63 characters (a DNS label). */}}
{{- define "sidekiq-probe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Deployment, Service, ServiceAccount and RBAC objects. */}}
{{- define "sidekiq-probe.webhookName" -}}
{{- printf "%s-webhook" (include "sidekiq-probe.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The empty Secret the webhook fills with its CA and serving certificate. */}}
{{- define "sidekiq-probe.certSecretName" -}}
{{- printf "%s-webhook-certs" (include "sidekiq-probe.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret cert-manager writes; another name, so switching modes never
reuses the self-managed Secret (kept across uninstalls). */}}
{{- define "sidekiq-probe.certManagerSecretName" -}}
{{- printf "%s-webhook-tls" (include "sidekiq-probe.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* cert-manager's CA chain: the selfSigned Issuer that signs the CA, and the
CA (its Certificate, its Secret and the Issuer that signs the serving
certificate with it). The base is cut before the suffix is added, so for a
long release the two Issuers and the two Secrets still get distinct names. */}}
{{- define "sidekiq-probe.certManagerSelfSignedName" -}}
{{- printf "%s-webhook-selfsigned" (include "sidekiq-probe.fullname" . | trunc 44 | trimSuffix "-") -}}
{{- end -}}

{{- define "sidekiq-probe.certManagerCAName" -}}
{{- printf "%s-webhook-ca" (include "sidekiq-probe.fullname" . | trunc 52 | trimSuffix "-") -}}
{{- end -}}

{{/* The MutatingWebhookConfiguration (cluster-scoped). */}}
{{- define "sidekiq-probe.webhookConfigName" -}}
{{- include "sidekiq-probe.fullname" . -}}
{{- end -}}

{{- define "sidekiq-probe.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "sidekiq-probe.labels" -}}
helm.sh/chart: {{ include "sidekiq-probe.chart" . }}
{{ include "sidekiq-probe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels that select the webhook pods; never change them in an upgrade
(a Deployment's selector is immutable). */}}
{{- define "sidekiq-probe.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "sidekiq-probe.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "sidekiq-probe.sidecarImage" -}}
{{- printf "%s:%s" .Values.sidecarImage.repository (.Values.sidecarImage.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
The namespaces whose pods the webhook and the validation policy see: labelled
for injection, never kube-system, never the webhook's own namespace (its pods
must start even when no webhook replica is up), plus the user's extra
requirements.
*/}}
{{- define "sidekiq-probe.namespaceSelector" -}}
matchExpressions:
  - key: sidekiq-probe.io/injection
    operator: In
    values: [enabled]
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: [kube-system, {{ .Release.Namespace | quote }}]
{{- with .Values.webhook.namespaceSelector.matchExpressions }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- end -}}

{{/* The webhook's flags, following the `serve` contract. */}}
{{- define "sidekiq-probe.serveArgs" -}}
- serve
- --port=9443
- --cert-dir=/tmp/k8s-webhook-server/serving-certs
- --health-addr=:8081
- --metrics-addr=:8080
- --log-level={{ .Values.logLevel }}
- --shutdown-delay={{ .Values.shutdownDelaySeconds }}s
- --sidecar-image={{ include "sidekiq-probe.sidecarImage" . }}
- --native-sidecar={{ .Values.nativeSidecar }}
- --default-max-job-seconds={{ .Values.defaultMaxJobSeconds }}
- --max-review-size={{ .Values.reviewLimits.maxReviewSize }}
- --review-memory={{ .Values.reviewLimits.memory }}
- --max-review-timeout={{ .Values.webhook.timeoutSeconds }}s
{{- if not .Values.certManager.enabled }}
- --manage-certs=true
- --cert-secret={{ include "sidekiq-probe.certSecretName" . }}
- --service-name={{ include "sidekiq-probe.webhookName" . }}
- --webhook-config={{ include "sidekiq-probe.webhookConfigName" . }}
{{- end }}
{{- end -}}

{{/* ClusterRole and its binding; cluster-scoped, so the release namespace is
part of the name and two releases never share one. */}}
{{- define "sidekiq-probe.clusterRoleName" -}}
{{- printf "%s-%s" .Release.Namespace (include "sidekiq-probe.webhookName" .) -}}
{{- end -}}

{{/* Policy mode: the Secret holding the release's preStop token. */}}
{{- define "sidekiq-probe.tokenSecretName" -}}
{{- .Values.policy.existingTokenSecret | default (printf "%s-prestop-token" (include "sidekiq-probe.fullname" . | trunc 50 | trimSuffix "-")) -}}
{{- end -}}
