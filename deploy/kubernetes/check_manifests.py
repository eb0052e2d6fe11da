#!/usr/bin/env python3
"""Checks of the rendered manifests that the Kubernetes schemas cannot make (run by
deploy/check.sh, with the venv's Python, which has PyYAML and jsonschema):

  - KEDA's ScaledObjects and TriggerAuthentication (CRDs, absent from the core schemas): their
    shape against a small schema of the fields we use (unknown fields refused, so a typo fails),
    and that they point at things that exist: one ScaledObject per work queue of queues.toml,
    naming that queue and its worker's Deployment;
  - one Deployment per worker kind running `sportello run <kind>`, the Jobs' commands, the API's
    probes;
  - every pod: non-root, seccomp RuntimeDefault, read-only root, no privilege escalation, every
    capability dropped, requests and limits; no Secret object rendered and no secret-looking
    variable given a literal value.

Usage: check_manifests.py QUEUES_TOML CORE_OUT SETUP.yaml FLEET.yaml — writes the core objects
(everything but keda.sh) to CORE_OUT for kubernetes-validate; prints every problem, exits 1 if any.
"""

import re
import sys
import tomllib

import jsonschema
import yaml

problems: list[str] = []


def problem(where: str, what: str) -> None:
    problems.append(f"{where}: {what}")


def closed(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties, "required": required or [],
            "additionalProperties": False}


STR = {"type": "string", "minLength": 1}
INT = {"type": "integer", "minimum": 0}
METADATA = {"type": "object", "required": ["name"], "properties": {"name": STR}}

# What KEDA 2.x accepts in the parts we use (keda.sh/v1alpha1; see its CRDs).
SCALED_OBJECT = closed({
    "apiVersion": {"const": "keda.sh/v1alpha1"},
    "kind": {"const": "ScaledObject"},
    "metadata": METADATA,
    "spec": closed({
        "scaleTargetRef": closed({"name": STR, "kind": {"const": "Deployment"},
                                  "apiVersion": {"const": "apps/v1"}}, ["name"]),
        "minReplicaCount": INT,
        "maxReplicaCount": {"type": "integer", "minimum": 1},
        "pollingInterval": {"type": "integer", "minimum": 1},
        "cooldownPeriod": INT,
        "advanced": closed({"horizontalPodAutoscalerConfig": closed({
            "behavior": {"type": "object"}})}),
        "triggers": {"type": "array", "minItems": 1, "items": closed({
            "type": {"const": "rabbitmq"},
            "metadata": closed({
                "protocol": {"enum": ["amqp", "http", "auto"]},
                "mode": {"enum": ["QueueLength", "MessageRate"]},
                # KEDA wants strings in trigger metadata, numbers included.
                "value": {"type": "string", "pattern": r"^[1-9][0-9]*(\.[0-9]+)?$"},
                "queueName": STR,
                "vhostName": STR,
            }, ["protocol", "mode", "value", "queueName"]),
            "authenticationRef": closed({"name": STR}, ["name"]),
        }, ["type", "metadata", "authenticationRef"])},
    }, ["scaleTargetRef", "minReplicaCount", "maxReplicaCount", "triggers"]),
}, ["apiVersion", "kind", "metadata", "spec"])

TRIGGER_AUTHENTICATION = closed({
    "apiVersion": {"const": "keda.sh/v1alpha1"},
    "kind": {"const": "TriggerAuthentication"},
    "metadata": METADATA,
    "spec": closed({"secretTargetRef": {"type": "array", "minItems": 1, "items": closed(
        {"parameter": STR, "name": STR, "key": STR}, ["parameter", "name", "key"])}},
        ["secretTargetRef"]),
}, ["apiVersion", "kind", "metadata", "spec"])

# Variables that carry secrets must come from a Secret (valueFrom), never as a literal.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|DATABASE__URL|OWNER_URL|TOKEN", re.I)


def pod_checks(where: str, pod: dict) -> None:
    sc = pod.get("securityContext", {})
    if sc.get("runAsNonRoot") is not True:
        problem(where, "pod securityContext.runAsNonRoot is not true")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem(where, "pod seccompProfile is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        problem(where, "automountServiceAccountToken is not false")
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        cw = f"{where} container {c.get('name')}"
        csc = c.get("securityContext", {})
        if csc.get("allowPrivilegeEscalation") is not False:
            problem(cw, "allowPrivilegeEscalation is not false")
        if csc.get("readOnlyRootFilesystem") is not True:
            problem(cw, "readOnlyRootFilesystem is not true")
        if "ALL" not in csc.get("capabilities", {}).get("drop", []):
            problem(cw, "capabilities.drop lacks ALL")
        if csc.get("capabilities", {}).get("add"):
            problem(cw, "adds capabilities")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(kind, {}):
                    problem(cw, f"no resources.{kind}.{r}")
        for env in c.get("env", []):
            if SECRET_NAME.search(env["name"]) and "value" in env:
                problem(cw, f"{env['name']} has a literal value: reference a Secret")


def main() -> int:
    queues_toml, core_out, *rendered = sys.argv[1:]
    topology = tomllib.load(open(queues_toml, "rb"))
    work_queues = {kind: spec["queue"] for kind, spec in topology["workers"].items()}

    docs = []
    for path in rendered:
        with open(path) as f:
            docs += [(path, d) for d in yaml.safe_load_all(f) if d]
    by_kind: dict[str, dict[str, dict]] = {}
    for path, d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d

    with open(core_out, "w") as f:
        yaml.safe_dump_all([d for _, d in docs if not d["apiVersion"].startswith("keda.sh/")], f)

    if "Secret" in by_kind:
        problem("render", f"Secret objects in the repository's manifests: {sorted(by_kind['Secret'])}"
                " (secrets are created by the operations team, referenced here)")

    deployments = by_kind.get("Deployment", {})
    for name, d in deployments.items():
        pod_checks(f"Deployment {name}", d["spec"]["template"]["spec"])
    for name, j in by_kind.get("Job", {}).items():
        pod_checks(f"Job {name}", j["spec"]["template"]["spec"])

    # One Deployment per worker kind, running that kind alone.
    for kind in work_queues:
        name = f"sportello-worker-{kind}"
        d = deployments.get(name)
        if d is None:
            problem("fleet", f"no Deployment {name} for the worker kind {kind} of queues.toml")
            continue
        args = d["spec"]["template"]["spec"]["containers"][0].get("args")
        if args != ["run", kind]:
            problem(f"Deployment {name}", f"args {args}, expected ['run', '{kind}']")
        if "replicas" in d["spec"]:
            problem(f"Deployment {name}", "sets replicas, which its ScaledObject owns")
    extra = {n for n in deployments if n.startswith("sportello-worker-")} - {
        f"sportello-worker-{k}" for k in work_queues}
    if extra:
        problem("fleet", f"worker Deployments for kinds not in queues.toml: {sorted(extra)}")

    api = deployments.get("sportello-api")
    if api is None:
        problem("fleet", "no Deployment sportello-api")
    else:
        c = api["spec"]["template"]["spec"]["containers"][0]
        if c.get("args") != ["serve"]:
            problem("Deployment sportello-api", f"args {c.get('args')}, expected ['serve']")
        for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
            got = c.get(probe, {}).get("httpGet", {}).get("path")
            if got != path:
                problem("Deployment sportello-api", f"{probe} path {got}, expected {path}")

    commands = {tuple(j["spec"]["template"]["spec"]["containers"][0].get("args", [])[-2:])
                for j in by_kind.get("Job", {}).values()}
    for wanted in (("db", "migrate"), ("broker", "users"), ("topology", "apply")):
        if wanted not in commands:
            problem("setup", f"no Job running `sportello {' '.join(wanted)}`")

    # KEDA.
    auths = by_kind.get("TriggerAuthentication", {})
    for name, a in auths.items():
        try:
            jsonschema.validate(a, TRIGGER_AUTHENTICATION)
        except jsonschema.ValidationError as e:
            problem(f"TriggerAuthentication {name}", f"{'.'.join(map(str, e.absolute_path))}: {e.message}")
    scaled = by_kind.get("ScaledObject", {})
    seen_queues: dict[str, str] = {}
    for name, s in scaled.items():
        try:
            jsonschema.validate(s, SCALED_OBJECT)
        except jsonschema.ValidationError as e:
            problem(f"ScaledObject {name}", f"{'.'.join(map(str, e.absolute_path))}: {e.message}")
            continue
        spec = s["spec"]
        target = spec["scaleTargetRef"]["name"]
        if target not in deployments:
            problem(f"ScaledObject {name}", f"scales {target}, which is no Deployment here")
        if spec["minReplicaCount"] > spec["maxReplicaCount"]:
            problem(f"ScaledObject {name}", "minReplicaCount > maxReplicaCount")
        for t in spec["triggers"]:
            queue = t["metadata"]["queueName"]
            kind = target.removeprefix("sportello-worker-")
            if work_queues.get(kind) != queue:
                problem(f"ScaledObject {name}",
                        f"scales {target} on {queue}, but that kind consumes {work_queues.get(kind)}")
            seen_queues[queue] = name
            if t["authenticationRef"]["name"] not in auths:
                problem(f"ScaledObject {name}",
                        f"authenticationRef {t['authenticationRef']['name']} is not rendered")
    for kind, queue in work_queues.items():
        if queue not in seen_queues:
            problem("fleet", f"no ScaledObject on the work queue {queue} ({kind})")

    for p in problems:
        print(f"deploy/kubernetes: {p}", file=sys.stderr)
    print(f"checked {len(docs)} objects: {len(deployments)} Deployments, {len(by_kind.get('Job', {}))} "
          f"Jobs, {len(scaled)} ScaledObjects, {len(auths)} TriggerAuthentications")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
