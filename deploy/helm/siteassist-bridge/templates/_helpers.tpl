{{/* The release's name for every object, shortened to Kubernetes' 63 characters. */}}
{{- define "siteassist-bridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select this release's pods; never change them on upgrade. */}}
{{- define "siteassist-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "siteassist-bridge.labels" -}}
{{ include "siteassist-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "siteassist-bridge.secretName" -}}
{{- if .Values.secret.create -}}
{{ include "siteassist-bridge.fullname" . }}
{{- else -}}
{{ required "secret.existingSecret must name a Secret (or set secret.create)" .Values.secret.existingSecret }}
{{- end -}}
{{- end -}}
