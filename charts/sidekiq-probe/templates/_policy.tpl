{{- /*
Policy mode: the webhook's reading of a pod (webhook/config.go, sidekiqcommand.go),
in CEL, as variables shared by the MutatingAdmissionPolicy (which injects a
pod when variables.error is empty) and the ValidatingAdmissionPolicies (which
deny with variables.error and warn). One copy: both include this template.

Every message is the webhook's InvalidError text, `FIELD: "VALUE" is not
accepted: ACCEPTED`, with strings.quote standing in for Go's %q. An integer
annotation is read like strconv.Atoi(strings.TrimSpace(v)); the pattern bounds
the digits first, so int() never fails.
*/ -}}

{{- define "sidekiq-probe.policy.intPattern" -}}
r'^[+-]?0*[0-9]{1,18}$'
{{- end -}}

{{/* CEL: the error of an integer annotation, '' when absent or valid. */}}
{{- define "sidekiq-probe.policy.intError" -}}
{{- $v := printf "variables.annotations['%s']" .key -}}
('{{ .key }}' in variables.annotations &&
  !({{ $v }}.trim().matches({{ include "sidekiq-probe.policy.intPattern" . }}) &&
    int({{ $v }}.trim()) >= {{ .min }} && int({{ $v }}.trim()) <= {{ .max }})) ?
  '{{ .key }}: ' + strings.quote({{ $v }}) + ' is not accepted: an integer {{ .min }}..{{ .max }}' : ''
{{- end -}}

{{/* CEL: the value of an integer annotation (valid when present), else the default. */}}
{{- define "sidekiq-probe.policy.intValue" -}}
'{{ .key }}' in variables.annotations ? int(variables.annotations['{{ .key }}'].trim()) : {{ .default }}
{{- end -}}

{{- define "sidekiq-probe.policy.variables" -}}
- name: annotations
  expression: "has(object.metadata.annotations) ? object.metadata.annotations : {}"
- name: inject
  expression: "variables.annotations[?'sidekiq-probe.io/inject'].orValue('')"
- name: mirror
  expression: "'kubernetes.io/config.mirror' in variables.annotations"
- name: injectError
  expression: >-
    variables.inject == 'true' || variables.inject == 'false' ? '' :
    'sidekiq-probe.io/inject: ' + strings.quote(variables.inject) + ' is not accepted: "true" or "false"'
- name: shareError
  expression: >-
    has(object.spec.shareProcessNamespace) && object.spec.shareProcessNamespace == false ?
    'spec.shareProcessNamespace: "false" is not accepted: true or unset: the sidecar must see the Sidekiq process to signal it' : ''
- name: hostPIDError
  expression: >-
    has(object.spec.hostPID) && object.spec.hostPID == true ?
    'spec.hostPID: "true" is not accepted: false or unset: the sidecar needs shareProcessNamespace, which the API server refuses together with hostPID' : ''
- name: hostNetworkError
  expression: >-
    has(object.spec.hostNetwork) && object.spec.hostNetwork == true ?
    'spec.hostNetwork: "true" is not accepted: false or unset: on the host network the sidecar\'s port, /prestop included, would be the node\'s' : ''
- name: osError
  expression: >-
    has(object.spec.os) && has(object.spec.os.name) && object.spec.os.name == 'windows' ?
    'spec.os.name: "windows" is not accepted: "linux" or unset: the sidecar is a Linux container that reads Sidekiq\'s processes in /proc' : ''
# Only the injection adds a sidekiq-probe container, always with the status
# annotation; anyone else's would be rewritten into ours.
- name: foreignSidecarError
  expression: >-
    variables.annotations[?'sidekiq-probe.io/status'].orValue('') == 'injected' ? '' :
    ((has(object.spec.initContainers) ? lists.range(size(object.spec.initContainers)).filter(i,
        object.spec.initContainers[i].name == 'sidekiq-probe').map(i, 'spec.initContainers[' + string(i) + ']') : []) +
     (has(object.spec.containers) && object.spec.containers != null ? lists.range(size(object.spec.containers)).filter(i,
        object.spec.containers[i].name == 'sidekiq-probe').map(i, 'spec.containers[' + string(i) + ']') : []) + ['']).map(f,
      f == '' ? '' : f + '.name: "sidekiq-probe" is not accepted: another name: "sidekiq-probe" is the sidecar\'s, ' +
        'and this pod has no sidekiq-probe.io/status: injected annotation, so the webhook did not add it')[0]
# (Absent from a pod the API server will reject as invalid.)
- name: containers
  expression: "has(object.spec.containers) && object.spec.containers != null ? object.spec.containers : []"
# Every container but the sidecar may be Sidekiq's.
- name: candidates
  expression: >-
    lists.range(size(variables.containers)).filter(i, variables.containers[i].name != 'sidekiq-probe')
- name: containerName
  expression: "variables.annotations[?'sidekiq-probe.io/container'].orValue('')"
# The words of each container's command+args, as webhook/sidekiqcommand.go splits
# them: the script of a `sh -c SCRIPT` (or bash, -ec...) is split on blanks
# and the operators ; & | ( ) newline (each a ';' word), quotes removed.
- name: argvs
  expression: >-
    variables.containers.map(c, (has(c.command) ? c.command : []) + (has(c.args) ? c.args : []))
- name: shellAt
  expression: >-
    variables.argvs.map(a, lists.range(size(a)).map(i, i + 2 < size(a) &&
      a[i].matches(r'^(?s)(.*/)?(sh|bash)/*$') && a[i + 1].matches(r'^(?s)-(c|[^-].*c)$')))
# A `sh -c` whose "sh" is itself the script of the one two words before is a
# plain word: of a run of them, every other one expands.
- name: expands
  expression: >-
    lists.range(size(variables.argvs)).map(k, lists.range(size(variables.argvs[k])).map(i,
      variables.shellAt[k][i] &&
      lists.range(i / 2 + 2).filter(m, m >= 1 && (i - 2 * m < 0 || !variables.shellAt[k][i - 2 * m]))[0] % 2 == 1))
# A container none of whose arguments holds "sidekiq" once quotes are
# removed has no word sidekiq: its words would not matter, nor are they split.
- name: words
  expression: >-
    lists.range(size(variables.argvs)).map(k,
      !variables.argvs[k].exists(a, a.replace("'", '').replace('"', '').contains('sidekiq')) ? [] :
      lists.range(size(variables.argvs[k])).map(i,
      (i >= 1 && variables.expands[k][i - 1]) || (i >= 2 && variables.expands[k][i - 2]) ? [] :
      !variables.expands[k][i] ? [variables.argvs[k][i]] :
      variables.argvs[k][i + 2].findAll(r'(?:[^ \t\x22\x27;&|()\n]|\x27[^\x27]*(?:\x27|$)|\x22[^\x22]*(?:\x22|$))+|[;&|()\n]').map(t,
        t.matches(r'^[;&|()\n]$') ? ';' :
        t.findAll(r'\x27[^\x27]*(?:\x27|$)|\x22[^\x22]*(?:\x22|$)|[^\x22\x27]+').map(g,
          g.startsWith("'") || g.startsWith('"') ?
            g.substring(1, size(g) > 1 && g.endsWith(g.substring(0, 1)) ? size(g) - 1 : size(g)) : g).join(''))
    ).flatten())
# From the word sidekiq (any path) to the end of its command; [] when none.
- name: sidekiqWords
  expression: >-
    variables.words.map(w, lists.range(size(w)).filter(i, w[i].matches(r'^(?s)(.*/)?sidekiq/*$')).map(s,
      w.slice(s, (lists.range(size(w)).filter(j, j > s && w[j] == ';') + [size(w)])[0])) + [[]])
    .map(l, l[0])
- name: sidekiqIndex
  expression: >-
    size(variables.candidates) == 0 ? -1 :
    variables.containerName != '' ?
      (variables.candidates.filter(i, variables.containers[i].name == variables.containerName) + [-1])[0] :
    size(variables.candidates) == 1 ? variables.candidates[0] :
    (variables.candidates.filter(i, size(variables.sidekiqWords[i]) > 0) + [-1])[0]
- name: containerError
  expression: >-
    size(variables.candidates) == 0 ?
      'spec.containers: "" is not accepted: a pod with a Sidekiq container besides sidekiq-probe' :
    variables.sidekiqIndex >= 0 ? '' :
    'sidekiq-probe.io/container: ' + strings.quote(variables.containerName) +
      ' is not accepted: the name of one of the pod\'s containers: ' +
      variables.candidates.map(i, strings.quote(variables.containers[i].name)).join(', ') +
      (variables.containerName == '' ? ' (no container\'s command runs sidekiq, so it must be named)' : '')
- name: maxJobError
  expression: >-
    {{- include "sidekiq-probe.policy.intError" (dict "key" "sidekiq-probe.io/max-job-seconds" "min" 1 "max" 86400) | nindent 4 }}
- name: timeoutError
  expression: >-
    {{- include "sidekiq-probe.policy.intError" (dict "key" "sidekiq-probe.io/shutdown-timeout-seconds" "min" 1 "max" 3600) | nindent 4 }}
- name: portError
  expression: >-
    {{- include "sidekiq-probe.policy.intError" (dict "key" "sidekiq-probe.io/port" "min" 1024 "max" 65535) | nindent 4 }}
- name: port
  expression: >-
    {{ include "sidekiq-probe.policy.intValue" (dict "key" "sidekiq-probe.io/port" "default" 7433) }}
# The first container but the sidecar that declares the port (init ones first).
- name: portTakenBy
  expression: >-
    ((has(object.spec.initContainers) ? object.spec.initContainers.map(c, c) : []) + variables.containers.map(c, c))
      .filter(c, c.name != 'sidekiq-probe' && has(c.ports) && c.ports.exists(p, p.containerPort == variables.port))
      .map(c, c.name)
- name: portFreeError
  expression: >-
    size(variables.portTakenBy) == 0 ? '' :
    'sidekiq-probe.io/port: "' + string(variables.port) + '" is not accepted: an integer 1024..65535 that no container declares (container ' +
      strings.quote(variables.portTakenBy[0]) + ' declares ' + string(variables.port) + ')'
- name: quietSignalError
  expression: >-
    !('sidekiq-probe.io/quiet-signal' in variables.annotations) ||
    variables.annotations['sidekiq-probe.io/quiet-signal'] in ['TSTP', 'USR1'] ? '' :
    'sidekiq-probe.io/quiet-signal: ' + strings.quote(variables.annotations['sidekiq-probe.io/quiet-signal']) +
      ' is not accepted: "TSTP", or "USR1" for Sidekiq < 5'
- name: redisURLEnvError
  expression: >-
    !('sidekiq-probe.io/redis-url-env' in variables.annotations) ||
    variables.annotations['sidekiq-probe.io/redis-url-env'].matches(r'^[A-Za-z_][A-Za-z0-9_]*$') ? '' :
    'sidekiq-probe.io/redis-url-env: ' + strings.quote(variables.annotations['sidekiq-probe.io/redis-url-env']) +
      ' is not accepted: an environment variable name: letters, digits and _, not starting with a digit'
- name: heartbeatError
  expression: >-
    {{- include "sidekiq-probe.policy.intError" (dict "key" "sidekiq-probe.io/heartbeat-timeout-seconds" "min" 10 "max" 3600) | nindent 4 }}
# The webhook's first error, in the order it checks; '' when the pod is valid.
- name: error
  expression: >-
    variables.injectError != '' ? variables.injectError :
    variables.shareError != '' ? variables.shareError :
    variables.hostPIDError != '' ? variables.hostPIDError :
    variables.hostNetworkError != '' ? variables.hostNetworkError :
    variables.osError != '' ? variables.osError :
    variables.foreignSidecarError != '' ? variables.foreignSidecarError :
    variables.containerError != '' ? variables.containerError :
    variables.maxJobError != '' ? variables.maxJobError :
    variables.timeoutError != '' ? variables.timeoutError :
    variables.portError != '' ? variables.portError :
    variables.portFreeError != '' ? variables.portFreeError :
    variables.quietSignalError != '' ? variables.quietSignalError :
    variables.redisURLEnvError != '' ? variables.redisURLEnvError :
    variables.heartbeatError
# What follows is read only from a valid pod (variables.error == '').
- name: sidekiq
  expression: "variables.containers[variables.sidekiqIndex]"
- name: maxJobSeconds
  expression: >-
    {{ include "sidekiq-probe.policy.intValue" (dict "key" "sidekiq-probe.io/max-job-seconds" "default" .Values.defaultMaxJobSeconds) }}
# Sidekiq's -t N, -tN, --timeout N or --timeout=N, as written.
- name: timeoutFlag
  expression: >-
    [variables.sidekiqWords[variables.sidekiqIndex]].map(w, lists.range(size(w)).filter(i,
        ((w[i] == '-t' || w[i] == '--timeout') && i + 1 < size(w)) || w[i].startsWith('--timeout=') ||
        w[i].matches(r'^-t[+-]?0*[0-9]{1,18}$')).map(i,
      w[i] == '-t' || w[i] == '--timeout' ? w[i + 1] : w[i].startsWith('--timeout=') ? w[i].substring(10) : w[i].substring(2)))[0]
- name: timeoutFlagValid
  expression: >-
    size(variables.timeoutFlag) > 0 && variables.timeoutFlag[0].matches({{ include "sidekiq-probe.policy.intPattern" . }}) &&
    int(variables.timeoutFlag[0]) >= 1 && int(variables.timeoutFlag[0]) <= 3600
- name: shutdownTimeoutSeconds
  expression: >-
    'sidekiq-probe.io/shutdown-timeout-seconds' in variables.annotations ?
      int(variables.annotations['sidekiq-probe.io/shutdown-timeout-seconds'].trim()) :
    variables.timeoutFlagValid ? int(variables.timeoutFlag[0]) : 25
- name: quietSignal
  expression: "variables.annotations[?'sidekiq-probe.io/quiet-signal'].orValue('TSTP')"
- name: redisURLEnv
  expression: "variables.annotations[?'sidekiq-probe.io/redis-url-env'].orValue('REDIS_URL')"
- name: heartbeatTimeoutSeconds
  expression: >-
    {{ include "sidekiq-probe.policy.intValue" (dict "key" "sidekiq-probe.io/heartbeat-timeout-seconds" "default" 60) }}
# The UID Sidekiq runs as: its container's, else the pod's; [] when unknown.
- name: uid
  expression: >-
    has(variables.sidekiq.securityContext) && has(variables.sidekiq.securityContext.runAsUser) ?
      [variables.sidekiq.securityContext.runAsUser] :
    has(object.spec.securityContext) && has(object.spec.securityContext.runAsUser) ?
      [object.spec.securityContext.runAsUser] : []
# Sidekiq's Redis URL variable as declared, the last entry of its name (the
# one the container gets); [] when it is not. (No slice(): it returns the
# pod's objects in a form a JSONPatch value cannot hold.)
- name: redisURLVar
  expression: >-
    !has(variables.sidekiq.env) ? [] :
      lists.range(size(variables.sidekiq.env)).filter(i, variables.sidekiq.env[i].name == variables.redisURLEnv &&
        !lists.range(size(variables.sidekiq.env)).exists(k, k > i && variables.sidekiq.env[k].name == variables.redisURLEnv))
      .map(i, variables.sidekiq.env[i])
{{- end -}}

{{- /* CEL of a probe on the sidecar's port (by number). Object types exist
only in the mutation's own expression, so the values here are maps of dyn. */ -}}
{{- define "sidekiq-probe.policy.probe" -}}
{'httpGet': dyn({'path': dyn('{{ .path }}'), 'port': dyn(variables.port), 'scheme': dyn('HTTP')}), 'periodSeconds': dyn({{ .period }}), 'timeoutSeconds': dyn(5), 'successThreshold': dyn(1), 'failureThreshold': dyn({{ .failures }})}
{{- end -}}

{{- /* CEL: one JSON patch "add" of value at path, as a map the mutation turns into a JSONPatch. */ -}}
{{- define "sidekiq-probe.policy.add" -}}
{'path': dyn({{ .path }}), 'value': dyn({{ .value }})}
{{- end -}}

{{- /*
The MutatingAdmissionPolicy's own variables: the JSON patches ("add" ops) of
webhook/mutate.go's apply, read from a valid pod.
*/ -}}
{{- define "sidekiq-probe.policy.patches" -}}
- name: path
  expression: "'/spec/containers/' + string(variables.sidekiqIndex)"
# The sidecar is completed where it is (an init container first), never
# added twice; a new one is appended.
- name: initSidecar
  expression: >-
    has(object.spec.initContainers) ?
      lists.range(size(object.spec.initContainers)).filter(i, object.spec.initContainers[i].name == 'sidekiq-probe') : []
- name: containerSidecar
  expression: >-
    lists.range(size(object.spec.containers)).filter(i, object.spec.containers[i].name == 'sidekiq-probe')
- name: current
  expression: >-
    size(variables.initSidecar) > 0 ? [object.spec.initContainers[variables.initSidecar[0]]] :
    size(variables.containerSidecar) > 0 ? [object.spec.containers[variables.containerSidecar[0]]] : []
# The preStop token: the sidecar's own when it is sound (an earlier pass: the
# same rule as webhook/token.go, so injecting twice changes nothing), else the
# release's, from the policy's parameter (CEL has no random source). The
# Secret's data arrives as stored, base64: made URL-safe like the webhook's.
- name: currentToken
  expression: >-
    variables.current.map(c, !has(c.env) ? [] :
      lists.range(size(c.env)).filter(i, c.env[i].name == 'SIDEKIQ_PROBE_PRESTOP_TOKEN' &&
        !lists.range(size(c.env)).exists(k, k > i && c.env[k].name == 'SIDEKIQ_PROBE_PRESTOP_TOKEN')).map(i, c.env[i])).flatten()
    .filter(e, !has(e.valueFrom) && has(e.value) && e.value.matches(r'^[A-Za-z0-9_-]{22,256}$')).map(e, e.value)
- name: token
  expression: >-
    size(variables.currentToken) > 0 ? variables.currentToken[0] :
      string(params.data.token).replace('+', '-').replace('/', '_').replace('=', '')
- name: preStop
  expression: >-
    {'httpGet': {'path': dyn('/prestop'), 'port': dyn(variables.port), 'scheme': dyn('HTTP'),
      'httpHeaders': dyn([{'name': dyn('X-Sidekiq-Probe-Token'), 'value': dyn(variables.token)}])}}
# Ours (from an earlier pass) is rewritten whole: the header carries this token.
- name: preStopIsOurs
  expression: >-
    has(variables.sidekiq.lifecycle) && has(variables.sidekiq.lifecycle.preStop) && has(variables.sidekiq.lifecycle.preStop.httpGet) &&
    variables.sidekiq.lifecycle.preStop.httpGet.path == '/prestop' && variables.sidekiq.lifecycle.preStop.httpGet.port == variables.port
# setProbes: each probe and the preStop hook only where the user set none.
- name: probeOps
  expression: >-
    (has(variables.sidekiq.startupProbe) ? [] : [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.path + '/startupProbe'" "value" (include "sidekiq-probe.policy.probe" (dict "path" "/startupz" "period" 5 "failures" 60))) }}]) +
    (has(variables.sidekiq.livenessProbe) ? [] : [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.path + '/livenessProbe'" "value" (include "sidekiq-probe.policy.probe" (dict "path" "/livez" "period" 10 "failures" 3))) }}]) +
    (has(variables.sidekiq.readinessProbe) ? [] : [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.path + '/readinessProbe'" "value" (include "sidekiq-probe.policy.probe" (dict "path" "/readyz" "period" 10 "failures" 1))) }}]) +
    (!has(variables.sidekiq.lifecycle) ? [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.path + '/lifecycle'" "value" "{'preStop': variables.preStop}") }}] :
     !has(variables.sidekiq.lifecycle.preStop) || variables.preStopIsOurs ?
       [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.path + '/lifecycle/preStop'" "value" "variables.preStop") }}] : [])
- name: sidecarInInit
  expression: >-
    size(variables.initSidecar) > 0 || (size(variables.containerSidecar) == 0 && {{ .Values.nativeSidecar }})
- name: sidecarPath
  expression: >-
    size(variables.initSidecar) > 0 ? '/spec/initContainers/' + string(variables.initSidecar[0]) :
    size(variables.containerSidecar) > 0 ? '/spec/containers/' + string(variables.containerSidecar[0]) :
    variables.sidecarInInit ?
      '/spec/initContainers/' + string(has(object.spec.initContainers) ? size(object.spec.initContainers) : 0) :
      '/spec/containers/' + string(size(object.spec.containers))
- name: currentEnv
  expression: "variables.current.map(c, has(c.env) ? c.env : []).flatten()"
- name: ourEnv
  expression: >-
    [
      {'name': dyn('POD_NAME'), 'valueFrom': dyn({'fieldRef': {'apiVersion': 'v1', 'fieldPath': 'metadata.name'}})},
      {'name': dyn('SIDEKIQ_PROBE_PORT'), 'value': dyn(string(variables.port))},
      {'name': dyn('SIDEKIQ_PROBE_MAX_JOB_SECONDS'), 'value': dyn(string(variables.maxJobSeconds))},
      {'name': dyn('SIDEKIQ_PROBE_SHUTDOWN_TIMEOUT_SECONDS'), 'value': dyn(string(variables.shutdownTimeoutSeconds))},
      {'name': dyn('SIDEKIQ_PROBE_HEARTBEAT_TIMEOUT_SECONDS'), 'value': dyn(string(variables.heartbeatTimeoutSeconds))},
      {'name': dyn('SIDEKIQ_PROBE_QUIET_SIGNAL'), 'value': dyn(variables.quietSignal)},
      {'name': dyn('SIDEKIQ_PROBE_REDIS_URL_ENV'), 'value': dyn(variables.redisURLEnv)},
      {'name': dyn('SIDEKIQ_PROBE_PRESTOP_TOKEN'), 'value': dyn(variables.token)}
    ]
- name: ourEnvNames
  expression: "variables.ourEnv.map(e, e.name) + variables.redisURLVar.map(e, e.name)"
# setEnv: each of ours (then the Redis URL's) replaces the first variable of
# its name where it stands, later ones of that name are dropped, the others
# are appended; the user's own stay where they are.
- name: sidecarEnv
  expression: >-
    lists.range(size(variables.currentEnv)).filter(j, !(variables.currentEnv[j].name in variables.ourEnvNames) ||
      !lists.range(j).exists(k, variables.currentEnv[k].name == variables.currentEnv[j].name)).map(j,
      !(variables.currentEnv[j].name in variables.ourEnvNames) ? [variables.currentEnv[j]] :
      variables.redisURLVar.exists(r, r.name == variables.currentEnv[j].name) ? variables.redisURLVar :
        variables.ourEnv.filter(o, o.name == variables.currentEnv[j].name)).flatten() +
    variables.ourEnv.filter(o, !variables.currentEnv.exists(e, e.name == o.name)) +
    variables.redisURLVar.filter(r, !variables.currentEnv.exists(e, e.name == r.name))
# Without the variable itself, Sidekiq's envFrom sources the sidecar lacks.
- name: currentEnvFrom
  expression: "variables.current.map(c, has(c.envFrom) ? c.envFrom : []).flatten()"
- name: sidekiqEnvFrom
  expression: "has(variables.sidekiq.envFrom) ? variables.sidekiq.envFrom : []"
- name: addedEnvFrom
  expression: >-
    size(variables.redisURLVar) > 0 ? [] :
    lists.range(size(variables.sidekiqEnvFrom)).filter(j,
      !variables.currentEnvFrom.exists(h, h == variables.sidekiqEnvFrom[j]) &&
      !lists.range(j).exists(k, variables.sidekiqEnvFrom[k] == variables.sidekiqEnvFrom[j])).map(j, variables.sidekiqEnvFrom[j])
- name: ourPort
  expression: "{'name': dyn('sidekiq-probe'), 'containerPort': dyn(variables.port), 'protocol': dyn('TCP')}"
# Resources and security context are the user's to tune: set only when unset.
- name: needsResources
  expression: >-
    variables.current.all(c, !has(c.resources) ||
      ((!has(c.resources.requests) || size(c.resources.requests) == 0) && (!has(c.resources.limits) || size(c.resources.limits) == 0)))
# restrictedSecurityContext: as Sidekiq's UID when known and not root.
- name: securityContext
  expression: >-
    size(variables.uid) > 0 && variables.uid[0] != 0 ?
      {'runAsNonRoot': dyn(true), 'allowPrivilegeEscalation': dyn(false), 'readOnlyRootFilesystem': dyn(true),
        'capabilities': dyn({'drop': ['ALL']}), 'seccompProfile': dyn({'type': 'RuntimeDefault'}), 'runAsUser': dyn(variables.uid[0])} :
      {'runAsNonRoot': dyn(true), 'allowPrivilegeEscalation': dyn(false), 'readOnlyRootFilesystem': dyn(true),
        'capabilities': dyn({'drop': ['ALL']}), 'seccompProfile': dyn({'type': 'RuntimeDefault'})}
# The sidecar's ops but those whose value holds the pod's own objects (its
# env, envFrom and ports entries), which a JSONPatch built in the mutation's
# expression carries and a map of dyn cannot.
- name: sidecarAddOps
  expression: >-
    size(variables.current) > 0 ? [] :
      variables.sidecarInInit && !has(object.spec.initContainers) ?
        [{{ include "sidekiq-probe.policy.add" (dict "path" "'/spec/initContainers'" "value" "[{'name': 'sidekiq-probe'}]") }}] :
        [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.sidecarInInit ? '/spec/initContainers/-' : '/spec/containers/-'" "value" "{'name': 'sidekiq-probe'}") }}]
- name: sidecarSetOps
  expression: >-
    [
      {{ include "sidekiq-probe.policy.add" (dict "path" "variables.sidecarPath + '/image'" "value" (include "sidekiq-probe.sidecarImage" . | squote)) }},
      {{ include "sidekiq-probe.policy.add" (dict "path" "variables.sidecarPath + '/command'" "value" "['/sidekiq-probe']") }},
      {{ include "sidekiq-probe.policy.add" (dict "path" "variables.sidecarPath + '/ports'" "value" "[variables.ourPort]") }}
    ]
- name: sidecarFillOps
  expression: >-
    (!variables.needsResources ? [] :
      [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.sidecarPath + '/resources'" "value" "{'requests': {'cpu': '10m', 'memory': '16Mi'}, 'limits': {'memory': '32Mi'}}") }}]) +
    (variables.current.exists(c, has(c.securityContext)) ? [] :
      [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.sidecarPath + '/securityContext'" "value" "variables.securityContext") }}]) +
    (variables.sidecarInInit ? [{{ include "sidekiq-probe.policy.add" (dict "path" "variables.sidecarPath + '/restartPolicy'" "value" "'Always'") }}] : [])
- name: grace
  expression: "variables.maxJobSeconds + variables.shutdownTimeoutSeconds + 15"
# In the order apply makes its changes: before the sidecar's own objects...
- name: opsBefore
  expression: >-
    [{{ include "sidekiq-probe.policy.add" (dict "path" "'/spec/shareProcessNamespace'" "value" "true") }}] +
    variables.probeOps + variables.sidecarAddOps + variables.sidecarSetOps
# ... and after.
- name: opsAfter
  expression: >-
    variables.sidecarFillOps +
    (has(object.spec.terminationGracePeriodSeconds) && object.spec.terminationGracePeriodSeconds >= variables.grace ? [] :
      [{{ include "sidekiq-probe.policy.add" (dict "path" "'/spec/terminationGracePeriodSeconds'" "value" "variables.grace") }}]) +
    [{{ include "sidekiq-probe.policy.add" (dict "path" "'/metadata/annotations/sidekiq-probe.io~1status'" "value" "'injected'") }}]
{{- end -}}

{{/* The match conditions of the webhook and of the policies: only pods that
carry the inject annotation (any value). */}}
{{- define "sidekiq-probe.matchConditions" -}}
- name: has-inject-annotation
  expression: >-
    has(object.metadata.annotations) &&
    'sidekiq-probe.io/inject' in object.metadata.annotations
{{- end -}}
