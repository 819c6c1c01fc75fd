/**
 * This deployment's identity, created by the first run of migration 0004 and kept in its
 * database: every process sharing the database shares it, and no other deployment has it.
 */
import type { Queryable } from './db.ts';

export async function readDeploymentId(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ id: string }>('select id from berth.deployment');
  if (rows[0] === undefined) throw new Error('berth.deployment has no row: the database was not migrated by Berth');
  return rows[0].id;
}

/**
 * The berth.managed-by label value of this deployment's containers: BERTH_INSTANCE when set (say,
 * to keep a name across a database rebuild), else derived from the database's deployment id, so
 * deployments on other databases sharing one engine never sweep each other's containers.
 */
export async function instanceLabel(db: Queryable, configured: string | undefined): Promise<string> {
  return configured ?? `berth-${(await readDeploymentId(db)).replaceAll('-', '').slice(0, 16)}`;
}
