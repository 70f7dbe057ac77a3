#!/usr/bin/env bash
# Kubernetes manifests: `kubectl kustomize` of both overlays (offline), then every rendered object
# validated against its schema (npm kubernetes-models, @kubernetes-models/prometheus-operator) and
# checked for the fields Forge relies on (lib/validate-k8s.js); the Secret template and the
# ExternalSecret example checked (lib/validate-examples.js); broken copies must fail.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

# The pinned kubectl that install-deps.sh extracted and hash-checked (never a PATH lookup, so the
# result does not depend on what a machine happens to have).
kubectl() { "$DEPLOY_TESTS_DIR/kubectl/bin/kubectl" "$@"; }
if [ ! -x "$DEPLOY_TESTS_DIR/kubectl/bin/kubectl" ]; then
    fail "pinned kubectl missing: run tests/deploy/install-deps.sh (or scripts/install-deps.sh --test)"
    finish
    exit 1
fi
need_cmd node || { finish; exit 1; }
need_node_modules || { finish; exit 1; }

kver="$(kubectl version --client -o json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).kustomizeVersion||"")}catch(e){console.log("")}})')"
if [[ ! "$kver" =~ ^v([0-9]+) ]] || [ "${BASH_REMATCH[1]}" -lt 4 ]; then
    fail "kubectl's built-in kustomize is '${kver:-absent}'; these overlays need kustomize v4+ (kubectl >= 1.21)"
    finish
    exit 1
fi
pass "kubectl with kustomize $kver"

tmp="$(make_tmp)"
V="$DEPLOY_TESTS_DIR/lib/validate-k8s.js"

# render_and_validate SRC OVERLAY NAMESPACE ENVIRONMENT [--no-strict] — the whole check for one
# overlay of a tree
render_and_validate() {
    local src="$1" overlay="$2" ns="$3" env="$4" out
    shift 4
    out="$(mktemp "$tmp/render.XXXXXX")"
    kubectl kustomize "$src/deploy/k8s/overlays/$overlay" >"$out" || return 1
    node "$V" "$out" --namespace "$ns" --environment "$env" --src "$src" "$@"
}

check "staging overlay renders and validates (namespace forge-staging)" \
    render_and_validate "$FORGE_SRC" staging forge-staging staging
check "production overlay renders and validates (namespace forge)" \
    render_and_validate "$FORGE_SRC" production forge production
check "Secret template and ExternalSecret example" \
    node "$DEPLOY_TESTS_DIR/lib/validate-examples.js" \
    "$FORGE_SRC/deploy/k8s/examples/secret.template.yaml" "$FORGE_SRC/deploy/k8s/examples/externalsecret.yaml"

# The base must stay out of a namespace clash: both overlays render distinct namespaces.
st="$(kubectl kustomize "$FORGE_SRC/deploy/k8s/overlays/staging" | grep -c '^  namespace: forge-staging$' || true)"
pr="$(kubectl kustomize "$FORGE_SRC/deploy/k8s/overlays/production" | grep -c '^  namespace: forge$' || true)"
if [ "$st" -gt 10 ] && [ "$pr" -gt 10 ] && [ "$st" -eq "$pr" ]; then
    pass "overlays place the same $st namespaced objects in forge-staging and forge"
else
    fail "namespaced objects: staging $st, production $pr"
fi

# ---- negative: broken copies of the manifests must fail -----------------------------------------
# mutate NAME FILE SED-EXPR… — a copy of deploy/ (docs/ and src/ linked) with one file edited
mutate() {
    local name="$1" file="$2" d
    shift 2
    d="$tmp/$name"
    mkdir -p "$d"
    cp -r "$FORGE_SRC/deploy" "$d/deploy"
    ln -s "$FORGE_SRC/docs" "$d/docs"
    ln -s "$FORGE_SRC/src" "$d/src"
    local e
    for e in "$@"; do sed -i -e "$e" "$d/$file"; done
    if cmp -s "$FORGE_SRC/$file" "$d/$file"; then
        echo "mutation of $file changed nothing" >&2
        return 1
    fi
    printf '%s\n' "$d"
}

neg() { # neg DESCRIPTION EXPECTED-REGEX NAME FILE SED-EXPR…
    local desc="$1" re="$2" name="$3" file="$4" d
    shift 4
    if ! d="$(mutate "$name" "$file" "$@")"; then
        fail "$desc (test setup: the sed expression did not apply)"
        return
    fi
    # the costly unknown-field pass only where the broken copy targets it
    local strict=--no-strict
    [[ "$re" == *"unknown field"* ]] && strict=""
    check_fails_matching "$desc" "$re" render_and_validate "$d" production forge production $strict
}

neg "string replicas fail the schema" '/spec/replicas must be integer' \
    replicas deploy/k8s/base/deployment.yaml \
    's/^  replicas: 3$/  replicas: "3"/'
neg "readiness probe on the wrong path is caught" 'readinessProbe path is /healthz' \
    probe deploy/k8s/base/deployment.yaml \
    's#path: /health/ready#path: /healthz#'
neg "misspelt readinessProbe (schemas ignore unknown fields) is caught" 'no readinessProbe' \
    probekey deploy/k8s/base/deployment.yaml \
    's/readinessProbe:/readinesProbe:/'
neg "misspelt field anywhere (revisionHistoryLimt) is caught" 'spec.revisionHistoryLimt: unknown field' \
    fieldtypo deploy/k8s/base/deployment.yaml \
    's/revisionHistoryLimit: 5/revisionHistoryLimt: 5/'
neg "misspelt field in a ServiceMonitor endpoint is caught" 'endpoints\[0\].scrapeTimout: unknown field' \
    smtypo deploy/k8s/base/servicemonitor.yaml \
    's/scrapeTimeout: 10s/scrapeTimout: 10s/'
neg "Service port not named http is caught" 'Service/forge-api: no port named http' \
    svcport deploy/k8s/base/service.yaml \
    's/- name: http$/- name: web/'
neg "container allowed to escalate privileges is caught" 'allowPrivilegeEscalation is not false' \
    privesc deploy/k8s/base/deployment.yaml \
    's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/'
neg "writable root filesystem is caught" 'readOnlyRootFilesystem is not true' \
    rootfs deploy/k8s/base/deployment.yaml \
    's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/'
neg "bad enum (imagePullPolicy) fails the schema" 'imagePullPolicy must be equal to one of the allowed values' \
    enum deploy/k8s/base/deployment.yaml \
    's/imagePullPolicy: IfNotPresent/imagePullPolicy: Sometimes/'
neg "Deployment selector not matching its pods is caught" 'selector does not match the pod template labels' \
    selector deploy/k8s/base/deployment.yaml \
    '0,/app.kubernetes.io\/component: api/! {0,/      app.kubernetes.io\/component: api/ s/component: api/component: web/}'
neg "misspelt ingress-nginx annotation is caught" 'limit-rsp is not an ingress-nginx annotation' \
    annotation deploy/k8s/base/ingress.yaml \
    's#nginx.ingress.kubernetes.io/limit-rps:#nginx.ingress.kubernetes.io/limit-rsp:#'
neg "HPA on autoscaling/v1 fields fails" 'averageUtilization must be integer' \
    hpa deploy/k8s/base/hpa.yaml \
    's/averageUtilization: 70/averageUtilization: "70"/'
neg "PrometheusRule 'for: 5 minutes' fails the schema" '/for must match pattern' \
    promrule deploy/monitoring/prometheusrule.yaml \
    '0,/for: 5m/ s/for: 5m/for: 5 minutes/'
neg "alerts.yaml changed without regenerating the PrometheusRule is caught" 'spec.groups differ from deploy/monitoring/alerts.yaml' \
    drift deploy/monitoring/alerts.yaml \
    's/forge:sli_error_ratio:rate5m > 0.05/forge:sli_error_ratio:rate5m > 0.5/'
neg "NetworkPolicy open to every namespace is caught" 'ingress from .*expected ingress-nginx and monitoring' \
    netpol deploy/k8s/base/networkpolicy.yaml \
    's/kubernetes.io\/metadata.name: monitoring/kubernetes.io\/metadata.name: default/'
neg "ConfigMap key forge does not read (typo) is caught" 'SHUTDOWN_TIMEOUT is not a configuration variable' \
    cfgkey deploy/k8s/base/configmap.yaml \
    's/^  SHUTDOWN_TIMEOUT_S:/  SHUTDOWN_TIMEOUT:/'
neg "drain longer than the grace period is caught" 'does not fit in terminationGracePeriodSeconds' \
    grace deploy/k8s/base/configmap.yaml \
    's/^  SHUTDOWN_TIMEOUT_S: "20"/  SHUTDOWN_TIMEOUT_S: "28"/'
neg "kustomization naming a missing file fails to render" 'pdb-missing.yaml' \
    missing deploy/k8s/base/kustomization.yaml \
    's/  - pdb.yaml/  - pdb-missing.yaml/'
neg "backup CronJob without a PVC is caught" 'PVC forge-backupz is not in the render' \
    backup deploy/k8s/base/backup-cronjob.yaml \
    's/claimName: forge-backups/claimName: forge-backupz/'

# ExternalSecret field check has teeth too
es_bad="$tmp/es-bad.yaml"
sed 's/name: forge-secrets$/name: forge-secret/; s/refreshInterval: 1h/refreshInterval: hourly/' \
    "$FORGE_SRC/deploy/k8s/examples/externalsecret.yaml" >"$es_bad"
check_fails_matching "ExternalSecret with a wrong target and interval is caught" 'target.name is not forge-secrets' \
    node "$DEPLOY_TESTS_DIR/lib/validate-examples.js" "$FORGE_SRC/deploy/k8s/examples/secret.template.yaml" "$es_bad"

finish
