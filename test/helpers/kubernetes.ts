/**
 * deploy/kubernetes for tests: rendered by `kubectl kustomize` (as `kubectl apply -k` would build it)
 * when kubectl is installed, the objects validated against the Kubernetes and KEDA schemas that the
 * kubernetes-models packages carry, and the pieces other tests run (KEDA's query, the migrate Job's
 * script) read out of the manifests themselves, so docs, manifests and tests cannot drift apart.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { parseAllDocuments } from "yaml";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";

export const DEPLOY_DIR = fileURLToPath(new URL("../../deploy/kubernetes/", import.meta.url));
export const BASE_DIR = join(DEPLOY_DIR, "base");
export const OVERLAY_DIR = join(DEPLOY_DIR, "overlays", "example");

/** Whether `kubectl` runs here (it carries kustomize). */
export const HAVE_KUBECTL = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;

/** A Kubernetes object as YAML gives it; the tests walk it by path. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; [k: string]: any };

function parseObjects(text: string, where: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0]!.message}`);
    const value = doc.toJSON() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

/** `kubectl kustomize <dir>`'s objects. */
export async function render(dir: string): Promise<K8sObject[]> {
  const res = await execa("kubectl", ["kustomize", dir], { reject: false });
  if (res.exitCode !== 0) throw new Error(`kubectl kustomize ${dir} exited ${res.exitCode}: ${res.stderr}`);
  return parseObjects(res.stdout, `kubectl kustomize ${dir}`);
}

/** The objects of one manifest file as written. */
export function readManifest(path: string): K8sObject[] {
  return parseObjects(readFileSync(path, "utf8"), path);
}

/** The base's objects: rendered when kubectl is here, else read from the files (kustomize only adds labels to them). */
export async function baseObjects(): Promise<K8sObject[]> {
  if (HAVE_KUBECTL) return render(DEPLOY_DIR);
  return ["worker-scaledobject.yaml", "migrate-job.yaml"].flatMap((f) => readManifest(join(BASE_DIR, f)));
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found;
}

/** The SQL KEDA's postgresql trigger runs. */
export function kedaQuery(objects: K8sObject[]): string {
  const so = objects.find((o) => o.kind === "ScaledObject")!;
  const trigger = so.spec.triggers.find((t: { type: string }) => t.type === "postgresql");
  return trigger.metadata.query as string;
}

/** The schema classes, by apiVersion and kind; validate() throws naming the first field that breaks it. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/Namespace": Namespace,
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
};

/** Why `o` breaks its schema, or null when it validates. */
export function schemaError(o: K8sObject): string | null {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) return `no schema known for ${o.apiVersion} ${o.kind}`;
  try {
    new Model(o).validate();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A container's command line with Kubernetes' $(VAR) references replaced by its env values. */
export function expandedCommand(container: { command?: string[]; args?: string[]; env?: Array<{ name: string; value?: string }> }): string[] {
  const env = new Map((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  return [...(container.command ?? []), ...(container.args ?? [])].map((arg) => arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env.get(name) ?? m));
}

/** The value after `flag` in a command line. */
export function flagValue(command: string[], flag: string): string | undefined {
  const i = command.indexOf(flag);
  return i < 0 ? undefined : command[i + 1];
}
