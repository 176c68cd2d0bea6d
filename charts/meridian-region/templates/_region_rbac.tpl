{{- /*
What the hub's operator may do in a region cluster, and nothing more: the kinds it writes, in
the one namespace it serves from. Shared by this chart and the operator chart's hubRegion
option; charts/meridian/templates/_region_rbac.tpl is a byte copy (a test compares them).

Arguments (a dict): name, namespace, createNamespace, subjectName, subjectNamespace, labels.
*/ -}}
{{- define "meridian.regionRbac" -}}
{{- if .createNamespace }}
# The namespace the auth-servers run in. It must exist before the Role below can, so the chart
# creates it; the operator then uses it and, as it did not label it, never changes or deletes it.
# Kept on uninstall: removing the operator's access must not take the auth-servers down.
apiVersion: v1
kind: Namespace
metadata:
  name: {{ .namespace }}
  annotations:
    helm.sh/resource-policy: keep
  labels:
    {{- .labels | nindent 4 }}
---
{{- end }}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .name }}
  labels:
    {{- .labels | nindent 4 }}
rules:
  # Before applying anything the operator reads the target namespace: one it labelled itself
  # is kept in shape, any other is used as it is. Only that namespace, by name.
  - apiGroups: [""]
    resources: [namespaces]
    resourceNames: [{{ .namespace | quote }}]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ .name }}
  labels:
    {{- .labels | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ .subjectName }}
    namespace: {{ .subjectNamespace }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- .labels | nindent 4 }}
rules:
  # Everything the operator renders for a region: the tenant config (ConfigMaps), signing keys,
  # client digests and user directories (Secrets), the auth-server Deployments, their Services
  # and PodDisruptionBudgets. Server-side apply is a patch that creates what is missing (so
  # create too); the sweep lists its labelled objects and deletes those no longer desired.
  # Secrets get also covers the Postgres store's URI Secret (spec.authServer.store.uriSecretRef,
  # e.g. CloudNativePG's <cluster>-app): the operator checks it exists and holds its key before
  # rolling pods that need it, and never copies, logs or reports the value; the pods read it.
  # Nothing is watched: a region is re-read on every resync.
  - apiGroups: [""]
    resources: [configmaps, secrets, services]
    verbs: [get, list, create, patch, delete]
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, list, create, patch, delete]
  - apiGroups: [policy]
    resources: [poddisruptionbudgets]
    verbs: [get, list, create, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- .labels | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ .subjectName }}
    namespace: {{ .subjectNamespace }}
{{- end -}}
