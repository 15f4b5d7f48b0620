{{- define "app.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "app.labels" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- /* A label value allows no '+': Flux and tagflow version charts with build metadata (0.1.0+abc). */}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" | trimSuffix "_" | trimSuffix "." }}
{{- end -}}

{{- define "app.selector" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "app.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else if .Values.image.tag -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- else -}}
{{ .Values.image.repository }}
{{- end -}}
{{- end -}}

{{- /* No pods until Flux has selected an image: nothing ever points at a tag that does not exist. */}}
{{- define "app.replicas" -}}
{{- if or .Values.image.tag .Values.image.digest -}}
{{ .Values.replicaCount }}
{{- else -}}
0
{{- end -}}
{{- end -}}

{{- define "app.probe" -}}
{{- if .Values.probes.httpPath }}
httpGet:
  path: {{ .Values.probes.httpPath }}
  port: http
{{- else }}
tcpSocket:
  port: http
{{- end }}
periodSeconds: {{ .Values.probes.periodSeconds }}
timeoutSeconds: {{ .Values.probes.timeoutSeconds }}
{{- end -}}
