/**
 * deploy/kubernetes as `kubectl apply -k` would build it: the base and the example overlay render,
 * every object validates against the Kubernetes schemas and KEDA's CRD schemas, and the numbers that
 * must agree across objects (and with the code) do. No cluster runs here: this is what can be checked
 * without one (docs/kubernetes.md).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_POOL_MAX } from "../src/cli/commands/dashboard.js";
import { CLI_POOL } from "../src/cli/cli-pool.js";
import { KILL_GRACE_MS } from "../src/worker/run-command.js";
import { workerConnections } from "../src/worker/spawn-workers.js";
import { BASE_DIR, DEPLOY_DIR, HAVE_KUBECTL, OVERLAY_DIR, expandedCommand, find, flagValue, readManifest, render, schemaError, type K8sObject } from "./helpers/kubernetes.js";

if (!HAVE_KUBECTL) console.warn("deploy/kubernetes tests skipped: kubectl is not on PATH (it renders the kustomizations)");

/** PostgreSQL's default max_connections, less its default superuser_reserved_connections. */
const DEFAULT_USABLE_CONNECTIONS = 100 - 3;

describe.skipIf(!HAVE_KUBECTL)("deploy/kubernetes (kubectl kustomize)", () => {
  const builds: Record<string, K8sObject[]> = {};
  beforeAll(async () => {
    builds.base = await render(DEPLOY_DIR);
    builds.overlay = await render(OVERLAY_DIR);
  });
  const each = (check: (objects: K8sObject[], build: string) => void) => () => {
    for (const [build, objects] of Object.entries(builds)) check(objects, build);
  };
  const worker = (objects: K8sObject[]) => find(objects, "Deployment", "queuectl-worker");
  const workerContainer = (objects: K8sObject[]) => worker(objects).spec.template.spec.containers.find((c: { name: string }) => c.name === "worker");

  it("the base (deploy/kubernetes) and the example overlay render, with every object the docs name", () => {
    for (const objects of Object.values(builds)) {
      expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
        "Deployment/queuectl-dashboard",
        "Deployment/queuectl-worker",
        "Job/queuectl-migrate",
        "PodDisruptionBudget/queuectl-worker",
        "ScaledObject/queuectl-worker",
        "Service/queuectl-dashboard",
        "TriggerAuthentication/queuectl-postgresql",
      ]);
    }
    expect(builds.overlay!.every((o) => o.metadata.namespace === "queuectl")).toBe(true);
  });

  it("every rendered object, and the Secret example, validates against its schema (Kubernetes; KEDA's ScaledObject and TriggerAuthentication)", () => {
    const secret = readManifest(join(DEPLOY_DIR, "secret.example.yaml"));
    const all = [...builds.base!, ...builds.overlay!, ...secret];
    expect(all.map((o) => [`${o.kind}/${o.metadata.name}`, schemaError(o)]).filter(([, err]) => err !== null)).toEqual([]);
    // The validator is not a rubber stamp: a wrong type is refused.
    const broken = structuredClone(find(builds.base!, "ScaledObject", "queuectl-worker"));
    broken.spec.maxReplicaCount = "4";
    expect(schemaError(broken)).toMatch(/maxReplicaCount must be integer/);
  });

  it(
    "a worker pod stops within its grace period: terminationGracePeriodSeconds exceeds --stop-timeout plus the commands' kill grace",
    each((objects, build) => {
      const command = expandedCommand(workerContainer(objects));
      expect(command.slice(0, 4), build).toEqual(["queuectl", "worker", "start", "--foreground"]);
      const stopTimeoutS = Number(flagValue(command, "--stop-timeout"));
      expect(stopTimeoutS, build).toBeGreaterThan(0);
      // After the stop timeout: SIGTERM to the commands, SIGKILL after KILL_GRACE_MS, then their jobs are given back.
      expect(worker(objects).spec.template.spec.terminationGracePeriodSeconds, build).toBeGreaterThan(stopTimeoutS + KILL_GRACE_MS / 1000 + 5);
    }),
  );

  it(
    "the probes ask the worker's --health-port: startup and liveness /healthz, readiness /readyz",
    each((objects, build) => {
      const c = workerContainer(objects);
      const port = Number(flagValue(expandedCommand(c), "--health-port"));
      const named = c.ports.find((p: { name: string }) => p.name === "health");
      expect(named?.containerPort, build).toBe(port);
      expect(c.startupProbe.httpGet, build).toEqual({ path: "/healthz", port: "health" });
      expect(c.livenessProbe.httpGet, build).toEqual({ path: "/healthz", port: "health" });
      expect(c.readinessProbe.httpGet, build).toEqual({ path: "/readyz", port: "health" });
      for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) expect(c[probe].timeoutSeconds, `${build} ${probe}`).toBeGreaterThanOrEqual(1);
      expect(c.resources.requests && c.resources.limits, build).toBeTruthy();
    }),
  );

  it(
    "KEDA scales the worker Deployment at one worker per --concurrency jobs; the PDB and the Service select the pods they mean",
    each((objects, build) => {
      const so = find(objects, "ScaledObject", "queuectl-worker");
      expect(so.spec.scaleTargetRef.name, build).toBe(worker(objects).metadata.name);
      const trigger = so.spec.triggers[0];
      expect(trigger.type).toBe("postgresql");
      expect(Number(trigger.metadata.targetQueryValue), build).toBe(Number(flagValue(expandedCommand(workerContainer(objects)), "--concurrency")));
      expect(find(objects, "TriggerAuthentication", trigger.authenticationRef.name).spec.secretTargetRef).toEqual([
        { parameter: "connection", name: "queuectl", key: "WORKER_DATABASE_URL" },
      ]);
      expect(so.spec.minReplicaCount, build).toBeLessThanOrEqual(so.spec.maxReplicaCount);
      // The HPA owns the count: a replicas field would reset it on every apply.
      expect(worker(objects).spec.replicas, build).toBeUndefined();
      const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
      const pdb = find(objects, "PodDisruptionBudget", "queuectl-worker");
      expect(selects(pdb.spec.selector.matchLabels, worker(objects).spec.template.metadata.labels), build).toBe(true);
      const dashboard = find(objects, "Deployment", "queuectl-dashboard");
      expect(selects(pdb.spec.selector.matchLabels, dashboard.spec.template.metadata.labels), build).toBe(false);
      const service = find(objects, "Service", "queuectl-dashboard");
      expect(selects(service.spec.selector, dashboard.spec.template.metadata.labels), build).toBe(true);
      const dashboardPorts = dashboard.spec.template.spec.containers[0].ports.map((p: { name: string }) => p.name);
      expect(dashboardPorts, build).toContain(service.spec.ports[0].targetPort);
    }),
  );

  it("every Secret key the objects read is in secret.example.yaml, and nothing there goes unused", () => {
    const [secret] = readManifest(join(DEPLOY_DIR, "secret.example.yaml"));
    for (const [build, objects] of Object.entries(builds)) {
      const refs: Array<{ name: string; key: string }> = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) return v.forEach(walk);
        if (!v || typeof v !== "object") return;
        const o = v as { secretKeyRef?: { name: string; key: string }; secretTargetRef?: Array<{ name: string; key: string }> };
        if (o.secretKeyRef) refs.push(o.secretKeyRef);
        if (o.secretTargetRef) refs.push(...o.secretTargetRef);
        Object.values(o).forEach(walk);
      };
      walk(objects);
      expect(new Set(refs.map((r) => r.name)), build).toEqual(new Set([secret!.metadata.name]));
      expect([...new Set(refs.map((r) => r.key))].sort(), build).toEqual(Object.keys(secret!.stringData as Record<string, string>).sort());
    }
  });

  it("the base runs the image docker-compose.yml builds; the overlay pulls it from a registry", () => {
    const compose = parse(readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8")) as { "x-queuectl": { image: string } };
    const composeImage = compose["x-queuectl"].image.replace(/^\$\{QUEUECTL_IMAGE:-(.*)\}$/, "$1");
    expect(composeImage).toBe("queuectl:local");
    const images = (objects: K8sObject[]) =>
      new Set(objects.flatMap((o) => { const pod = o.spec?.template?.spec; return pod ? [...(pod.initContainers ?? []), ...pod.containers].map((c: { image: string }) => c.image) : []; }));
    expect([...images(builds.base!)]).toEqual([composeImage]);
    expect([...images(builds.overlay!)]).toEqual(["registry.example.com/queuectl:0.1.0"]);
  });

  describe("an overlay with a namePrefix", () => {
    const dir = mkdtempSync(join(tmpdir(), "queuectl-kustomize-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it("renames KEDA's references along with the objects they name", async () => {
      writeFileSync(join(dir, "kustomization.yaml"), `resources:\n  - ${relative(dir, BASE_DIR)}\nnamePrefix: acme-\n`);
      const objects = await render(dir);
      const so = find(objects, "ScaledObject", "acme-queuectl-worker");
      expect(so.spec.scaleTargetRef.name).toBe("acme-queuectl-worker");
      expect(find(objects, "Deployment", "acme-queuectl-worker")).toBeTruthy();
      expect(so.spec.triggers[0].authenticationRef.name).toBe("acme-queuectl-postgresql");
      expect(find(objects, "TriggerAuthentication", "acme-queuectl-postgresql")).toBeTruthy();
    });
  });

  it("the base's connections fit PostgreSQL's default max_connections, even while a rollout drains every old worker", () => {
    const objects = builds.base!;
    const perWorker = workerConnections(Number(flagValue(expandedCommand(workerContainer(objects)), "--concurrency")));
    const maxWorkers = find(objects, "ScaledObject", "queuectl-worker").spec.maxReplicaCount as number;
    const dashboards = find(objects, "Deployment", "queuectl-dashboard").spec.replicas as number;
    // KEDA's scaler: its pgx pool runs one query at a time, so one connection; one more for slack.
    const keda = 2;
    const steady = maxWorkers * perWorker + dashboards * DASHBOARD_POOL_MAX + CLI_POOL.max + keda;
    const rollout = steady + maxWorkers * perWorker + dashboards * DASHBOARD_POOL_MAX;
    console.log(`connections at most: ${steady} steady, ${rollout} during a rollout (${maxWorkers} workers x ${perWorker})`);
    expect(rollout).toBeLessThanOrEqual(DEFAULT_USABLE_CONNECTIONS);
  });
});
