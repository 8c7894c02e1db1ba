import { sql } from 'kysely';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import type { Store } from '../store/connect.ts';

/** `/healthz`: the process answers (liveness, no I/O). `/readyz`: the store answers too. */
export const healthRoutes: FastifyPluginAsync<{ store: Store }> = async (app, { store }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        operationId: 'getLiveness',
        response: { 200: z.object({ status: z.literal('ok') }) },
        errors: [],
      },
    },
    async () => ({ status: 'ok' as const }),
  );
  r.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: the process and its store answer',
        operationId: 'getReadiness',
        response: { 200: z.object({ status: z.literal('ok'), store: z.string() }) },
        errors: ['service_unavailable'],
      },
    },
    async () => {
      try {
        await sql`select 1`.execute(store.db);
      } catch {
        throw new RekeyError('service_unavailable');
      }
      return { status: 'ok' as const, store: store.dialect };
    },
  );
};
