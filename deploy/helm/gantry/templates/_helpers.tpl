{{- define "gantry.name" -}}gantry{{- end -}}

{{- define "gantry.labels" -}}
app.kubernetes.io/name: gantry
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gantry.selector" -}}
app.kubernetes.io/name: gantry
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gantry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "gantry.externalURL" -}}
{{- if .Values.externalURL -}}
{{ trimSuffix "/" .Values.externalURL }}
{{- else -}}
https://gantry.{{ .Release.Namespace }}.svc{{ if ne (int .Values.service.port) 443 }}:{{ .Values.service.port }}{{ end }}
{{- end -}}
{{- end -}}

{{/* What cannot work is refused at install, with the fix. */}}
{{- define "gantry.validate" -}}
{{- if ne .Release.Namespace "gantry-system" -}}
{{- fail (printf "gantry keeps its state in namespace gantry-system: install it there (helm install %s ./deploy/helm/gantry -n gantry-system --create-namespace), not in %q" .Release.Name .Release.Namespace) -}}
{{- end -}}
{{- if lt (int .Values.replicas) 1 -}}
{{- fail (printf "replicas: %v: gantry needs at least one replica" .Values.replicas) -}}
{{- end -}}
{{- if gt (int .Values.replicas) 1 -}}
{{- if ne .Values.controlPlanes "pods" -}}
{{- fail (printf "replicas: %v needs controlPlanes: pods: a control plane run as a process lives in one replica's pod and dies with it; set controlPlanes: pods, or replicas: 1" .Values.replicas) -}}
{{- end -}}
{{- if not .Values.tlsSecret -}}
{{- fail (printf "replicas: %v needs tlsSecret: each replica would serve a certificate of its own CA; name a TLS Secret (tls.crt, tls.key) all replicas serve, or set replicas: 1" .Values.replicas) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.externalURL (not (hasPrefix "https://" .Values.externalURL)) -}}
{{- fail (printf "externalURL %q: give an https URL without a path, such as https://gantry.example.com" .Values.externalURL) -}}
{{- end -}}
{{- end -}}

{{/* Several replicas elect a leader for the controllers; each keeps only caches on its own volume. */}}
{{- define "gantry.replicated" -}}
{{- if gt (int .Values.replicas) 1 -}}true{{- end -}}
{{- end -}}
