{{/*
Names, labels and the pieces every flowhook pod shares (Deployments and the flows Job).
*/}}

{{- define "flowhook.roles" -}}
trigger delivery delay
{{- end -}}

{{- define "flowhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the prefix of every object; role suffixes (-delivery) must still fit in 63. */}}
{{- define "flowhook.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "flowhook.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flowhook.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flowhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flowhook.labels" -}}
helm.sh/chart: {{ include "flowhook.chart" . }}
{{ include "flowhook.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flowhook
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* (dict "root" $ "role" "trigger") */}}
{{- define "flowhook.roleName" -}}
{{- printf "%s-%s" (include "flowhook.fullname" .root) .role -}}
{{- end -}}

{{- define "flowhook.roleSelectorLabels" -}}
{{ include "flowhook.selectorLabels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "flowhook.roleLabels" -}}
{{ include "flowhook.labels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "flowhook.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{- define "flowhook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flowhook.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "flowhook.configMapName" -}}
{{- printf "%s-config" (include "flowhook.fullname" .) -}}
{{- end -}}

{{- define "flowhook.credentialsSecretName" -}}
{{- printf "%s-credentials" (include "flowhook.fullname" .) -}}
{{- end -}}

{{- define "flowhook.headerSecretsName" -}}
{{- default (printf "%s-header-secrets" (include "flowhook.fullname" .)) .Values.headerSecrets.existingSecret -}}
{{- end -}}

{{/*
A setting's text for the ConfigMap. Helm reads numbers in values files as float64, and
toString would print 1000000 as "1e+06": print whole numbers as integers.
*/}}
{{- define "flowhook.settingText" -}}
{{- if kindIs "float64" . -}}
{{- if eq (float64 (int64 .)) . -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* Where credentials are mounted. */}}
{{- define "flowhook.saslDir" -}}/var/run/secrets/flowhook/kafka-sasl{{- end -}}
{{- define "flowhook.tlsDir" -}}/var/run/secrets/flowhook/kafka-tls{{- end -}}
{{- define "flowhook.headerSecretsDir" -}}/var/run/secrets/flowhook/header-secrets{{- end -}}

{{/* "true" when a source of the SASL password is configured. */}}
{{- define "flowhook.sasl.enabled" -}}
{{- if or .Values.kafka.sasl.existingSecret .Values.kafka.sasl.password -}}true{{- end -}}
{{- end -}}

{{/* TLS files to mount: a list of dicts {key, path, env}, as JSON. */}}
{{- define "flowhook.tls.files" -}}
{{- $t := .Values.kafka.tls -}}
{{- $files := list -}}
{{- if $t.existingSecret -}}
{{- if $t.existingSecretCaKey }}{{ $files = append $files (dict "key" $t.existingSecretCaKey "path" "ca.crt" "env" "KAFKA_SSL_CA_FILE") }}{{ end -}}
{{- if $t.existingSecretCertKey }}{{ $files = append $files (dict "key" $t.existingSecretCertKey "path" "tls.crt" "env" "KAFKA_SSL_CERT_FILE") }}{{ end -}}
{{- if $t.existingSecretKeyKey }}{{ $files = append $files (dict "key" $t.existingSecretKeyKey "path" "tls.key" "env" "KAFKA_SSL_KEY_FILE") }}{{ end -}}
{{- else -}}
{{- if $t.ca }}{{ $files = append $files (dict "key" "kafka-ca.crt" "path" "ca.crt" "env" "KAFKA_SSL_CA_FILE") }}{{ end -}}
{{- if $t.cert }}{{ $files = append $files (dict "key" "kafka-tls.crt" "path" "tls.crt" "env" "KAFKA_SSL_CERT_FILE") }}{{ end -}}
{{- if $t.key }}{{ $files = append $files (dict "key" "kafka-tls.key" "path" "tls.key" "env" "KAFKA_SSL_KEY_FILE") }}{{ end -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{- define "flowhook.signing.enabled" -}}
{{- if or .Values.signing.existingSecret .Values.signing.secret -}}true{{- end -}}
{{- end -}}

{{- define "flowhook.headerSecrets.enabled" -}}
{{- if or .Values.headerSecrets.existingSecret .Values.headerSecrets.values -}}true{{- end -}}
{{- end -}}

{{/* "true" when the chart must create the credentials Secret. */}}
{{- define "flowhook.credentialsSecret.create" -}}
{{- $v := .Values -}}
{{- if or (and $v.kafka.sasl.password (not $v.kafka.sasl.existingSecret)) (and (not $v.kafka.tls.existingSecret) (or $v.kafka.tls.ca $v.kafka.tls.cert $v.kafka.tls.key)) (and $v.signing.secret (not $v.signing.existingSecret)) -}}true{{- end -}}
{{- end -}}

{{/*
Checks of the values that would otherwise fail only when a pod starts. Included by the
ConfigMap, which every installation renders.
*/}}
{{- define "flowhook.validate" -}}
{{- $v := .Values -}}
{{- $ := . -}}
{{- if not $v.config.KAFKA_BROKERS -}}
{{- fail "config.KAFKA_BROKERS is required: the bootstrap brokers of your Kafka cluster (host:port, comma separated). The chart does not start a broker." -}}
{{- end -}}
{{- $managed := dict "FLOWHOOK_ROLES" "roles.<name>.enabled (one Deployment per role)" "FLOWHOOK_INSTANCE_ID" "the pod name (set by the chart)" "FLOWHOOK_HTTP_PORT" "containerPorts.http" "FLOWHOOK_SHUTDOWN_GRACE" "shutdownGraceSeconds" "KAFKA_SASL_PASSWORD" "kafka.sasl.password or kafka.sasl.existingSecret" "KAFKA_SASL_PASSWORD_FILE" "kafka.sasl.password or kafka.sasl.existingSecret" "KAFKA_SSL_CA_FILE" "kafka.tls.ca or kafka.tls.existingSecret" "KAFKA_SSL_CERT_FILE" "kafka.tls.cert or kafka.tls.existingSecret" "KAFKA_SSL_KEY_FILE" "kafka.tls.key or kafka.tls.existingSecret" "FLOWHOOK_SIGNING_SECRET" "signing.secret or signing.existingSecret" "FLOWHOOK_SECRETS_DIR" "headerSecrets.values or headerSecrets.existingSecret" "FLOWHOOK_FLOW_SIGNING_KEY" "an env var from a Secret (roles.<name>.extraEnv); a private key never goes in the ConfigMap" -}}
{{- range $name, $value := $v.config -}}
{{- if and (hasKey $managed $name) (ne (toString $value) "") -}}
{{- fail (printf "config.%s is set by the chart: use %s" $name (get $managed $name)) -}}
{{- end -}}
{{- end -}}
{{- $enabled := 0 -}}
{{- range $role := splitList " " (include "flowhook.roles" $) -}}
{{- if (get $v.roles $role).enabled }}{{ $enabled = add1 $enabled }}{{ end -}}
{{- end -}}
{{- if eq $enabled 0 -}}
{{- fail "no role is enabled: enable at least one of roles.trigger, roles.delivery, roles.delay" -}}
{{- end -}}
{{- if and $v.config.KAFKA_SASL_MECHANISM (not (include "flowhook.sasl.enabled" $)) -}}
{{- fail "config.KAFKA_SASL_MECHANISM is set but no password: set kafka.sasl.password or kafka.sasl.existingSecret (and config.KAFKA_SASL_USERNAME)" -}}
{{- end -}}
{{- if and (include "flowhook.sasl.enabled" $) (not $v.config.KAFKA_SASL_MECHANISM) -}}
{{- fail "a SASL password is configured but config.KAFKA_SASL_MECHANISM is empty (plain, scram-sha-256 or scram-sha-512)" -}}
{{- end -}}
{{- if lt (int $v.shutdownGraceSeconds) 1 -}}
{{- fail "shutdownGraceSeconds must be a positive number of seconds" -}}
{{- end -}}
{{- end -}}

{{/* Environment of every flowhook container: role-independent part. */}}
{{- define "flowhook.env.common" -}}
- name: FLOWHOOK_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: FLOWHOOK_HTTP_PORT
  value: {{ .Values.containerPorts.http | quote }}
- name: FLOWHOOK_SHUTDOWN_GRACE
  value: {{ printf "%ds" (int .Values.shutdownGraceSeconds) | quote }}
{{- if include "flowhook.sasl.enabled" . }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: {{ include "flowhook.saslDir" . }}/password
{{- end }}
{{- range (include "flowhook.tls.files" . | fromJsonArray) }}
- name: {{ .env }}
  value: {{ include "flowhook.tlsDir" $ }}/{{ .path }}
{{- end }}
{{- end -}}

{{/* Volume mounts for Kafka credentials and /tmp. */}}
{{- define "flowhook.volumeMounts.common" -}}
- name: tmp
  mountPath: /tmp
- name: state
  mountPath: {{ .Values.stateStore.mountPath }}
{{- if include "flowhook.sasl.enabled" . }}
- name: kafka-sasl
  mountPath: {{ include "flowhook.saslDir" . }}
  readOnly: true
{{- end }}
{{- if (include "flowhook.tls.files" . | fromJsonArray) }}
- name: kafka-tls
  mountPath: {{ include "flowhook.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "flowhook.volumes.common" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolumeSizeLimit }}
- name: state
  {{- if .Values.stateStore.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.stateStore.existingClaim }}
  {{- else }}
  emptyDir:
    sizeLimit: {{ .Values.stateStore.sizeLimit }}
  {{- end }}
{{- if include "flowhook.sasl.enabled" . }}
- name: kafka-sasl
  secret:
    secretName: {{ .Values.kafka.sasl.existingSecret | default (include "flowhook.credentialsSecretName" .) }}
    defaultMode: 288 # 0440
    items:
      - key: {{ ternary .Values.kafka.sasl.existingSecretPasswordKey "kafka-sasl-password" (ne .Values.kafka.sasl.existingSecret "") }}
        path: password
{{- end }}
{{- $tls := include "flowhook.tls.files" . | fromJsonArray }}
{{- if $tls }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.existingSecret | default (include "flowhook.credentialsSecretName" .) }}
    defaultMode: 288 # 0440
    items:
      {{- range $tls }}
      - key: {{ .key }}
        path: {{ .path }}
      {{- end }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by the Deployments and the Job. */}}
{{- define "flowhook.podSpec.common" -}}
serviceAccountName: {{ include "flowhook.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- /* Service links would inject FLOWHOOK_<SERVICE>_PORT…, which flowhook rejects as unknown settings. */}}
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}
