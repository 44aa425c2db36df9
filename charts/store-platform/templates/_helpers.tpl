{{- define "sp.name" -}}{{ .Release.Name }}-store-platform{{- end -}}
{{- define "sp.labels" -}}
app.kubernetes.io/name: store-platform
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "sp.storeRole" -}}{{ .Release.Name }}-store-platform-store-manager{{- end -}}
{{- define "sp.secret" -}}{{ .Values.secrets.existingSecret | default (include "sp.name" .) }}{{- end -}}
{{- define "sp.env" -}}
- {name: STOREKIT_HOME, value: /data}
- {name: STOREKIT_KUBECONFIG, value: in-cluster}
- {name: STOREKIT_LOG_LEVEL, value: {{ .Values.logLevel | quote }}}
- {name: STOREKIT_STORE_DOMAIN, value: {{ .Values.storeDomain | quote }}}
- {name: STOREKIT_INGRESS_CLASS, value: {{ .Values.stores.ingressClass | quote }}}
- {name: STOREKIT_INGRESS_NAMESPACE, value: {{ .Values.stores.ingressNamespace | quote }}}
- {name: STOREKIT_STORAGE_CLASS, value: {{ .Values.stores.storageClass | quote }}}
- {name: STOREKIT_TIMEOUT, value: {{ .Values.stores.timeout | quote }}}
- {name: STOREKIT_WEB_MAX_STORES, value: {{ .Values.stores.maxStores | quote }}}
- {name: STOREKIT_STORE_ROLE, value: {{ include "sp.storeRole" . | quote }}}
- {name: STOREKIT_SERVICE_ACCOUNT, value: "{{ .Release.Namespace }}/{{ include "sp.name" . }}"}
{{- with .Values.stores.tlsIssuer }}
- {name: STOREKIT_TLS_ISSUER, value: {{ . | quote }}}
{{- end }}
{{- /* URLs may carry passwords: they live in the Secret, not in the pod spec. */}}
{{- if .Values.databaseUrl }}
- name: STOREKIT_DB_URL
  valueFrom: {secretKeyRef: {name: {{ include "sp.secret" . }}, key: database-url}}
{{- end }}
{{- if .Values.stateUrl }}
- name: STOREKIT_STATE_URL
  valueFrom: {secretKeyRef: {name: {{ include "sp.secret" . }}, key: state-url}}
{{- end }}
- name: STOREKIT_PASSPHRASE
  valueFrom: {secretKeyRef: {name: {{ include "sp.secret" . }}, key: passphrase}}
{{- end -}}

{{- /* More than one process needs a shared catalog and shared stack state. */ -}}
{{- define "sp.validate" -}}
{{- if and (or (gt (int .Values.replicas) 1) (gt (int .Values.workers.replicas) 0)) (or (not .Values.databaseUrl) (not .Values.stateUrl)) -}}
{{- fail "replicas > 1 or workers.replicas > 0 need databaseUrl and stateUrl: every process must share the catalog and the stack state (files on a PVC are one pod's)" -}}
{{- end -}}
{{- end -}}
