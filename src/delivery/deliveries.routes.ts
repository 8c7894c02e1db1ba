import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RekeyError } from '../errors/index.ts';
import { listEnvelope, listQuery } from '../http/pagination.ts';
import { idParam } from '../http/schemas.ts';
import type { DeliveriesService } from './deliveries.service.ts';
import { deliveryObject, toWireDelivery } from './deliveries.wire.ts';

/** `/user_management/deliveries` (secret key): the outbox as an operator sees it. Dead letters are listed and put back in the queue. */
export const deliveryRoutes: FastifyPluginAsync<{ deliveries: DeliveriesService }> = async (app, { deliveries }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const config = { surface: 'management' as const };
  const tags = ['deliveries'];

  r.get(
    '/user_management/deliveries',
    {
      config,
      schema: {
        tags,
        summary: 'List deliveries',
        description: 'Outbox messages and jobs, newest first; `status=dead` lists the dead letters.',
        operationId: 'listDeliveries',
        querystring: listQuery.extend({ status: z.enum(['pending', 'sent', 'dead']).optional(), kind: z.string().min(1).max(100).optional() }),
        response: { 200: listEnvelope(deliveryObject) },
        errors: [],
      },
    },
    async (request) => {
      const page = await deliveries.list(request.query);
      return { object: 'list' as const, data: page.data.map(toWireDelivery), list_metadata: { before: page.before, after: page.after } };
    },
  );

  r.get(
    '/user_management/deliveries/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Get a delivery',
        operationId: 'getDelivery',
        params: idParam('msg'),
        response: { 200: deliveryObject },
        errors: ['delivery_not_found'],
      },
    },
    async (request) => {
      const row = await deliveries.get(request.params.id);
      if (!row) throw new RekeyError('delivery_not_found', { entity_id: request.params.id });
      return toWireDelivery(row);
    },
  );

  r.post(
    '/user_management/deliveries/:id/retry',
    {
      config,
      schema: {
        tags,
        summary: 'Retry a dead delivery',
        description:
          'Puts a dead delivery back in the queue, due now, with a fresh set of attempts. Once what it carried sealed has been ' +
          'wiped (the longest token lifetime after it was written), it cannot be retried: 409 delivery_not_replayable.',
        operationId: 'retryDelivery',
        params: idParam('msg'),
        response: { 200: deliveryObject },
        errors: ['delivery_not_found', 'delivery_not_dead', 'delivery_not_replayable'],
      },
    },
    async (request) => toWireDelivery(await deliveries.retry(request.params.id)),
  );

  r.post(
    '/user_management/deliveries/retry',
    {
      config,
      schema: {
        tags,
        summary: 'Retry every dead delivery',
        description: 'Retries up to 1000 dead deliveries per call; those that cannot be retried are listed with the reason.',
        operationId: 'retryDeadDeliveries',
        body: z.strictObject({ status: z.literal('dead').describe('Which deliveries to retry: only `dead` is accepted.') }),
        response: { 200: z.object({ retried: z.array(z.string()), skipped: z.array(z.object({ id: z.string(), reason: z.string() })) }) },
        errors: [],
      },
    },
    async () => deliveries.retryDead(),
  );
};
