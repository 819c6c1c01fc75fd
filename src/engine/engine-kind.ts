/**
 * Which engine answers the Engine API: Docker itself, or another implementation of it (Podman's
 * compat API). Asked once per engine (GET /version) and remembered; a failed question is asked
 * again next time. Only behaviour known to be right on Docker is keyed to 'docker': anything that
 * does not call itself Docker's "Engine" gets the handling that is safe on every engine.
 */
export type EngineKind = 'docker' | 'other';

interface VersionAnswer {
  readonly Components?: readonly { readonly Name?: unknown }[];
}

/** Docker names its daemon component "Engine"; Podman says "Podman Engine". */
export function engineKindOf(version: unknown): EngineKind {
  const components = (version as VersionAnswer | null)?.Components ?? [];
  const names = components.map((component) => component.Name);
  return names.includes('Engine') && !names.some((name) => typeof name === 'string' && /podman/i.test(name)) ? 'docker' : 'other';
}

/** Remembers the answer of `ask` once it succeeds. */
export function rememberEngineKind(ask: () => Promise<unknown>): () => Promise<EngineKind> {
  let known: Promise<EngineKind> | undefined;
  return () => {
    known ??= ask().then(engineKindOf, (error: unknown) => {
      known = undefined;
      throw error;
    });
    return known;
  };
}
