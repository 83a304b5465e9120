{{- define "acp-cvo.labels" -}}
app.kubernetes.io/name: acp-cvo
app.kubernetes.io/part-of: acp-cvo
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "acp-cvo.selectorLabels" -}}
app.kubernetes.io/name: acp-cvo
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "acp-cvo.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "acp-cvo.consoleSelectorLabels" -}}
app.kubernetes.io/name: acp-cvo-console
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "acp-cvo.consoleLabels" -}}
app.kubernetes.io/name: acp-cvo-console
app.kubernetes.io/component: console
app.kubernetes.io/part-of: acp-cvo
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
